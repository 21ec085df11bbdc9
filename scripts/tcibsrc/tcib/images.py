"""TCIB images as TCIB's renderer sees them: merged YAML, role defaults, CLI variables, expanded.

Variable precedence follows TCIB: the role's defaults, then the image's YAML, then what the CLI
adds to every image (tcib_distro, tcib_release, tcib_package, tcib_meta), then --tcib-extras.
`tcib_from` is the image's own value when set, else the parent's reference (or the base image).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tcibsrc.common.dnf_lines import installed_packages
from tcibsrc.common.errors import TcibError
from tcibsrc.tcib.templating import TemplateProblem, expand_variables
from tcibsrc.tcib.tree import RawImage, discover

# The keys TCIB's container_image_build role declares (defaults/main.yml), with the types it
# expects. Keys outside this table are plain variables that templates may use.
ROLE_DEFAULTS: dict[str, Any] = {
    "tcib_args": {},
    "tcib_labels": {},
    "tcib_envs": {},
    "tcib_onbuilds": [],
    "tcib_volumes": [],
    "tcib_workdir": "",
    "tcib_adds": [],
    "tcib_copies": [],
    "tcib_exposes": [],
    "tcib_user": "",
    "tcib_shell": "",
    "tcib_runs": [],
    "tcib_healthcheck": "",
    "tcib_stopsignal": "",
    "tcib_entrypoint": "",
    "tcib_cmd": "",
    "tcib_actions": [],
    "tcib_gather_files": [],
}
DATA_KEYS: dict[str, tuple[type, ...]] = {
    "tcib_packages": (dict, list),
    "tcib_from": (str,),
}
PIP_GROUP = "pip_packages"
UID_GID_MANAGE = re.compile(r"uid_gid_manage((?:[ \t]+[a-z][a-z0-9_-]*)+)")


@dataclass(frozen=True)
class TcibImage:
    """One image with every value expanded; the input of classification and rendering."""

    name: str
    directory: Path
    files: tuple[Path, ...]
    parent: str | None
    level: int
    children: tuple[str, ...]
    variables: dict[str, Any]
    explicit_from: str | None

    @property
    def actions(self) -> list[tuple[str, Any]]:
        """`tcib_actions` as (verb, value) in order."""
        return [next(iter(item.items())) for item in self.variables["tcib_actions"]]

    @property
    def user(self) -> str:
        """The final USER: `tcib_user`, or root when unset (every Containerfile opens as root)."""
        return self.variables["tcib_user"] or "root"

    @property
    def package_groups(self) -> dict[str, list[str]]:
        """`tcib_packages` as groups; a bare list (nova-base) is the `common` group."""
        packages = self.variables.get("tcib_packages") or {}
        if isinstance(packages, list):
            return {"common": list(packages)}
        return {group: list(names or []) for group, names in packages.items()}

    @property
    def rpms(self) -> list[str]:
        """RPM names this image's own tcib_packages list (every group but pip_packages)."""
        names: list[str] = []
        for group, items in self.package_groups.items():
            if group != PIP_GROUP:
                names.extend(item for item in items if item not in names)
        return names

    @property
    def action_rpms(self) -> list[str]:
        """RPM names this image's own RUN actions install with dnf, outside tcib_packages
        (the base's `dnf install -y crudini`)."""
        names: list[str] = []
        for verb, value in self.actions:
            if verb == "run" and isinstance(value, str):
                names.extend(n for n in installed_packages(value) if n not in names)
        return names

    @property
    def pip_packages(self) -> list[str]:
        return self.package_groups.get(PIP_GROUP, [])

    @property
    def managed_users(self) -> list[str]:
        """Users the image creates with TCIB's uid_gid_manage, in order."""
        users: list[str] = []
        for verb, value in self.actions:
            if verb == "run" and isinstance(value, str):
                for match in UID_GID_MANAGE.finditer(value):
                    users.extend(u for u in match.group(1).split() if u not in users)
        return users


def _check_types(raw: RawImage, expanded: dict[str, Any], display: Callable[[Path], str]) -> None:
    """TCIB's expected types, checked after expansion (a template may produce a list)."""
    for key in raw.data:
        value = expanded[key]
        expected = DATA_KEYS.get(key)
        if expected is None and key in ROLE_DEFAULTS:
            expected = (type(ROLE_DEFAULTS[key]),)
        if expected and not isinstance(value, expected):
            names = " or ".join(t.__name__ for t in expected)
            raise TcibError(
                f"{display(raw.key_origin[key])}: {key}",
                f"is a {type(value).__name__}, TCIB expects a {names}",
            )
    for index, item in enumerate(expanded["tcib_actions"]):
        if not (isinstance(item, dict) and len(item) == 1):
            origin = display(raw.key_origin["tcib_actions"])
            raise TcibError(
                f"{origin}: tcib_actions[{index}]",
                "each action must be a mapping with exactly one verb",
                "write it as `- run: <command>`",
            )
    packages = expanded.get("tcib_packages")
    if isinstance(packages, dict):
        for group, names in packages.items():
            if names is not None and not (
                isinstance(names, list) and all(isinstance(n, str) for n in names)
            ):
                origin = display(raw.key_origin["tcib_packages"])
                raise TcibError(f"{origin}: tcib_packages.{group}", "must be a list of names")


def expand_image(
    raw: RawImage,
    cli_variables: dict[str, str],
    parent_reference: str,
    display: Callable[[Path], str],
) -> TcibImage:
    """Apply TCIB's variable precedence and expand every value of one image."""
    variables: dict[str, Any] = dict(ROLE_DEFAULTS)
    variables.update(raw.data)
    variables.update(cli_variables)
    variables["tcib_meta"] = {"name": raw.name}
    explicit = raw.data.get("tcib_from")
    if explicit is None:
        variables["tcib_from"] = parent_reference
    try:
        expanded = expand_variables(variables)
    except TemplateProblem as problem:
        top_key = re.split(r"[.\[]", problem.key_path, maxsplit=1)[0]
        origin = raw.key_origin.get(top_key)
        where = display(origin) if origin else display(raw.directory)
        raise TcibError(
            f"{where}: {problem.key_path}",
            problem.problem,
            "define the variable (config.yaml tcib_extras) or fix the template",
        ) from problem
    _check_types(raw, expanded, display)
    return TcibImage(
        name=raw.name,
        directory=raw.directory,
        files=tuple(raw.files),
        parent=raw.parent,
        level=raw.level,
        children=tuple(raw.children),
        variables=expanded,
        explicit_from=expanded["tcib_from"] if explicit is not None else None,
    )


def load_images(
    tcib_dir: Path,
    cli_variables: dict[str, str],
    reference_of: Callable[[str], str],
    base_image: str,
    display: Callable[[Path], str] | None = None,
) -> dict[str, TcibImage]:
    """Load and expand every image under `tcib_dir`.

    `reference_of(name)` gives the FROM reference of a built image; the top image's FROM is
    `base_image`. `display` turns paths into what error messages show (default: relative to
    `tcib_dir`).
    """

    def relative(path: Path) -> str:
        return str(path.relative_to(tcib_dir))

    display = display or relative
    raws = discover(tcib_dir, display)
    images: dict[str, TcibImage] = {}
    for name, raw in raws.items():
        parent_reference = base_image if raw.parent is None else reference_of(raw.parent)
        images[name] = expand_image(raw, cli_variables, parent_reference, display)
    return images

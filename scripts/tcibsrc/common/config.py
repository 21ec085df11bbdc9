"""The deployment config: one YAML file, validated by a JSON Schema, read into a typed model.

Unknown keys and wrong types are errors that name the file and the key path, so a typo
never silently falls back to a default.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema

from tcibsrc.common.errors import ConfigError
from tcibsrc.common.yamlio import load_yaml

DEFAULT_CONFIG_FILE = "config.yaml"


@dataclass(frozen=True)
class PackagePolicy:
    """How one PyPI project is obtained and built when the defaults do not fit."""

    name: str
    version: str | None = None
    extra_build_requires: tuple[str, ...] = ()
    build_requires_with: tuple[str, ...] = ()
    reason: str | None = None


# The hermeto image Konflux's own prefetch task ran (konflux-ci/build-definitions 8b397c8f,
# task/prefetch-dependencies-oci-ta), pinned by digest.
HERMETO_IMAGE = (
    "quay.io/konflux-ci/hermeto:0.55.0"
    "@sha256:27936b01262824104cce87d433ffcb622bf906bc833033b6b05c62257f3c3232"
)


@dataclass(frozen=True)
class RpmRepository:
    """One dnf repository of rpms.repo; always gpg-checked."""

    id: str  # the section id of rpms.repo, after rpm.repository_id; may hold $basearch
    name: str
    baseurl: str
    gpgkey: str
    enabled: bool = True

    def id_for(self, arch: str) -> str:
        """The repoid dnf (and so the lock, hermeto and the SBOM) uses on `arch`."""
        return self.id.replace("$basearch", arch)


@dataclass(frozen=True)
class TenantPolicy:
    """The tenant's Conforma rule data this deployment must satisfy (konflux.policy)."""

    rpm_signing_keys: dict[str, str | None]  # key file name -> long key id (None: not recorded)
    base_image_registries: tuple[str, ...]  # allowed_registry_prefixes


@dataclass(frozen=True)
class Config:
    """Everything specific to this deployment; the rest of the toolkit derives from it."""

    path: Path
    series: str
    release_version: str
    distro: str
    distro_major: str
    base_image: str
    python_version: str
    arches: tuple[str, ...]
    registry_host: str
    registry_namespace: str
    image_name_template: str
    konflux_application: str
    konflux_tenant_namespace: str
    konflux_build_platforms: tuple[str, ...]
    konflux_branch: str
    scope: tuple[str, ...]
    scope_from_containers_yaml: bool
    exclude: tuple[str, ...]
    tcib_extras: dict[str, str]
    upper_constraints_url: str
    upper_constraints_sha256: str
    packages: dict[str, PackagePolicy] = field(default_factory=dict)
    rpm_repositories: tuple[RpmRepository, ...] = ()
    tenant_policy: TenantPolicy | None = None
    git_url: str | None = None  # konflux.git_url: the repository Konflux builds from
    # make prefetch: hermeto's image (run with podman when hermeto is not on PATH) and whether
    # its cargo vendoring of Rust sdists runs (off where crates.io is out of reach)
    hermeto_image: str = HERMETO_IMAGE
    prefetch_rust_crates: bool = True

    def image_repository(self, image: str) -> str:
        """The full repository (no tag or digest) where `image` is pushed."""
        name = self.image_name_template.format(
            image=image,
            distro=self.distro,
            major=self.distro_major,
            series=self.series,
            version=self.release_version,
        )
        return f"{self.registry_host}/{self.registry_namespace}/{name}"

    def component_name(self, image: str) -> str:
        """The Konflux Component (and local tag) of `image`: its repository's last part."""
        return self.image_repository(image).rsplit("/", 1)[-1]

    def tcib_variables(self) -> dict[str, str]:
        """The variables TCIB's CLI adds to every image (its --distro, --release, extras)."""
        variables = {
            "tcib_distro": self.distro,
            "tcib_release": self.distro_major,
            "tcib_python_version": self.python_version,
            # The python-tcib-containers RPM is not used: the helper files come from the
            # tcib submodule, exactly as ci-framework's install-from-source mode blanks it.
            "tcib_package": "",
        }
        variables.update(self.tcib_extras)
        return variables


def _schema() -> dict[str, Any]:
    text = resources.files("tcibsrc").joinpath("schemas/config.schema.json").read_text()
    return json.loads(text)


def _key_path(path: Any) -> str:
    parts: list[str] = []
    for item in path:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            parts.append(f".{item}" if parts else str(item))
    return "".join(parts) or "(top level)"


def _describe(error: jsonschema.ValidationError) -> tuple[str, str]:
    """Turn a jsonschema error into (key path, problem) that a person can act on."""
    path = list(error.absolute_path)
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extra = sorted(set(error.instance) - set(allowed))
        key = _key_path([*path, extra[0]]) if extra else _key_path(path)
        hint = f"allowed keys here: {', '.join(allowed)}" if allowed else ""
        return key, f"unknown key{'; ' + hint if hint else ''}"
    if "propertyNames" in error.schema_path:
        return _key_path(path), f"invalid key {error.instance!r}: {error.message}"
    if error.validator == "required":
        missing = [key for key in error.validator_value if key not in error.instance]
        return _key_path(path), f"missing required key(s): {', '.join(missing)}"
    if (
        error.validator == "type"
        and error.validator_value == "string"
        and isinstance(error.instance, int | float)
        and not isinstance(error.instance, bool)
        and path
    ):
        # YAML reads `major: 10` as a number and `version: 3.10` as 3.1: quote them
        quoted = f'"{error.instance}"'
        example = f"{path[-1]}: {quoted}" if isinstance(path[-1], str) else f"- {quoted}"
        return _key_path(path), (
            f"{error.instance!r} is a number, but a string is expected: "
            f"write it in quotes ({example})"
        )
    return _key_path(path), error.message


def validate_config_data(data: Any, display: str) -> None:
    """Raise ConfigError for the first schema violation, deterministic across runs."""
    validator = jsonschema.Draft202012Validator(_schema())
    # An unknown key usually also makes a required one "missing" (a typo): report it first.
    errors = sorted(
        validator.iter_errors(data),
        key=lambda e: (
            [str(p) for p in e.absolute_path],
            e.validator != "additionalProperties",
            e.message,
        ),
    )
    if errors:
        key, problem = _describe(errors[0])
        raise ConfigError(
            f"{display}: {key}",
            problem,
            "see the comments in the default config.yaml for every key",
        )


IMAGE_NAME_PLACEHOLDERS = ("image", "distro", "major", "series", "version")


REPOSITORY_ID_PLACEHOLDERS = ("id", "distro", "major", "series")


def _check_template(
    template: str, placeholders: tuple[str, ...], display: str, key_path: str
) -> None:
    try:
        template.format(**{key: key for key in placeholders})
    except KeyError as exc:
        raise ConfigError(
            f"{display}: {key_path}",
            f"unknown placeholder {{{exc.args[0]}}}",
            f"use {', '.join('{' + p + '}' for p in placeholders)}",
        ) from exc
    except (ValueError, IndexError) as exc:
        raise ConfigError(
            f"{display}: {key_path}",
            f"not a valid template: {exc}",
            f"write placeholders as {{{placeholders[0]}}}",
        ) from exc


def _check_image_name(template: str, display: str) -> None:
    _check_template(template, IMAGE_NAME_PLACEHOLDERS, display, "registry.image_name")


def _repository_id(data: dict, short: str) -> str:
    """rpm.repository_id applied to a repository's short id (default: the short id)."""
    series = data["release"]["series"]
    template = (data.get("rpm") or {}).get("repository_id", "{id}")
    return template.format(
        id=short.format(series=series),
        distro=data["distro"]["name"],
        major=data["distro"]["major"],
        series=series,
    )


def _tenant_policy(data: dict | None) -> TenantPolicy | None:
    if not data:
        return None
    return TenantPolicy(
        rpm_signing_keys={
            name: (str(key).lower() if key else None)
            for name, key in (data.get("rpm_signing_keys") or {}).items()
        },
        base_image_registries=tuple(data.get("base_image_registries") or ()),
    )


def load_config(path: Path, display: str | None = None) -> Config:
    """Read, validate and model the config file at `path` (named `display` in messages)."""
    display = display or str(path)
    data = load_yaml(path, display=display)
    if data is None:
        raise ConfigError(display, "the config file is empty", "start from the default config.yaml")
    validate_config_data(data, display)
    _check_image_name(data["registry"]["image_name"], display)
    _check_template(
        (data.get("rpm") or {}).get("repository_id", "{id}"),
        REPOSITORY_ID_PLACEHOLDERS,
        display,
        "rpm.repository_id",
    )
    policies = {
        name: PackagePolicy(
            name=name,
            version=policy.get("version"),
            extra_build_requires=tuple(policy.get("extra_build_requires", ())),
            build_requires_with=tuple(policy.get("build_requires_with", ())),
            reason=policy.get("reason"),
        )
        for name, policy in sorted((data.get("packages") or {}).items())
    }
    images = data["images"]
    return Config(
        path=path,
        series=data["release"]["series"],
        release_version=data["release"]["version"],
        distro=data["distro"]["name"],
        distro_major=data["distro"]["major"],
        base_image=data["distro"]["base_image"],
        python_version=data["python"]["version"],
        arches=tuple(data["arches"]),
        registry_host=data["registry"]["host"],
        registry_namespace=data["registry"]["namespace"],
        image_name_template=data["registry"]["image_name"],
        konflux_application=data["konflux"]["application"],
        konflux_tenant_namespace=data["konflux"]["tenant_namespace"],
        konflux_build_platforms=tuple(data["konflux"]["build_platforms"]),
        konflux_branch=data["konflux"].get("branch", "main"),
        scope=tuple(images["scope"]),
        scope_from_containers_yaml=bool(images.get("from_containers_yaml", False)),
        exclude=tuple(images.get("exclude", ())),
        tcib_extras=dict(data.get("tcib_extras") or {}),
        upper_constraints_url=data["upper_constraints"]["url"],
        upper_constraints_sha256=data["upper_constraints"]["sha256"],
        packages=policies,
        hermeto_image=(data.get("prefetch") or {}).get("hermeto_image", HERMETO_IMAGE),
        prefetch_rust_crates=bool((data.get("prefetch") or {}).get("rust_crates", True)),
        tenant_policy=_tenant_policy(data["konflux"].get("policy")),
        git_url=data["konflux"].get("git_url"),
        rpm_repositories=tuple(
            RpmRepository(
                id=_repository_id(data, repo["id"]),
                name=repo["name"].format(series=data["release"]["series"]),
                baseurl=repo["baseurl"].format(series=data["release"]["series"]),
                gpgkey=repo["gpgkey"],
                enabled=repo.get("enabled", True),
            )
            for repo in (data.get("rpm") or {}).get("repositories", [])
        ),
    )

"""The operators' contract as data (data/contract.yaml), typed."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from importlib import resources

import yaml
from packaging.utils import NormalizedName, canonicalize_name


@dataclass(frozen=True)
class Script:
    name: str
    wsgi: str | None  # module:attribute of a WSGI application
    console: str | None  # module:function of a console entry point


@dataclass(frozen=True)
class ProjectContract:
    """What installing one project's wheels must also provide."""

    project: NormalizedName
    scripts: tuple[Script, ...]
    user: str | None
    directories: tuple[str, ...]
    config: tuple[str, ...]
    files: dict[str, str]
    modes: dict[str, str] = field(default_factory=dict)  # target -> "owner:group mode"
    provides: tuple[str, ...] = ()
    generated: dict[str, GeneratedConfig] = field(default_factory=dict)
    system_ca: bool = False  # its CA bundle is replaced by a link to the system bundle


@dataclass(frozen=True)
class GeneratedConfig:
    """A sample config the RPM generated with oslo-config-generator at build."""

    namespaces: tuple[str, ...]
    owner: str
    group: str
    mode: str


@dataclass(frozen=True)
class ImageContract:
    """What one image must contain for its operator."""

    image: str
    users: dict[str, int]
    paths: tuple[str, ...]


@cache
def _data() -> dict:
    text = resources.files("tcibsrc").joinpath("data/contract.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


@cache
def project_contracts() -> dict[NormalizedName, ProjectContract]:
    result = {}
    for name, entry in _data()["projects"].items():
        scripts = tuple(
            Script(script, (spec or {}).get("wsgi"), (spec or {}).get("console"))
            for script, spec in entry.get("scripts", {}).items()
        )
        result[canonicalize_name(name)] = ProjectContract(
            project=canonicalize_name(name),
            scripts=scripts,
            user=entry.get("user"),
            directories=tuple(entry.get("directories", ())),
            config=tuple(entry.get("config", ())),
            files=dict(entry.get("files", {})),
            modes=dict(entry.get("modes", {})),
            provides=tuple(entry.get("provides", ())),
            system_ca=bool(entry.get("system_ca")),
            generated={
                path: GeneratedConfig(
                    tuple(spec["namespaces"]), spec["owner"], spec["group"], spec["mode"]
                )
                for path, spec in entry.get("generated", {}).items()
            },
        )
    return result


@cache
def image_contracts() -> dict[str, ImageContract]:
    return {
        image: ImageContract(image, dict(entry.get("users", {})), tuple(entry.get("paths", ())))
        for image, entry in _data()["images"].items()
    }

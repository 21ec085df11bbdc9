"""The release's upper-constraints: a URL pinned to a commit plus its sha256, cached locally.

A local file (UPPER_CONSTRAINTS=path) overrides the download; its hash must still match the
config unless the config is told otherwise, so a stale copy can never slip in silently.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import requests
from packaging.markers import InvalidMarker, Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import NormalizedName, canonicalize_name

from tcibsrc.common.atomic import write_text_atomic
from tcibsrc.common.cache import cache_dir
from tcibsrc.common.checksum import sha256_text
from tcibsrc.common.errors import ToolkitError
from tcibsrc.common.http import session

if TYPE_CHECKING:
    from tcibsrc.common.config import Config


class UpperConstraintsError(ToolkitError):
    """upper-constraints could not be obtained or does not match its pinned hash."""


@dataclass(frozen=True)
class UpperConstraints:
    """Pins from upper-constraints that apply to the target environment."""

    text: str
    sha256: str
    origin: str
    pins: dict[NormalizedName, str]


def target_environment(python_version: str, arch: str) -> dict[str, str]:
    """PEP 508 marker values of the images' interpreter (CPython on Linux)."""
    return {
        "python_version": python_version,
        "python_full_version": f"{python_version}.0",
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
        "sys_platform": "linux",
        "os_name": "posix",
        "platform_system": "Linux",
        "platform_machine": arch,
    }


def parse_pins(text: str, origin: str, environment: dict[str, str]) -> dict[NormalizedName, str]:
    """name -> version for every `name===version` line whose marker holds on the target."""
    pins: dict[NormalizedName, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        try:
            requirement = Requirement(line.replace("===", "==", 1))
        except (InvalidRequirement, InvalidMarker) as exc:
            raise UpperConstraintsError(
                f"{origin}:{number}", f"not a requirement: {raw!r}", "check the file"
            ) from exc
        if requirement.marker is not None and not Marker(str(requirement.marker)).evaluate(
            environment
        ):
            continue
        specs = list(requirement.specifier)
        if len(specs) != 1 or specs[0].operator != "==":
            raise UpperConstraintsError(
                f"{origin}:{number}",
                f"not an exact pin: {raw!r}",
                "upper-constraints pins every entry with ===",
            )
        pins[canonicalize_name(requirement.name)] = specs[0].version
    return pins


def _download(url: str) -> str:
    try:
        response = session().get(url, timeout=(10, 60))
    except requests.RequestException as exc:
        raise UpperConstraintsError(
            url, f"unreachable ({type(exc).__name__})", "set UPPER_CONSTRAINTS to a local copy"
        ) from exc
    if response.status_code != 200:
        raise UpperConstraintsError(
            url, f"HTTP {response.status_code}", "fix upper_constraints.url in the config"
        )
    return response.text


def local_file_from_environment() -> Path | None:
    """UPPER_CONSTRAINTS=<file>: a local copy that stands in for the download."""
    value = os.environ.get("UPPER_CONSTRAINTS")
    return Path(value) if value else None


def upper_constraints_for(
    config: Config, local_file: Path | None, *, offline: bool = False
) -> UpperConstraints | None:
    """The config's upper-constraints, the one way every command gets it.

    `offline` (make check): from `local_file` or the cache only, None when neither has it.
    """
    cached = cached_path(config.upper_constraints_sha256)
    if offline and local_file is None and not cached.is_file():
        return None
    return load_upper_constraints(
        config.upper_constraints_url,
        config.upper_constraints_sha256,
        config.python_version,
        config.arches[0],
        local_file,
    )


def cached_path(sha256: str) -> Path:
    return cache_dir() / "upper-constraints" / f"{sha256}.txt"


def load_upper_constraints(
    url: str,
    sha256: str,
    python_version: str,
    arch: str,
    local_file: Path | None = None,
) -> UpperConstraints:
    """The pinned upper-constraints: from `local_file`, the cache, or the URL, hash-checked."""
    cached = cached_path(sha256)
    if local_file is not None:
        if not local_file.is_file():
            raise UpperConstraintsError(str(local_file), "file not found", "fix UPPER_CONSTRAINTS")
        text, origin = local_file.read_text(encoding="utf-8"), str(local_file)
    elif cached.is_file():
        text, origin = cached.read_text(encoding="utf-8"), url
    else:
        text, origin = _download(url), url
    actual = sha256_text(text)
    if actual != sha256:
        raise UpperConstraintsError(
            origin,
            f"sha256 {actual} does not match the config's {sha256}",
            "point upper_constraints.url/sha256 in the config at the release you want, "
            "or use the file the config pins",
        )
    if not cached.is_file():
        write_text_atomic(cached, text)
    environment = target_environment(python_version, arch)
    return UpperConstraints(
        text=text, sha256=actual, origin=origin, pins=parse_pins(text, origin, environment)
    )

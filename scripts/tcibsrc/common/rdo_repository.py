"""RDO's Cloud SIG OpenStack repository: for which series it exists, and what only it builds.

data/rdo_repository.yaml records it from rdoinfo's tag files. A repository of the config marked
`rdo: true` with `enabled: auto` is used for the series RDO publishes it for; without it, the
RPMs only it builds are replaced as the data says (a PyPI project built like any other, or a
replacement the toolkit does not automate yet, which `make check` names).
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import PurePosixPath
from typing import Annotated, Literal

from pydantic import Field, field_validator

from tcibsrc.common.datafiles import load_data
from tcibsrc.common.models import StrictModel

RDO_DATA = "rdo_repository.yaml"


_FILE_NAME = r"[A-Za-z0-9][A-Za-z0-9._+-]*"


class Artifact(StrictModel):
    """A release tarball hermeto's generic fetcher prefetches, unpacked where the RPM put its
    files (novnc): hermeto checks the checksum, the image build reads no network."""

    download_url: str = Field(pattern=r"^https://[^\s'\"]+$")
    checksum: str = Field(pattern=r"^(sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})$")
    filename: str = Field(pattern=f"^{_FILE_NAME}$")
    top: str = Field(pattern=f"^{_FILE_NAME}$", description="the tarball's one top directory")
    into: str = Field(pattern=r"^(/[A-Za-z0-9._+-]+)+$", description="where its files go")
    drop: tuple[str, ...] = Field(default=(), description="what the RPM's %install removed")
    copy_files: dict[str, str] = Field(
        default_factory=dict, alias="copy", description="target: source, as the RPM installs"
    )
    checked: str = Field(min_length=1, description="how the checksum was established")

    @field_validator("drop")
    @classmethod
    def _relative(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for path in value:
            _check_relative(path)
        return value

    @field_validator("copy_files")
    @classmethod
    def _relative_pairs(cls, value: dict[str, str]) -> dict[str, str]:
        for target, source in value.items():
            _check_relative(target)
            _check_relative(source)
        return value


def _check_relative(path: str) -> None:
    parts = PurePosixPath(path).parts
    if (
        not parts
        or path.startswith("/")
        or any(part in (".", "..") or not re.fullmatch(r"[A-Za-z0-9._+-]+", part) for part in parts)
    ):
        raise ValueError(f"not a plain relative path inside the tarball: {path!r}")


class RdoOnlyRpm(StrictModel):
    """One RPM only RDO's repository builds, and how the images do without it."""

    built_from: str = Field(min_length=1)
    pypi: str | None = Field(default=None, description="the PyPI project that replaces it")
    install: Literal["sdist", "wheel"] = "sdist"
    requires: tuple[Annotated[str, Field(pattern=f"^{_FILE_NAME}$")], ...] = Field(
        default=(),
        description="what the RPM required that stays an RPM, installed in its place (its "
        "spec's Requires; the Python ones come from PyPI with the replacement)",
    )
    replacement: str | None = Field(
        default=None, description="a replacement the toolkit does not automate yet"
    )
    artifact: Artifact | None = Field(
        default=None, description="its upstream release, through hermeto's generic fetcher"
    )
    reason: str = Field(min_length=1)

    @property
    def chosen(self) -> str:
        """The replacement, in words."""
        if self.pypi:
            return f"PyPI's {self.pypi}"
        if self.artifact:
            return f"{self.artifact.download_url} through hermeto's generic fetcher"
        return self.replacement or "none chosen"


class RdoRepository(StrictModel):
    source: str
    published: tuple[str, ...]
    rpms: dict[str, RdoOnlyRpm]


@cache
def rdo_repository() -> RdoRepository:
    return load_data(RDO_DATA, RdoRepository, "fix the entry (kept by hand)")

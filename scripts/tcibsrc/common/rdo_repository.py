"""RDO's Cloud SIG OpenStack repository: for which series it exists, and what only it builds.

data/rdo_repository.yaml records it from rdoinfo's tag files. A repository of the config marked
`rdo: true` with `enabled: auto` is used for the series RDO publishes it for; without it, the
RPMs only it builds are replaced as the data says (a PyPI project built like any other, or a
replacement the toolkit does not automate yet, which `make check` names).
"""

from __future__ import annotations

from functools import cache
from typing import Literal

from pydantic import Field

from tcibsrc.common.datafiles import load_data
from tcibsrc.common.models import StrictModel

RDO_DATA = "rdo_repository.yaml"


class RdoOnlyRpm(StrictModel):
    """One RPM only RDO's repository builds, and how the images do without it."""

    built_from: str = Field(min_length=1)
    pypi: str | None = Field(default=None, description="the PyPI project that replaces it")
    install: Literal["sdist", "wheel"] = "sdist"
    requires: tuple[str, ...] = Field(
        default=(),
        description="what the RPM required that stays an RPM, installed in its place (its "
        "spec's Requires; the Python ones come from PyPI with the replacement)",
    )
    replacement: str | None = Field(
        default=None, description="a replacement the toolkit does not automate yet"
    )
    reason: str = Field(min_length=1)


class RdoRepository(StrictModel):
    source: str
    published: tuple[str, ...]
    rpms: dict[str, RdoOnlyRpm]


@cache
def rdo_repository() -> RdoRepository:
    return load_data(RDO_DATA, RdoRepository, "fix the entry (kept by hand)")

"""Classify RPM names: kept as RPM, or OpenStack Python code to build from source (PyPI name).

The table lives in data/rpm_classes.yaml. Where it gives no PyPI name, the name is derived
with pymod2pkg, OpenStack's own module-to-distro-package mapping, used in reverse: the candidate
PyPI names of an RPM are tried until pymod2pkg maps one back to that RPM.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import Annotated

import pymod2pkg
from pydantic import Field

from tcibsrc.common.datafiles import load_data, shown
from tcibsrc.common.errors import ClassificationError
from tcibsrc.common.models import StrictModel
from tcibsrc.common.rdo_repository import rdo_repository

TABLE_FILE = "rpm_classes.yaml"
PYTHON_PREFIXES = ("python3-", "openstack-")


class Kind(enum.Enum):
    SYSTEM = "system"  # not Python: stays an RPM
    KEPT = "kept"  # Python-looking, stays an RPM (bindings, the interpreter)
    SOURCE = "source"  # built from sdists into wheels


@dataclass(frozen=True)
class Classification:
    rpm: str
    kind: Kind
    projects: tuple[str, ...] = ()
    reason: str = ""
    derived: bool = False


PypiNames = Annotated[tuple[str, ...], Field(min_length=1)]


class ClassTable(StrictModel):
    """data/rpm_classes.yaml: RPMs kept (with the reason) and RPMs built from source (with
    their PyPI names, or null for pymod2pkg to derive)."""

    keep: dict[str, str] = Field(default_factory=dict)
    source: dict[str, PypiNames | None] = Field(default_factory=dict)

    @property
    def path(self) -> str:
        return shown(TABLE_FILE)


def load_table() -> ClassTable:
    """The packaged classification table; an RPM both kept and built is an error."""
    table = load_data(TABLE_FILE, ClassTable, "fix the entry (the table is kept by hand)")
    both = sorted(set(table.keep) & set(table.source))
    if both:
        raise ClassificationError(
            f"{table.path}: {both[0]}", "is listed both under keep and under source"
        )
    return table


def _candidates(rpm: str) -> Iterator[tuple[str, str]]:
    """(candidate PyPI name, RPM pymod2pkg must give for it) pairs, most specific first."""
    if rpm.startswith("python3-"):
        base = rpm.removeprefix("python3-")
        if base.endswith("client"):
            # OpenStack clients are published as python-<name>client.
            yield f"python-{base}", rpm
        yield base, rpm
        if "-" in base:
            yield base.replace("-", ".", 1), rpm
            yield base.replace("-", "_"), rpm
    elif rpm.startswith("openstack-"):
        parts = rpm.removeprefix("openstack-").split("-")
        # openstack-nova-api is a subpackage of openstack-nova: try the longest prefix first.
        for end in range(len(parts), 0, -1):
            base = "-".join(parts[:end])
            yield base, f"openstack-{base}"


@cache
def derive_pypi_name(rpm: str) -> str | None:
    """The PyPI project that pymod2pkg maps to `rpm`, or None where it cannot tell."""
    for candidate, expected in _candidates(rpm):
        mapped = pymod2pkg.module2package(candidate, "RedHat", py_vers=["py3"])
        if mapped == expected:
            return pymod2pkg.module2upstream(candidate)
    return None


def classify(rpm: str, table: ClassTable | None = None) -> Classification:
    """Classify one RPM name; unknown python3-*/openstack-* names raise ClassificationError."""
    table = table or load_table()
    if rpm in table.keep:
        return Classification(rpm, Kind.KEPT, reason=table.keep[rpm])
    if rpm in table.source:
        explicit = table.source[rpm]
        if explicit is not None:
            return Classification(rpm, Kind.SOURCE, projects=explicit)
        derived = derive_pypi_name(rpm)
        if derived is None:
            raise ClassificationError(
                f"{table.path}: source.{rpm}",
                "pymod2pkg cannot derive a PyPI name",
                "give the PyPI project names explicitly",
            )
        return Classification(rpm, Kind.SOURCE, projects=(derived,), derived=True)
    if rpm.startswith(PYTHON_PREFIXES):
        raise ClassificationError(
            rpm,
            "unknown Python RPM: not classified",
            f"add it to {table.path} under `source:` (with its PyPI name) or `keep:` "
            "(with the reason it stays an RPM)",
        )
    return Classification(rpm, Kind.SYSTEM)


def without_rdo(rpm: str) -> Classification | None:
    """An RPM only RDO's Cloud SIG OpenStack repository builds, replaced by a PyPI project
    where the config has no such repository (data/rdo_repository.yaml)."""
    entry = rdo_repository().rpms.get(rpm)
    if entry is None or entry.pypi is None:
        return None
    return Classification(
        rpm, Kind.SOURCE, projects=(entry.pypi,), reason=f"only RDO builds it: {entry.reason}"
    )


def classify_all(
    rpms: Iterable[str], where: dict[str, str] | None = None, *, rdo_repository: bool = True
) -> dict[str, Classification]:
    """Classify many names; an error names the first image file that uses the bad name.
    Without RDO's repository, what only it builds and PyPI replaces is Python to build."""
    result: dict[str, Classification] = {}
    for rpm in sorted(set(rpms)):
        replaced = None if rdo_repository else without_rdo(rpm)
        if replaced is not None:
            result[rpm] = replaced
            continue
        try:
            result[rpm] = classify(rpm)
        except ClassificationError as error:
            if where and rpm in where and error.where == rpm:
                raise ClassificationError(
                    f"{where[rpm]}: tcib_packages: {rpm}", error.problem, error.fix
                ) from error
            raise
    return result

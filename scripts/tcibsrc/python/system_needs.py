"""Which system packages an sdist needs to build, in Debian and RPM names.

A pure-Python sdist needs none, whatever its bindep.txt says (OpenStack's bindep files list
test and runtime services such as mysql-server). An sdist with compiled sources needs a
compiler and Python headers, plus its libraries: from data/system_packages.yaml, else from the
-dev/-devel entries of its bindep.txt.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from packaging.utils import canonicalize_name
from pydantic import Field, StrictBool

from tcibsrc.common.datafiles import load_data
from tcibsrc.common.models import StrictModel

DEBIAN_PROFILES = ["platform:dpkg", "platform:debian", "compile", "build"]
RPM_PROFILES = ["platform:rpm", "platform:redhat", "platform:centos", "compile", "build"]
DEV_SUFFIXES = ("-dev", "-devel", "-headers")


@dataclass(frozen=True)
class SystemNeeds:
    compiled: bool
    rust: bool
    debian: tuple[str, ...]
    rpm: tuple[str, ...]
    source: str  # "none", "table", "bindep", "compiler only"
    runtime_rpm: tuple[str, ...] = ()  # libraries the built wheel loads (runtime stage)

    def as_json(self) -> dict[str, Any]:
        return {
            "compiled": self.compiled,
            "rust": self.rust,
            "debian": list(self.debian),
            "rpm": list(self.rpm),
            "runtime_rpm": list(self.runtime_rpm),
            "from": self.source,
        }


class Packages(StrictModel):
    """System packages in Debian's names (the proof here) and RPM names (the builder)."""

    debian: tuple[str, ...] = ()
    rpm: tuple[str, ...] = ()


class ProjectNeeds(Packages):
    """What one project's build needs, and the libraries its built wheel loads at run time."""

    rust: StrictBool = False
    runtime: tuple[str, ...] | None = None  # default: the RPM -devel names without -devel


class SystemTable(StrictModel):
    """data/system_packages.yaml."""

    compiler: Packages
    rust: Packages
    commands: dict[str, str] = Field(default_factory=dict)  # package -> command it provides
    projects: dict[str, ProjectNeeds] = Field(default_factory=dict)


def system_table() -> SystemTable:
    return load_data("system_packages.yaml", SystemTable, "fix the entry (kept by hand)")


def bindep_dev_packages(text: str) -> tuple[list[str], list[str]]:
    """(Debian, RPM) development packages a bindep.txt selects for compiling."""
    from bindep.depends import Depends

    depends = Depends(text)
    result = []
    for profiles in (DEBIAN_PROFILES, RPM_PROFILES):
        names = sorted(
            {rule[0] for rule in depends.active_rules(profiles) if rule[0].endswith(DEV_SUFFIXES)}
        )
        result.append(names)
    return result[0], result[1]


def _merge(*groups: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(item for group in groups for item in group))


def system_needs(name: str, compiled_sources: bool, bindep: str | None, rust: bool) -> SystemNeeds:
    """What building `name` needs from the system (`compiled_sources`: its sdist has C, C++,
    Cython or Rust sources; build_system reads that)."""
    table = system_table()
    entry = table.projects.get(canonicalize_name(name))
    rust = rust or bool(entry and entry.rust)
    compiled = rust or compiled_sources
    if not compiled and not entry:
        return SystemNeeds(False, False, (), (), "none")
    compiler = table.compiler
    rust_packages = table.rust if rust else Packages()
    debian: tuple[str, ...] | list[str]
    rpm: tuple[str, ...] | list[str]
    if entry:
        debian, rpm, source = entry.debian, entry.rpm, "table"
    elif bindep:
        debian, rpm = bindep_dev_packages(bindep)
        source = "bindep" if debian or rpm else "compiler only"
    else:
        debian, rpm, source = [], [], "compiler only"
    runtime = (entry.runtime if entry else None) or [
        name.removesuffix("-devel") for name in rpm if name.endswith("-devel")
    ]
    return SystemNeeds(
        compiled=compiled,
        rust=rust,
        debian=_merge(compiler.debian, rust_packages.debian, debian),
        rpm=_merge(compiler.rpm, rust_packages.rpm, rpm),
        source=source,
        runtime_rpm=tuple(runtime),
    )

"""The wheels a `packages.<name>.install: wheel` package is locked to: one or more per arch.

hermeto's binary filter (`binary` in the prefetch-input: packages, arch, os, py_version)
downloads every wheel of a filtered package that matches the filter *and* whose sha256 the
requirements file lists; pip then installs the one that fits the builder. So the lock lists,
per arch the images are built for, the glibc (manylinux) wheels the target CPython can install:
its own cpXY tag, or an abi3 / py3-none wheel of an older or equal version, whose manylinux
tag asks for no newer glibc than the distro's (data/distro_glibc.yaml). musllinux and other OS
wheels are left out (the filter's `os: linux` would let them in; their hashes keep them out).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from packaging.tags import Tag
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename
from packaging.version import Version
from pydantic import RootModel

from tcibsrc.common.datafiles import load_data
from tcibsrc.common.errors import ToolkitError
from tcibsrc.python.index import DistFile, SimpleIndex


class WheelSelectionError(ToolkitError):
    """A package locked as wheels has none for an arch or the target Python."""


@dataclass(frozen=True)
class LockedWheel:
    filename: str
    sha256: str
    arches: frozenset[str]  # every arch for a py3-none-any wheel


def _python_fits(tag: Tag, python: tuple[int, int]) -> bool:
    """CPython `python` installs a wheel of this tag (interpreter and ABI)."""
    major, minor = python
    own = f"cp{major}{minor}"
    if tag.interpreter == own and tag.abi in (own, "abi3", "none"):
        return True
    if tag.abi in ("abi3", "none") and tag.interpreter.startswith(("cp", "py")):
        digits = tag.interpreter[2:]
        if digits == str(major):
            return True
        if digits.startswith(str(major)) and digits[1:].isdigit():
            return int(digits[1:] or 0) <= minor
    return False


GLIBC_DATA = "distro_glibc.yaml"
# the legacy manylinux tags and the glibc they stand for (PEP 600)
_LEGACY = {"manylinux1": (2, 5), "manylinux2010": (2, 12), "manylinux2014": (2, 17)}
_PERENNIAL = re.compile(r"^manylinux_(?P<major>[0-9]+)_(?P<minor>[0-9]+)_")


class DistroGlibc(RootModel[dict[str, str]]):
    """data/distro_glibc.yaml: distro major release -> its glibc version."""


@cache
def _glibc_table() -> dict[str, str]:
    return load_data(GLIBC_DATA, DistroGlibc, "fix the entry (kept by hand)").root


def distro_glibc(distro_major: str) -> tuple[int, int]:
    """The glibc the images' distro release ships."""
    version = _glibc_table().get(distro_major)
    if version is None or not re.fullmatch(r"[0-9]+\.[0-9]+", version):
        raise WheelSelectionError(
            f"scripts/tcibsrc/data/{GLIBC_DATA}",
            f"no glibc version for release {distro_major}",
            "add the glibc its BaseOS ships (major.minor)",
        )
    major, minor = version.split(".")
    return int(major), int(minor)


def _arch_fits(platform: str, arch: str, glibc: tuple[int, int]) -> bool:
    """A wheel of this platform tag installs on `arch` with the distro's glibc."""
    if not platform.endswith(f"_{arch}"):
        return False
    if platform.startswith("linux_"):
        return True
    perennial = _PERENNIAL.match(platform)
    if perennial:
        return (int(perennial["major"]), int(perennial["minor"])) <= glibc
    legacy = _LEGACY.get(platform.removesuffix(f"_{arch}"))
    return legacy is not None and legacy <= glibc


def select_wheels(
    index: SimpleIndex,
    name: str,
    version: str,
    python: str,
    arches: tuple[str, ...],
    glibc: tuple[int, int],
) -> list[LockedWheel]:
    """The wheels of name==version to lock, every arch covered, sorted by file name."""
    wanted = Version(version)
    major, minor = (int(part) for part in python.split(".")[:2])
    key = canonicalize_name(name)
    found: dict[str, LockedWheel] = {}
    for file in index.files(name):
        fits = _fitting_arches(file, key, wanted, (major, minor), arches, glibc)
        if fits and file.sha256 and not file.yanked:
            found[file.filename] = LockedWheel(file.filename, file.sha256, fits)
    missing = [arch for arch in arches if not any(arch in w.arches for w in found.values())]
    if missing:
        raise WheelSelectionError(
            f"{name}=={version}",
            f"no manylinux wheel for CPython {python} and glibc {glibc[0]}.{glibc[1]} on "
            f"{', '.join(missing)} (packages.{name}.install: wheel)",
            f"build it from its sdist (install: sdist) or hold {name} to a version with "
            "wheels for every arch (packages.<name>.version)",
        )
    return sorted(found.values(), key=lambda wheel: wheel.filename)


def _fitting_arches(
    file: DistFile,
    key: str,
    wanted: Version,
    python: tuple[int, int],
    arches: tuple[str, ...],
    glibc: tuple[int, int],
) -> frozenset[str]:
    """The arches (of `arches`) this file installs on with the target Python."""
    if not file.filename.endswith(".whl"):
        return frozenset()
    try:
        name, version, _build, tags = parse_wheel_filename(file.filename)
    except InvalidWheelFilename:
        return frozenset()
    if name != key or version != wanted:
        return frozenset()
    return frozenset(
        arch
        for tag in tags
        if _python_fits(tag, python)
        for arch in arches
        if tag.platform == "any" or _arch_fits(tag.platform, arch, glibc)
    )

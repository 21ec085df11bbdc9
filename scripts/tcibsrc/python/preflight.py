"""Validate every input before a command writes anything.

render, pipelines and pin-python-deps derive many files from the config, the series data, the
Python locks and requirements/additions.in. A bad input found half-way would leave a tree of
files made from it (21 Containerfiles renamed for a mistyped series, a hashless lock copied into
a build context); so all of them are checked first, and the first problem stops the command
before any file changes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tcibsrc.common.context import Context
from tcibsrc.common.errors import Problem, ToolkitError, warning
from tcibsrc.python.lock_rules import check_text
from tcibsrc.python.lockfile import (
    BUILD_INFO_FILE,
    CONSTRAINTS_FILE,
    GIT_LOCK_SUFFIX,
    REQUIREMENTS_DIR,
    LockParseError,
    read_build_info,
    read_git_lock,
    read_header,
    read_pins,
)
from tcibsrc.python.requirements_in import ADDITIONS_FILE, read_additions
from tcibsrc.python.series import (
    BUILT_FROM_RELEASES,
    TRUNK,
    known_series,
    load_series,
    series_file,
    series_mismatches,
    series_status,
)
from tcibsrc.python.upper_constraints import UpperConstraints
from tcibsrc.tcib.catalog import Catalog

NOTHING_WRITTEN = "nothing was written"


class InputError(ToolkitError):
    """An input is invalid; the command stopped before writing."""


def check_series(ctx: Context) -> None:
    """release.series names a series the toolkit has data for."""
    config = ctx.config
    if config.series == TRUNK:
        assert config.trunk is not None  # the config's model requires it
        if config.trunk.services_from not in known_series():
            raise InputError(
                f"{ctx.display(config.path)}: trunk.services_from",
                f"no release-series data for {config.trunk.services_from!r} (known: "
                f"{', '.join(known_series())})",
                f"name the newest series the toolkit has data for; {NOTHING_WRITTEN}",
            )
        return
    if config.series not in known_series():
        status = series_status(config.series)
        if status is not None and status.status not in BUILT_FROM_RELEASES:
            raise InputError(
                f"{ctx.display(config.path)}: release.series",
                f"{config.series} ({status.release}) is {status.status} in openstack/releases: "
                "its services are not all released",
                "build it from git in the trunk mode: release.series: master with a trunk "
                f"section (see the README); {NOTHING_WRITTEN}",
            )
        raise InputError(
            f"{ctx.display(config.path)}: release.series",
            f"no release-series data for {config.series!r} (known: {', '.join(known_series())})",
            "fix the name, or generate the data with `make update-series "
            f"RELEASES_DIR=<openstack/releases checkout>`; {NOTHING_WRITTEN}",
        )
    series = load_series(config.series)
    if series.release and series.release != config.release_version:
        raise InputError(
            f"{ctx.display(config.path)}: release.version",
            f"{config.release_version!r}, but {config.series} is {series.release!r} "
            f"(openstack/releases, {series_file(config.series)})",
            f'write version: "{series.release}"; {NOTHING_WRITTEN}',
        )


def check_upper_constraints(ctx: Context, uc: UpperConstraints) -> None:
    """upper-constraints belongs to the series: every deliverable of the series it pins is
    at a version the series released (master's file with gazpacho pins neutron-lib 5.0.0,
    which gazpacho never released)."""
    config = ctx.config
    outside = series_mismatches(load_series(config.series), uc.pins)
    if outside:
        shown = ", ".join(f"{name} {version}" for name, version in outside[:4])
        raise InputError(
            f"{ctx.display(config.path)}: upper_constraints.url",
            f"pins {len(outside)} deliverables of {config.series} at versions the series never "
            f"released ({shown}{', ...' if len(outside) > 4 else ''})",
            f"point it at the {config.series} branch (stable/{config.release_version}) of "
            f"openstack/requirements; {NOTHING_WRITTEN}",
        )


def lock_problems(ctx: Context) -> list[Problem]:
    """Every problem of the committed Python locks: unparseable, unhashed, edited by hand."""
    directory = ctx.repo_root / REQUIREMENTS_DIR
    problems: list[Problem] = []
    for path in sorted(directory.glob("*.txt")):
        if path.name == CONSTRAINTS_FILE:
            continue
        shown = ctx.display(path)
        text = path.read_text(encoding="utf-8")
        if path.stem.endswith(GIT_LOCK_SUFFIX):
            problems.extend(git_lock_problems(path, shown))
            continue
        try:
            read_pins(text)
        except LockParseError as error:
            problems.append(Problem(f"{shown}:{error.line_number}", str(error)))
            continue
        problems.extend(check_text(text, shown))
        if read_header(text).edited:
            problems.append(
                Problem(
                    shown,
                    "edited by hand: the text no longer matches the content digest in its header",
                )
            )
    info = directory / BUILD_INFO_FILE
    if info.is_file():
        try:
            packages = read_build_info(info, ctx.display(info))
        except ToolkitError as error:
            problems.append(Problem(error.where, error.problem, error.fix))
        else:
            problems.extend(rust_problems(packages, ctx.display(info)))
    return problems


def git_lock_problems(path: Path, shown: str) -> list[Problem]:
    """An `<image>-git.txt`: hermeto's rules for VCS requirements (git, a full commit, no
    hashes, no hashed neighbours), and a repository Konflux's prefetch can clone (https)."""
    text = path.read_text(encoding="utf-8")
    problems = list(check_text(text, shown))
    try:
        pins = read_git_lock(path, shown)
    except ToolkitError as error:
        return [*problems, Problem(error.where, error.problem, error.fix)]
    for name, pin in sorted(pins.items()):
        if not pin.url.startswith("https://"):
            problems.append(
                warning(
                    f"{shown}: {name}",
                    f"git+{pin.url.split(':', 1)[0]} is not fetchable by Konflux's prefetch",
                    "point packages.<name>.git_url at an https:// repository",
                )
            )
    return problems


def rust_problems(packages: dict[str, Any], display: str) -> list[Problem]:
    """A Rust sdist hermeto would not vendor crates for: it decides from the build
    requirements it reads without running code (pyproject's requires, a literal
    setup_requires), so one whose setup.py adds setuptools-rust in code (dulwich) would reach
    cargo with no crates, and the hermetic build would fail there."""
    found = []
    for key, package in sorted(packages.items()):
        if package.get("install", "sdist") != "sdist" or not package.get("rust"):
            continue
        if package.get("rust_declared", True):
            continue
        name = key.split("==")[0]
        found.append(
            Problem(
                f"{display}: {key}",
                "a Rust sdist whose setup adds its Rust build tool in code: hermeto will not "
                "vendor its crates, so its build would reach for crates.io",
                f"set packages.{name}.install: wheel, or a build_environment that builds it "
                "without Rust (without_rust: true), then `make pin-python-deps`",
            )
        )
    return found


def check_locks(ctx: Context) -> None:
    """The locks are what pin-python-deps wrote: never copy a broken one into a build."""
    problems = [problem for problem in lock_problems(ctx) if not problem.is_warning]
    if problems:
        first = problems[0]
        detail = f"{first.message} ({first.fix})" if first.fix else first.message
        more = f"; {len(problems) - 1} more problem(s), listed by `make check`"
        raise InputError(
            first.where,
            detail + (more if len(problems) > 1 else ""),
            f"run `make pin-python-deps FORCE=1` to re-make the locks; {NOTHING_WRITTEN}",
        )


def check_additions(ctx: Context, catalog: Catalog) -> None:
    path = ctx.repo_root / REQUIREMENTS_DIR / ADDITIONS_FILE
    read_additions(path, set(catalog.images), ctx.display(path))


def validate_inputs(ctx: Context, catalog: Catalog, *, locks: bool = True) -> None:
    """Config (loaded by the catalog), series data, additions.in and, with `locks`, the locks."""
    check_series(ctx)
    check_additions(ctx, catalog)
    if locks:
        check_locks(ctx)

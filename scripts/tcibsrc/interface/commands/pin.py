"""`tcibsrc pin-python-deps`: release- and target-aware Python locks with the build closure."""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

from tcibsrc.common.config import Config, set_exclude_newer, utc_text
from tcibsrc.common.context import Context
from tcibsrc.python.index import DEFAULT_INDEX_URL, index_url_from_environment
from tcibsrc.python.pinning import Deriver, PinOptions, pin_python_deps
from tcibsrc.python.preflight import validate_inputs
from tcibsrc.python.requirements_in import policy_requirements
from tcibsrc.python.resolvers.base import resolver_named
from tcibsrc.python.upper_constraints import local_file_from_environment
from tcibsrc.rpm.lock_checks import locked_versions
from tcibsrc.rpm.parity import derived_requirements
from tcibsrc.tcib.catalog import Catalog, build_catalog


def derive_for(catalog: Catalog, config: Config) -> Deriver:
    """Per image, the requirements its inputs are given besides its own lines: what the RDO
    RPMs it replaces required (parity data), and what its locked packages import at run time
    without declaring (package policies' extra_requires)."""

    def derive(locked: dict[str, list[str]], asked: dict[str, dict[str, set[str]]]) -> dict:
        found = derived_requirements(catalog, locked, asked, config.series)
        for image, lines in policy_requirements(catalog, config.policy_for, locked).items():
            merged = found.setdefault(image, [])
            merged += [line for line in lines if line not in merged]
        return found

    return derive


RPM_LOCK = "rpms.lock.yaml"


def rpm_lock_versions(ctx: Context) -> dict[str, str]:
    """The RPM lock's versions, which hold the packages installed from RPMs (install: rpm)."""
    path = ctx.repo_root / RPM_LOCK
    if not path.is_file():
        return {}
    return locked_versions(path.read_text(encoding="utf-8"), ctx.display(path))


def run(ctx: Context, args: argparse.Namespace) -> int:
    # every input is checked before anything is downloaded, resolved or written
    catalog = build_catalog(ctx)
    validate_inputs(ctx, catalog, locks=False)
    options = PinOptions(
        resolver=args.resolver or os.environ.get("RESOLVER") or "uv",
        index_url=index_url_from_environment(args.index_url),
        upper_constraints_file=Path(args.upper_constraints)
        if args.upper_constraints
        else local_file_from_environment(),
        force=args.force or args.update or args.update_git,
        derive=derive_for(catalog, ctx.config),
        rpm_versions=rpm_lock_versions(ctx),
        update_git=bool(args.update or args.update_git),
    )
    resolver_named(options.resolver)  # a wrong RESOLVER= is said before any download
    if args.update:
        # the new cutoff: now, less the cooldown, to the second
        options.exclude_newer = (datetime.now(UTC) - ctx.config.minimum_release_age).replace(
            microsecond=0
        )
    result = pin_python_deps(ctx, options)
    if args.update and options.exclude_newer is not None:
        moved = set_exclude_newer(ctx.config_file, options.exclude_newer)
        print(
            f"{ctx.display(ctx.config_file)}: python.exclude_newer "
            f"{'set to' if moved else 'stays at'} {utc_text(options.exclude_newer)} (now, less "
            f"the cooldown of {ctx.config.minimum_release_age.days} days)"
        )
    if result.up_to_date:
        print(f"requirements/: up to date ({result.seconds:.2f} s; --force re-resolves)")
        return 0
    extra = f" (+{result.extra_count} alternative versions)" if result.extra_count else ""
    print(
        f"requirements/: {result.runtime_count} runtime pins, {result.build_count} build "
        f"pins{extra}, {len(result.changed)} file(s) changed in {result.seconds:.1f} s"
    )
    for name in result.changed:
        print(f"  {name}")
    print(
        "time: " + ", ".join(f"{phase} {seconds:.1f} s" for phase, seconds in result.phases.items())
    )
    if result.moves:
        print(f"what moved ({len(result.moves)} packages):")
        for line in result.moves:
            print(f"  {line}")
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "pin-python-deps", help="resolve requirements/*.txt and the build closure"
    )
    parser.add_argument(
        "--resolver",
        choices=("uv", "pip-compile"),
        help="resolver backend (default: $RESOLVER or uv)",
    )
    parser.add_argument(
        "--index-url", help=f"Simple API index (default: $INDEX_URL or {DEFAULT_INDEX_URL})"
    )
    parser.add_argument(
        "--upper-constraints",
        help="local upper-constraints file "
        "(default: $UPPER_CONSTRAINTS, else the config's pinned URL)",
    )
    parser.add_argument("--force", action="store_true", help="re-resolve even when up to date")
    parser.add_argument(
        "--update",
        action="store_true",
        default=os.environ.get("UPDATE") == "1",
        help="move the cutoff to now less the cooldown and the git sources to their refs' "
        "commits, re-pin, say what moved (UPDATE=1)",
    )
    parser.add_argument(
        "--update-git",
        action="store_true",
        help="move only the git sources (the trunk mode's services) to their branch heads, "
        "re-pin, say what moved; the cutoff stays (make update-git-sources)",
    )
    parser.set_defaults(handler=run)

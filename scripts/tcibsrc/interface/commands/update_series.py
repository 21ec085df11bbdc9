"""`tcibsrc update-series DIR`: regenerate data/series/<series>.yaml from openstack/releases."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from tcibsrc.common.atomic import replace_files
from tcibsrc.common.context import Context
from tcibsrc.common.git import revision
from tcibsrc.python.series import (
    BUILT_FROM_RELEASES,
    STATUS_DATA,
    SeriesError,
    read_releases,
    read_series_status,
    render_series,
    render_status,
    series_file,
)


def chosen_series(args: argparse.Namespace, statuses: dict, configured: str) -> list[str]:
    """SERIES= names them; by default every series built from releases, and the configured."""
    if args.series:
        return list(dict.fromkeys(args.series))
    default = [name for name, item in statuses.items() if item.status == "maintained"]
    return sorted({*[name for name in default if name], configured})


def run(ctx: Context, args: argparse.Namespace) -> int:
    releases_dir = Path(args.releases_dir)
    statuses = read_series_status(releases_dir)
    source = f"openstack/releases {revision(releases_dir).commit}"
    files: dict[str, str] = {}
    counts: dict[str, int] = {}
    for name in chosen_series(args, statuses, ctx.config.series):
        status = statuses.get(name)
        if status is None:
            raise SeriesError(
                f"SERIES={name}",
                "not a series of openstack/releases",
                f"known: {', '.join(statuses)}",
            )
        if status.status not in BUILT_FROM_RELEASES:
            raise SeriesError(
                f"SERIES={name}",
                f"is {status.status} in openstack/releases: its deliverables are not all final "
                "releases yet",
                "build it from git in the trunk mode (release.series: master and a trunk "
                "section; see the README), or name a maintained series",
            )
        deliverables = read_releases(releases_dir, name)
        files[series_file(name)] = render_series(status, deliverables, source)
        counts[series_file(name)] = len(deliverables)
    files[f"scripts/tcibsrc/data/{STATUS_DATA}"] = render_status(statuses, source)
    changed = replace_files(ctx.repo_root, files, [])
    for path, count in counts.items():
        print(f"{path}: {count} deliverables, {'updated' if path in changed else 'unchanged'}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "update-series", help="regenerate the release series data from openstack/releases"
    )
    parser.add_argument("releases_dir", help="an openstack/releases checkout")
    parser.add_argument(
        "--series",
        action="append",
        default=(os.environ.get("SERIES") or "").split() or None,
        help="a series to regenerate (default: $SERIES, else every maintained series)",
    )
    parser.set_defaults(handler=run)

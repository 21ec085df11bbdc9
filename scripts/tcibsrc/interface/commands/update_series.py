"""`tcibsrc update-series DIR`: regenerate data/series/<series>.yaml from openstack/releases."""

from __future__ import annotations

import argparse
from pathlib import Path

from tcibsrc.common.atomic import write_text_atomic
from tcibsrc.common.context import Context
from tcibsrc.common.git import revision
from tcibsrc.python.series import read_releases, render_series, series_file


def _source(releases_dir: Path) -> str:
    return f"openstack/releases {revision(releases_dir).commit}"


def run(ctx: Context, args: argparse.Namespace) -> int:
    series = ctx.config.series
    releases_dir = Path(args.releases_dir)
    deliverables = read_releases(releases_dir, series)
    target = ctx.repo_root / series_file(series)
    changed = write_text_atomic(target, render_series(series, deliverables, _source(releases_dir)))
    print(
        f"{ctx.display(target)}: {len(deliverables)} deliverables, "
        f"{'updated' if changed else 'unchanged'}"
    )
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "update-series", help="regenerate the release series data from openstack/releases"
    )
    parser.add_argument("releases_dir", help="an openstack/releases checkout")
    parser.set_defaults(handler=run)

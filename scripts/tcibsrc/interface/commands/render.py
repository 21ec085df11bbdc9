"""`tcibsrc render`: write containerfiles/ from TCIB, the catalog and the Python locks."""

from __future__ import annotations

import argparse

from tcibsrc.common.atomic import write_generated
from tcibsrc.common.context import Context
from tcibsrc.containers.render import render_files, stale_files


def run(ctx: Context, args: argparse.Namespace) -> int:
    files = render_files(ctx)
    return write_generated(
        ctx.repo_root, files, stale_files(ctx, files), "containerfiles/, rpms.in.yaml, rpms.repo"
    )


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("render", help="write containerfiles/ (make render)")
    parser.set_defaults(handler=run)

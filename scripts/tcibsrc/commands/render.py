"""`tcibsrc render`: write containerfiles/ from TCIB, the catalog and the Python locks."""

from __future__ import annotations

import argparse

from tcibsrc.atomic import write_text_atomic
from tcibsrc.context import Context
from tcibsrc.render import render_files, stale_files


def run(ctx: Context, args: argparse.Namespace) -> int:
    files = render_files(ctx)
    changed = [
        path
        for path, text in sorted(files.items())
        if write_text_atomic(ctx.repo_root / path, text)
    ]
    for path in stale_files(ctx, files):
        path.unlink()
        changed.append(f"{ctx.display(path)} (removed)")
    print(f"containerfiles/, rpms.in.yaml, rpms.repo: {len(files)} files, {len(changed)} changed")
    for path in changed:
        print(f"  {path}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("render", help="write containerfiles/ (make render)")
    parser.set_defaults(handler=run)

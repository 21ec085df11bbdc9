"""`tcibsrc update-parity DIR`: regenerate data/rpm_parity.yaml from RDO distgit spec files."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tcibsrc.common.atomic import write_text_atomic
from tcibsrc.common.context import Context
from tcibsrc.common.datafiles import shown
from tcibsrc.rpm.parity import PARITY_DATA, distro_macros, read_specs, render_parity


def run(ctx: Context, args: argparse.Namespace) -> int:
    defines = distro_macros(ctx.config.distro_major)
    sources, packages, notes = read_specs(Path(args.specs_dir), defines)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    target = ctx.repo_root / shown(PARITY_DATA)
    changed = write_text_atomic(target, render_parity(sources, packages))
    print(
        f"{ctx.display(target)}: {len(sources)} spec files, {len(packages)} binary packages, "
        f"{'updated' if changed else 'unchanged'}"
    )
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "update-parity", help="regenerate the RPM parity data from RDO distgit spec files"
    )
    parser.add_argument("specs_dir", help="a directory of rdo-packages/<name>-distgit checkouts")
    parser.set_defaults(handler=run)

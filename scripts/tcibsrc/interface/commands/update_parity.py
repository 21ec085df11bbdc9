"""`tcibsrc update-parity DIR [--series S]`: regenerate the parity data from RDO distgit spec
files: data/rpm_parity.yaml (the stand-in every series without its own reads), or
data/rpm_parity-<series>.yaml from that series' <series>-rdo branches."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from tcibsrc.common.atomic import write_text_atomic
from tcibsrc.common.context import Context
from tcibsrc.common.datafiles import shown
from tcibsrc.common.errors import ToolkitError
from tcibsrc.rpm.parity import PARITY_DATA, distro_macros, read_specs, render_parity


def run(ctx: Context, args: argparse.Namespace) -> int:
    defines = distro_macros(ctx.config.distro_major)
    sources, packages, notes = read_specs(Path(args.specs_dir), defines)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    series = args.series
    if series is not None and not re.fullmatch(r"[a-z]+", series):
        raise ToolkitError(
            f"SERIES={series!r}", "not a series name", "give one such as epoxy (lower case)"
        )
    target = ctx.repo_root / shown(f"rpm_parity-{series}.yaml" if series else PARITY_DATA)
    if series:
        wanted = f"{series}-rdo"
        others = sorted({s.split()[1] for s in sources.values() if len(s.split()) > 1} - {wanted})
        if others:
            print(
                f"note: {len(sources)} spec files; branches other than {wanted} among them: "
                f"{', '.join(others)}",
                file=sys.stderr,
            )
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
    parser.add_argument(
        "--series", help="write that series' own data (rpm_parity-<series>.yaml), not the stand-in"
    )
    parser.set_defaults(handler=run)

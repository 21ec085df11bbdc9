"""`tcibsrc new-series SERIES`: move the deployment to another OpenStack series, then re-pin.

The config's series, release number, upper-constraints URL and sha256, Konflux application
and branch are rewritten in place (comments kept); the locks are pinned for it. When the pin
fails, the config is put back: the tree is the old series' or the new one's, never half.
`make new-series` then renders everything (`make`).
"""

from __future__ import annotations

import argparse
import os
import re
import tempfile
from pathlib import Path

from tcibsrc.common.atomic import write_text_atomic
from tcibsrc.common.config_edit import set_value, value_of
from tcibsrc.common.context import Context
from tcibsrc.interface.commands.pin import derive_for, rpm_lock_versions
from tcibsrc.python.index import index_url_from_environment
from tcibsrc.python.pinning import PinOptions, pin_python_deps
from tcibsrc.python.series_switch import plan_switch
from tcibsrc.tcib.catalog import build_catalog

_UC_COMMENT = re.compile(r"openstack/requirements \S+ at commit [0-9a-f]+( \([0-9-]+\))?")


def run(ctx: Context, args: argparse.Namespace) -> int:
    path = ctx.config_file
    before = path.read_text(encoding="utf-8")
    with tempfile.TemporaryDirectory(prefix="tcibsrc-series-") as scratch:
        switch = plan_switch(
            ctx.config,
            args.series,
            uc_file=Path(args.upper_constraints) if args.upper_constraints else None,
            uc_commit=args.uc_commit,
            requirements_dir=Path(args.requirements_dir) if args.requirements_dir else None,
            scratch=Path(scratch),
        )
        text = before
        changes = []
        for key_path, value in switch.values().items():
            old = value_of(text, key_path)
            if old != value:
                changes.append(f"{'.'.join(key_path)}: {old or '(unset)'} → {value}")
            text = set_value(text, key_path, value, ctx.display(path))
        text = _UC_COMMENT.sub(
            f"openstack/requirements {switch.branch} at commit {switch.uc_commit[:8]}", text
        )
        write_text_atomic(path, text)
        ctx.__dict__.pop("config", None)
        try:
            catalog = build_catalog(ctx)
            result = pin_python_deps(
                ctx,
                PinOptions(
                    index_url=index_url_from_environment(None),
                    upper_constraints_file=switch.uc_file,
                    force=True,
                    derive=derive_for(catalog, ctx.config),
                    rpm_versions=rpm_lock_versions(ctx),
                ),
            )
        except BaseException:
            write_text_atomic(path, before)  # the old series' config with its old locks
            raise
    print(f"{ctx.display(path)}: {switch.series} ({switch.version})")
    for line in [*changes, *switch.notes]:
        print(f"  {line}")
    print(
        f"requirements/: {result.runtime_count} runtime pins, {result.build_count} build pins, "
        f"{len(result.changed)} file(s) changed in {result.seconds:.1f} s"
    )
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "new-series", help="move the config to another OpenStack series and re-pin"
    )
    parser.add_argument("series", help="the series (gazpacho)")
    parser.add_argument(
        "--upper-constraints",
        default=os.environ.get("UPPER_CONSTRAINTS") or None,
        help="a local copy of the series' upper-constraints.txt ($UPPER_CONSTRAINTS)",
    )
    parser.add_argument(
        "--uc-commit",
        default=os.environ.get("UC_COMMIT") or None,
        help="the openstack/requirements commit that copy was read at ($UC_COMMIT)",
    )
    parser.add_argument(
        "--requirements-dir",
        default=os.environ.get("REQUIREMENTS_DIR") or None,
        help="a clone of openstack/requirements: the branch head and its file",
    )
    parser.set_defaults(handler=run)

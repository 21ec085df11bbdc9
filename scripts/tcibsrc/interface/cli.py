"""The one command line the Makefile calls: `tcibsrc <command>`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from tcibsrc.common.context import Context
from tcibsrc.common.errors import ToolkitError
from tcibsrc.interface.commands import (
    check,
    config_schema,
    deploy,
    graph,
    images,
    konflux,
    local,
    lock_rpms,
    pin,
    pipelines,
    prefetch_input,
    render,
    summary,
    update_parity,
    update_series,
    verify_hermetic,
    verify_runtime,
)

COMMANDS = (
    summary,
    config_schema,
    deploy,
    images,
    graph,
    check,
    pin,
    render,
    pipelines,
    konflux,
    local,
    lock_rpms,
    prefetch_input,
    update_parity,
    update_series,
    verify_hermetic,
    verify_runtime,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tcibsrc",
        description="OpenStack images from TCIB definitions, with Python built from source.",
    )
    parser.add_argument("--config", help="deployment config file (default: $CONFIG or config.yaml)")
    parser.add_argument(
        "--tcib-dir",
        help="TCIB container-images directory (default: $TCIB_DIR or tcib/container-images)",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.register(subparsers)
    return parser


INTERRUPTED = 130  # what a shell reports for a command ended by SIGINT


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    ctx = Context.from_environment(config_file=args.config, tcib_dir=args.tcib_dir)
    try:
        return int(args.handler(ctx, args))
    except ToolkitError as error:
        for detail in error.details:
            print(f"  | {detail}", file=sys.stderr)
        print(f"error: {error.line()}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        # files are written whole through a rename, so an interrupt leaves none half-written
        print(
            f"\ninterrupted: tcibsrc {args.command} stopped; no file is half-written",
            file=sys.stderr,
        )
        return INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())

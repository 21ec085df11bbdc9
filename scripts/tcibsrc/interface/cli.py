"""The one command line the Makefile calls: `tcibsrc <command>`."""

from __future__ import annotations

import argparse
import errno
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Sequence

from tcibsrc.common.cache import cache_dir
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
    main_job,
    new_series,
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
    main_job,
    summary,
    config_schema,
    deploy,
    images,
    graph,
    check,
    pin,
    new_series,
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
    parser.add_argument(
        "--scope",
        help="narrow the images to one of the config's images.subsets (default: $SCOPE)",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.register(subparsers)
    return parser


# Commands that write (or check) the files of the whole scope — locks, Containerfiles,
# PipelineRuns, data: narrowed by SCOPE they would drop every other image's files (or call them
# stale), so they refuse it.
WRITE_THE_WHOLE_SCOPE = {
    "all",
    "check",
    "config-schema",
    "graph",
    "pin-python-deps",
    "render",
    "pipelines",
    "konflux-manifests",
    "lock-rpms",
    "update-parity",
    "update-series",
    "new-series",
}
INTERRUPTED = 130  # what a shell reports for a command ended by SIGINT
INTERNAL_ERROR = 70  # EX_SOFTWARE: a bug, not a problem of the input
FILESYSTEM_FIXES = {
    errno.EACCES: "check its permissions",
    errno.EPERM: "check its permissions",
    errno.EROFS: "the filesystem is read-only",
    errno.ENOSPC: "free some disk space",
    errno.ENOENT: "check that it exists",
    errno.ENOTDIR: "a file stands where a directory belongs",
    errno.EISDIR: "a directory stands where a file belongs",
}


def _filesystem_line(error: OSError) -> str:
    """One line for a filesystem error: the path, what the system said, what to do."""
    where = error.filename or "a file"
    fix = FILESYSTEM_FIXES.get(error.errno or 0)
    return f"{where}: {error.strerror or error}" + (f" ({fix})" if fix else "")


def _report_bug(command: str) -> str:
    """Write the traceback of an unexpected error where a bug report can take it from."""
    text = f"tcibsrc {command}\n{traceback.format_exc()}"
    try:
        directory = cache_dir() / "errors"
        directory.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        path = directory / f"{stamp}-{os.getpid()}.txt"
        path.write_text(text, encoding="utf-8")
    except OSError:
        handle, name = tempfile.mkstemp(prefix="tcibsrc-error-", suffix=".txt")
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        return name
    return str(path)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    ctx = Context.from_environment(
        config_file=args.config, tcib_dir=args.tcib_dir, subset=args.scope
    )
    if ctx.subset and args.command in WRITE_THE_WHOLE_SCOPE:
        print(
            f"error: SCOPE={ctx.subset}: `tcibsrc {args.command}` works on the files of the whole "
            "scope, a subset would remove the others' (SCOPE narrows what is listed, proven, "
            "built and deployed; to build fewer images, narrow images.scope in the config: "
            "docs/config-and-tcib.md)",
            file=sys.stderr,
        )
        return 2
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
    except OSError as error:
        print(f"error: {_filesystem_line(error)}", file=sys.stderr)
        return 1
    except Exception as error:  # a bug: say so in one line, keep the details for a report
        report = _report_bug(args.command)
        print(
            f"error: internal error in tcibsrc {args.command} ({type(error).__name__}: {error}); "
            f"this is a bug, please report it with {report}",
            file=sys.stderr,
        )
        return INTERNAL_ERROR


if __name__ == "__main__":
    sys.exit(main())

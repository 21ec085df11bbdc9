"""`tcibsrc verify-runtime`: start an image's services from its wheels, offline, and report."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from tcibsrc.common.atomic import write_text_atomic
from tcibsrc.common.context import Context
from tcibsrc.common.table import text_table
from tcibsrc.interface.arguments import positive_int
from tcibsrc.python.index import index_url_from_environment
from tcibsrc.verify.hermetic import scratch_dir
from tcibsrc.verify.runtime import runtime_checks, verify_runtime

REPORT_DIR = Path("build/verify-runtime")


def run(ctx: Context, args: argparse.Namespace) -> int:
    images = [args.image] if args.image else sorted(runtime_checks().images)
    failed = 0
    for image in images:
        workdir = scratch_dir(ctx.repo_root / "build" / "runtime", image)
        cargo = args.cargo_home or os.environ.get("CARGO_HOME_VENDORED")
        report = verify_runtime(
            ctx,
            image,
            index_url=index_url_from_environment(args.index_url),
            jobs=args.jobs or os.cpu_count() or 1,
            workdir=workdir,
            install_system=not args.no_install,
            cargo_home=Path(cargo) if cargo else None,
        )
        rows = [[c["check"], c["result"], f"{c['seconds']:.1f}"] for c in report["checks"]]
        print(text_table(("check", "result", "seconds"), rows, width=100, wrap=("check",)), end="")
        for check in report["checks"]:
            if check["result"] == "failed" and check["detail"]:
                print(f"\n--- {check['check']} failed:\n{check['detail']}")
        for key, note in sorted(report["wheels"]["stand-ins"].items()):
            print(f"note: {key}: {note}")
        path = ctx.repo_root / REPORT_DIR / f"{image}.json"
        write_text_atomic(path, json.dumps(report, indent=1, sort_keys=True) + "\n")
        bad = sum(1 for c in report["checks"] if c["result"] == "failed")
        print(
            f"\n{image}: {len(report['checks']) - bad} passed, {bad} failed; "
            f"{report['wheels']['built offline']} wheels built offline, "
            f"{report['wheels']['locked wheels']} locked wheels (install: wheel), "
            f"{len(report['wheels']['stand-ins'])} binary stand-ins; report {ctx.display(path)}"
        )
        failed += bad
    return 1 if failed else 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "verify-runtime", help="start an image's services from its wheels, offline (unshare -n)"
    )
    parser.add_argument("--image", help="one image (default: every image with runtime checks)")
    parser.add_argument("--cargo-home", help="vendored crates for Rust sdists (CARGO_HOME)")
    parser.add_argument("--jobs", type=positive_int, help="parallel builds (default: all cores)")
    parser.add_argument("--index-url", help="where to fetch sdists (default: $INDEX_URL or PyPI)")
    parser.add_argument(
        "--no-install", action="store_true", help="do not apt-get install the Debian build packages"
    )
    parser.set_defaults(handler=run)

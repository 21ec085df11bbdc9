#!/usr/bin/env python3
"""Benchmark `make pin-python-deps` on the default scope against the real index.

Prints three figures: cold (empty uv and tcibsrc caches), warm (caches full, --force), and the
no-op re-run (inputs unchanged). Runs in a scratch copy of the repository's inputs, so the
committed locks are not touched. Needs the network to the index; takes a few minutes.

    .venv/bin/python bench/pin.py [--index-url URL] [--upper-constraints FILE]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "scripts"))

from tcibsrc.common.context import Context  # noqa: E402
from tcibsrc.python.index import DEFAULT_INDEX_URL  # noqa: E402
from tcibsrc.python.pinning import PinOptions, pin_python_deps  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index-url", default=os.environ.get("INDEX_URL", DEFAULT_INDEX_URL))
    parser.add_argument("--upper-constraints", default=os.environ.get("UPPER_CONSTRAINTS"))
    parser.add_argument("--tcib-dir", default=os.environ.get("TCIB_DIR"))
    args = parser.parse_args()
    tcib = Path(args.tcib_dir or REPO / "tcib" / "container-images").resolve()
    with tempfile.TemporaryDirectory(prefix="bench-pin-") as scratch:
        root = Path(scratch)
        shutil.copy2(REPO / "config.yaml", root / "config.yaml")
        (root / "requirements").mkdir()
        shutil.copy2(REPO / "requirements" / "additions.in", root / "requirements")
        os.environ["UV_CACHE_DIR"] = str(root / "uv-cache")
        os.environ["TCIBSRC_CACHE"] = str(root / "tcibsrc-cache")
        ctx = Context(repo_root=root, config_file=root / "config.yaml", tcib_dir=tcib)
        uc = Path(args.upper_constraints).resolve() if args.upper_constraints else None
        figures = []
        for label, force in (("cold", True), ("warm", True), ("no-op", False)):
            started = time.monotonic()
            result = pin_python_deps(
                ctx, PinOptions(index_url=args.index_url, upper_constraints_file=uc, force=force)
            )
            seconds = time.monotonic() - started
            figures.append((label, seconds, result))
        print(f"\nbench/pin.py: default scope, index {args.index_url}, {os.cpu_count()} cores")
        for label, seconds, result in figures:
            detail = (
                "up to date"
                if result.up_to_date
                else (
                    f"{result.runtime_count} runtime + {result.build_count} build pins "
                    f"(+{result.extra_count} alternatives)"
                )
            )
            print(f"  {label:6} {seconds:7.1f} s  {detail}")
            for phase, phase_seconds in result.phases.items():
                print(f"         {phase_seconds:7.1f} s    {phase}")


if __name__ == "__main__":
    main()

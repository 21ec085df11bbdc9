#!/usr/bin/env python3
"""Benchmark `pin-python-deps` on the minimal scope: the previous path against the current one.

Both run in one go, on the same machine, against the same index, from a scratch copy of the
inputs of the minimal deployment (config.yaml and requirements/ as committed at INPUTS, the
last commit whose config held those 21 images only; bench/whole_set.py times the whole TCIB
set), so the committed files are not touched. For each path three figures:

- cold: every cache empty — a fresh HOME (so uv's, pip's and ours are empty too);
- warm: the same HOME again, `--force` (caches full, the locks re-resolved);
- no-op: inputs unchanged, the locks up to date.

The previous path is the toolkit at PREVIOUS (a commit of this repository, taken with
`git archive`); the current one is the working tree. Each run's own report of its phases is
printed for the current path. Needs the network to the index; takes a few minutes.

    .venv/bin/python bench/pin.py [--previous REV] [--index-url URL] [--upper-constraints FILE]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import REPO, archive, common_arguments, environment, resolved

# The last commit before the pin was overlapped and its answers cached (issue 19's speed work).
PREVIOUS = "871cca7"
INPUTS = "78b0d9c"  # config.yaml and requirements/ of the minimal scope
RUNS = (("cold", ["--force"]), ("warm", ["--force"]), ("no-op", []))


def checkout(revision: str, into: Path) -> Path:
    """The toolkit's scripts/ at `revision`, unpacked into `into`."""
    return archive(revision, ["scripts"], into) / "scripts"


def scratch_repository(root: Path) -> Path:
    """config.yaml and requirements/ as committed at INPUTS: what a clone of it pins from."""
    return archive(INPUTS, ["config.yaml", "requirements"], root)


def run_path(
    label: str, scripts: Path, work: Path, args: argparse.Namespace
) -> list[tuple[str, float, str]]:
    """Cold, warm and no-op runs of one toolkit path; (run, seconds, its last lines)."""
    repository = scratch_repository(work / f"{label}-repo")
    home = work / f"{label}-home"
    home.mkdir()
    env = environment(home, scripts, args)
    figures = []
    for run, flags in RUNS:
        started = time.monotonic()
        result = subprocess.run(
            [sys.executable, "-m", "tcibsrc", "pin-python-deps", *flags],
            cwd=repository,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        seconds = time.monotonic() - started
        if result.returncode != 0:
            sys.exit(f"bench/pin.py: {label} {run} failed:\n{result.stdout}{result.stderr}")
        figures.append((run, seconds, result.stdout + result.stderr))
        print(f"  {label:8} {run:6} {seconds:6.1f} s", file=sys.stderr)
    committed = scratch_repository(work / f"{label}-committed")
    drift = subprocess.run(
        ["diff", "-r", "-q", str(committed / "requirements"), str(repository / "requirements")],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    if drift:
        print(f"  {label}: the locks differ from the committed ones:\n{drift}", file=sys.stderr)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    common_arguments(parser, PREVIOUS)
    args = resolved(parser.parse_args())
    with tempfile.TemporaryDirectory(prefix="bench-pin-") as scratch:
        work = Path(scratch)
        paths = {
            "previous": checkout(args.previous, work / "previous"),
            "current": REPO / "scripts",
        }
        results = {label: run_path(label, scripts, work, args) for label, scripts in paths.items()}
    print(
        f"\nbench/pin.py: minimal scope (inputs of {INPUTS}), index {args.index_url}, "
        f"{os.cpu_count()} cores "
        f"(previous = {args.previous})"
    )
    print(f"  {'':6} {'previous':>10} {'current':>10}")
    for index, (run, _flags) in enumerate(RUNS):
        old, new = results["previous"][index][1], results["current"][index][1]
        print(f"  {run:6} {old:8.1f} s {new:8.1f} s")
    print("\ncurrent path, where the time goes:")
    for run, _seconds, output in results["current"]:
        timing = [line for line in output.splitlines() if line.startswith("time:")]
        print(f"  {run:6} {' '.join(timing) or '(nothing to time)'}")


if __name__ == "__main__":
    main()

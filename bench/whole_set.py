#!/usr/bin/env python3
"""Benchmark the whole TCIB set: a cold pin of every image, and `make` run a second time.

The previous path is the toolkit at PREVIOUS (before the whole set was in the project's
config), run the way a user had to get the whole set through it: its config switched to
`images.from_containers_yaml: true` plus rally, and the undocumented `UV_BUILD_CONSTRAINT`
with `setuptools<82` so that the xstatic sdists' metadata builds. The current path is the
working tree with the committed config. Both in one go, from scratch copies of the inputs (the
committed files are not touched), each cold from a fresh HOME (uv's, pip's and our caches
empty). Targets: cold pin <= 120 s, `make` second run <= 10 s.

    .venv/bin/python bench/whole_set.py [--previous REV] [--index-url URL]
        [--upper-constraints FILE] [--tcib-dir DIR] [--skip-pin] [--skip-make]

Needs the network to the index for the pins; takes several minutes.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from common import REPO, archive, common_arguments, environment, resolved

# The last commit whose config held the minimal 21 images only (issue 19's end).
PREVIOUS = "78b0d9c"
TARGET_PIN = 120.0
TARGET_MAKE = 10.0


def previous_inputs(revision: str, root: Path) -> dict[str, str]:
    """The previous commit's repository, its config switched to the whole set; the env a user
    needed for its pin to pass."""
    paths = [
        "Makefile",
        "pyproject.toml",
        "toolkit-constraints.txt",
        "config.yaml",
        "requirements",
        "scripts",
        "README.md",
        "containerfiles/files",
    ]
    archive(revision, paths, root)
    config_path = root / "config.yaml"
    config = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    config["images"]["from_containers_yaml"] = True
    config["images"]["scope"] = ["rally"]
    config_path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    constraint = root / "build-constraints.txt"
    constraint.write_text("setuptools<82\n", encoding="utf-8")
    return {"UV_BUILD_CONSTRAINT": str(constraint)}


def current_inputs(root: Path) -> dict[str, str]:
    """The working tree's repository as a fresh clone has it."""
    root.mkdir(parents=True)
    for name in ("Makefile", "pyproject.toml", "toolkit-constraints.txt", "config.yaml"):
        shutil.copy2(REPO / name, root / name)
    shutil.copy2(REPO / "README.md", root / "README.md")
    for name in ("requirements", "scripts", "containerfiles/files"):
        shutil.copytree(REPO / name, root / name)
    return {}


def timed(
    label: str, command: list[str], root: Path, env: dict, *, may_fail: bool = False
) -> tuple[float, str]:
    """Seconds and output of `command`; a failure stops the bench unless `may_fail` (the
    previous path's `make check` fails on the whole set: its time still counts)."""
    started = time.monotonic()
    result = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, check=False)
    seconds = time.monotonic() - started
    output = result.stdout + result.stderr
    if result.returncode != 0 and not may_fail:
        tail = "\n".join(output.splitlines()[-15:])
        sys.exit(f"bench/whole_set.py: {label}: `{' '.join(command)}` failed:\n{tail}")
    said = (
        ""
        if result.returncode == 0
        else f" (exit {result.returncode}: {output.splitlines()[-2:][0]})"
    )
    print(f"  {label:26} {seconds:7.1f} s{said}", file=sys.stderr)
    return seconds, output


def count_images(root: Path) -> int:
    return sum(1 for path in (root / "containerfiles").glob("*/Containerfile"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    common_arguments(parser, PREVIOUS)
    parser.add_argument(
        "--skip-pin", action="store_true", help="time the current path's `make` only"
    )
    parser.add_argument("--skip-make", action="store_true", help="time the pins only")
    args = resolved(parser.parse_args())
    python = sys.executable
    rows: list[tuple[str, str, float | None, float | None]] = []
    with tempfile.TemporaryDirectory(prefix="bench-whole-set-") as scratch:
        work = Path(scratch)
        # the previous path renders the whole set only from its own pin: with --skip-pin it
        # has nothing to render, so only the current path is timed
        roots = {"current": work / "current"}
        extras = {"current": current_inputs(roots["current"])}
        if not args.skip_pin:
            roots = {"previous": work / "previous", **roots}
            extras["previous"] = previous_inputs(args.previous, roots["previous"])
        figures: dict[str, dict[str, float]] = {"previous": {}, "current": {}}
        outputs: dict[str, str] = {}
        for label, root in roots.items():
            home = work / f"{label}-home"
            home.mkdir()
            env = environment(home, root / "scripts", args, extras[label])
            if not args.skip_pin:
                seconds, output = timed(
                    f"{label} cold pin",
                    [python, "-m", "tcibsrc", "pin-python-deps", "--force"],
                    root,
                    env,
                )
                figures[label]["cold pin"] = seconds
                outputs[label] = output
            if not args.skip_make:
                # the toolkit's own venv serves both paths (`make` would bootstrap one)
                ready = work / f"{label}-venv-ready"
                ready.touch()
                make = ["make", f"STAMP={ready}", f"CLI={python} -m tcibsrc"]
                failing = label == "previous"
                timed(f"{label} make (first run)", make, root, env, may_fail=failing)
                seconds, _ = timed(f"{label} make (second run)", make, root, env, may_fail=failing)
                figures[label]["make, second run"] = seconds
                figures[label]["images"] = count_images(root)
        for key in ("cold pin", "make, second run"):
            if key in figures["current"]:
                rows.append((key, "", figures["previous"].get(key), figures["current"].get(key)))
    images = {label: int(f.get("images", 0)) for label, f in figures.items()}
    print(
        f"\nbench/whole_set.py: index {args.index_url}, {os.cpu_count()} cores "
        f"(previous = {args.previous}, its config switched to the whole set)"
    )
    if images["current"]:
        before = images["previous"] or "-"
        print(f"  images rendered: previous {before}, current {images['current']}")
    print(f"  {'':18} {'previous':>10} {'current':>10} {'target':>8}")
    for key, _unused, old, new in rows:
        target = TARGET_PIN if key == "cold pin" else TARGET_MAKE
        shown_old = f"{old:8.1f} s" if old is not None else "       - "
        verdict = "ok" if new is not None and new <= target else "OVER"
        print(f"  {key:18} {shown_old} {new:8.1f} s {target:6.0f} s {verdict}")
    timing = [line for line in outputs.get("current", "").splitlines() if line.startswith("time:")]
    if timing:
        print(f"\ncurrent cold pin, where the time goes: {' '.join(timing)}")


if __name__ == "__main__":
    main()

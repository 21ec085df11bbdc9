"""What the benchmarks share: a clean environment from a fresh HOME, the common arguments,
and a commit's files unpacked with `git archive`."""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import tarfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def archive(revision: str, paths: list[str], into: Path) -> Path:
    """`paths` of the repository at `revision`, unpacked into `into`."""
    data = subprocess.run(
        ["git", "-C", str(REPO), "archive", "--format=tar", revision, *paths],
        check=True,
        capture_output=True,
    ).stdout
    into.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data)) as handle:
        handle.extractall(into, filter="data")
    return into


def environment(
    home: Path, scripts: Path, args: argparse.Namespace, extra: dict[str, str] | None = None
) -> dict[str, str]:
    """The caller's environment without its caches' settings, HOME a fresh directory (so
    uv's, pip's and ours start empty), the toolkit at `scripts`."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("UV_", "PIP_", "XDG_", "TCIBSRC_"))
    }
    env.update(
        HOME=str(home),
        PYTHONPATH=str(scripts),
        PYENV_ROOT=os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv")),
        TCIB_DIR=str(args.tcib_dir),
        INDEX_URL=args.index_url,
        **(extra or {}),
    )
    if args.upper_constraints:
        env["UPPER_CONSTRAINTS"] = str(args.upper_constraints)
    return env


def common_arguments(parser: argparse.ArgumentParser, previous: str) -> None:
    parser.add_argument("--previous", default=previous, help=f"(default {previous})")
    parser.add_argument(
        "--index-url", default=os.environ.get("INDEX_URL", "https://pypi.org/simple")
    )
    parser.add_argument("--upper-constraints", default=os.environ.get("UPPER_CONSTRAINTS"))
    parser.add_argument("--tcib-dir", default=os.environ.get("TCIB_DIR"))


def resolved(args: argparse.Namespace) -> argparse.Namespace:
    args.tcib_dir = Path(args.tcib_dir or REPO / "tcib" / "container-images").resolve()
    if args.upper_constraints:
        args.upper_constraints = Path(args.upper_constraints).resolve()
    return args

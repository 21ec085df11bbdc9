"""`tcibsrc lock-rpms`: rpms.in.yaml -> rpms.lock.yaml with rpm-lockfile-prototype (external)."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from tcibsrc.common.atomic import replace_files
from tcibsrc.common.context import Context
from tcibsrc.common.errors import Problem, ToolkitError
from tcibsrc.common.yamlio import load_yaml
from tcibsrc.containers.render import render_files
from tcibsrc.rpm.lock_checks import lock_problems, repo_problems, repo_sections, requested_packages
from tcibsrc.rpm.lock_inputs import RPMS_IN, RPMS_LOCK, RPMS_REPO

TOOL = "rpm-lockfile-prototype"
DEFAULT_IMAGE = "quay.io/konflux-ci/rpm-lockfile-prototype:latest"
INSTALL_HINT = (
    "install it: python3 -m venv --system-site-packages ~/rpm-lockfile && "
    "~/rpm-lockfile/bin/pip install "
    "https://github.com/konflux-ci/rpm-lockfile-prototype/archive/refs/tags/v0.30.1.tar.gz "
    "(needs the distro's python3-dnf and rpm), then put ~/rpm-lockfile/bin on PATH; or install "
    f"podman to use {DEFAULT_IMAGE}"
)


def locker_command(root: Path, outfile: str) -> list[str]:
    """How to run rpm-lockfile-prototype here: from PATH, else its image with podman."""
    program = os.environ.get("RPM_LOCKFILE_PROTOTYPE") or shutil.which(TOOL)
    if program:
        return [program, "--bare", "--outfile", outfile, RPMS_IN]
    podman = shutil.which("podman")
    if podman:
        image = os.environ.get("RPM_LOCKFILE_PROTOTYPE_IMAGE", DEFAULT_IMAGE)
        return [
            podman,
            "run",
            "--rm",
            "-v",
            f"{root}:/work:Z",
            "-w",
            "/work",
            image,
            "--bare",
            "--outfile",
            outfile,
            RPMS_IN,
        ]
    raise ToolkitError(TOOL, "not found on PATH, and podman is not installed", INSTALL_HINT)


def validate(root: Path, lock_text: str, lock_display: str) -> list[Problem]:
    rpms_in = load_yaml(root / RPMS_IN, display=RPMS_IN)
    repo_text = (root / RPMS_REPO).read_text(encoding="utf-8")
    problems = list(
        lock_problems(
            lock_text,
            lock_display,
            requested_packages(rpms_in),
            list(rpms_in.get("arches") or []),
            repo_sections(repo_text, RPMS_REPO),
        )
    )
    return problems


def run(ctx: Context, args: argparse.Namespace) -> int:
    root = ctx.repo_root
    files = render_files(ctx)
    replace_files(root, {name: files[name] for name in (RPMS_IN, RPMS_REPO)}, [])
    fd, temporary = tempfile.mkstemp(prefix=".rpms.lock.", suffix=".yaml", dir=root)
    os.close(fd)
    try:
        command = locker_command(root, Path(temporary).name)
        result = subprocess.run(command, cwd=root, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
            raise ToolkitError(
                TOOL,
                f"failed (exit {result.returncode}): {lines[-1] if lines else 'no output'}",
                "check rpms.repo reaches the repositories",
            )
        text = Path(temporary).read_text(encoding="utf-8")
        repo_text = (root / RPMS_REPO).read_text(encoding="utf-8")
        problems = [
            problem for problem in repo_problems(repo_text, RPMS_REPO) if not problem.is_warning
        ]
        problems += validate(root, text, "new rpms.lock.yaml")
        if problems:
            first = problems[0]
            raise ToolkitError(
                first.where,
                f"{first.message} ({first.fix})" if first.fix else first.message,
                f"{len(problems)} problem(s); rpms.lock.yaml left unchanged",
            )
        os.replace(temporary, root / RPMS_LOCK)
    finally:
        Path(temporary).unlink(missing_ok=True)
    print(f"{RPMS_LOCK}: locked with {Path(command[0]).name}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "lock-rpms", help="lock rpms.in.yaml with rpm-lockfile-prototype into rpms.lock.yaml"
    )
    parser.set_defaults(handler=run)

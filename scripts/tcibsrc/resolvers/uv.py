"""The default backend: `uv pip compile`, which resolves for the target whatever the host is."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from tcibsrc.resolvers.base import Resolution, ResolveRequest, finish, run_backend, write_input
from tcibsrc.target_python import find_python

PLATFORM = {"x86_64": "x86_64-unknown-linux-gnu", "aarch64": "aarch64-unknown-linux-gnu"}


def uv_executable() -> str:
    beside = Path(sys.executable).with_name("uv")
    return str(beside) if beside.exists() else (shutil.which("uv") or "uv")


def resolve(request: ResolveRequest) -> Resolution:
    source, output = write_input(request)
    python, exact = find_python(request.python_version)
    command = [
        uv_executable(),
        "pip",
        "compile",
        str(source),
        "--output-file",
        str(output),
        "--python-version",
        request.python_version,
        "--python-platform",
        PLATFORM.get(request.arch, f"{request.arch}-unknown-linux-gnu"),
        "--no-binary",
        ":all:",  # only versions with an sdist: hermeto fetches sdists
        "--index-url",
        request.index_url,
        "--no-config",
        "--no-header",
        "--annotation-style",
        "split",
        "--quiet",
    ]
    if exact:
        command += ["--python", python]  # builds sdist metadata, when needed, on the target
    for constraint in request.constraint_files:
        command += ["--constraints", str(constraint)]
    env = {key: value for key, value in os.environ.items() if not key.startswith("UV_INDEX")}
    env["UV_PYTHON_DOWNLOADS"] = "never"
    try:
        run_backend(command, env, "uv pip compile")
        return finish(output.read_text(encoding="utf-8"))
    finally:
        source.unlink(missing_ok=True)
        output.unlink(missing_ok=True)

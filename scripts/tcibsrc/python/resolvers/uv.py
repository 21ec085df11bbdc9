"""The default backend: `uv pip compile`, which resolves for the target whatever the host is."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tcibsrc.python.resolvers.base import (
    Resolution,
    ResolveRequest,
    compile_and_read,
    tool_beside_python,
    write_input,
)
from tcibsrc.python.target_python import find_python

SELECTING_LOG = "uv_resolver::resolver=debug"
PLATFORM = {"x86_64": "x86_64-unknown-linux-gnu", "aarch64": "aarch64-unknown-linux-gnu"}


def uv_executable() -> str:
    return tool_beside_python("uv")


def _build_settings(request: ResolveRequest, source: Path) -> Path:
    """A uv.toml with the policies' extra build requirements: uv adds each to that package's
    build environment when it has to build its metadata."""
    lines = ["[extra-build-dependencies]"]
    lines += [
        f"{json.dumps(name)} = {json.dumps(list(items))}"
        for name, items in sorted(request.extra_build_requires.items())
    ]
    path = source.with_suffix(".uv.toml")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


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
    ]
    if exact:
        command += ["--python", python]  # builds sdist metadata, when needed, on the target
    for constraint in request.constraint_files:
        command += ["--constraints", str(constraint)]
    if request.extra_build_requires:
        command += ["--config-file", str(_build_settings(request, source))]
    env = {key: value for key, value in os.environ.items() if not key.startswith("UV_INDEX")}
    env["UV_PYTHON_DOWNLOADS"] = "never"
    # the resolver's "Selecting:" lines only: the progress shown while it runs (`-v` would
    # add thousands of lines about the cache and the network)
    env["RUST_LOG"] = SELECTING_LOG
    return compile_and_read(command, env, "uv pip compile", request, source, output)

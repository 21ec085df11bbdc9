"""pip-tools' `pip-compile`, for packagers who run it inside the builder image.

It resolves for the interpreter it runs on (run it with the target Python) and builds sdist
metadata, so system headers must be present for packages such as gssapi or mod_wsgi.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from tcibsrc.resolvers.base import Resolution, ResolveRequest, finish, run_backend, write_input


def pip_compile_executable() -> str:
    beside = Path(sys.executable).with_name("pip-compile")
    return str(beside) if beside.exists() else (shutil.which("pip-compile") or "pip-compile")


def resolve(request: ResolveRequest) -> Resolution:
    source, output = write_input(request)
    command = [
        pip_compile_executable(),
        str(source),
        "--output-file",
        str(output),
        "--index-url",
        request.index_url,
        "--pip-args",
        "--no-binary :all:",
        "--no-emit-options",
        "--no-header",
        "--annotation-style",
        "split",
        "--allow-unsafe",
        "--strip-extras",
        "--quiet",
        "--no-reuse-hashes",
        "--cache-dir",
        str(request.workdir / "pip-tools-cache"),
    ]
    for constraint in request.constraint_files:
        command += ["--constraint", str(constraint)]
    # The machine's pip configuration (extra indexes, find-links) must not leak in.
    env = {key: value for key, value in os.environ.items() if not key.startswith("PIP_")}
    env.update(
        {"PIP_CONFIG_FILE": os.devnull, "PIP_NO_INPUT": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    )
    try:
        run_backend(command, env, "pip-compile")
        return finish(output.read_text(encoding="utf-8"))
    finally:
        source.unlink(missing_ok=True)
        output.unlink(missing_ok=True)

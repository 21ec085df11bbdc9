"""pip-tools' `pip-compile`, for packagers who run it inside the builder image.

It resolves for the interpreter it runs on (run it with the target Python) and builds sdist
metadata, so system headers must be present for packages such as gssapi or mod_wsgi.
"""

from __future__ import annotations

import os

from packaging.requirements import Requirement

from tcibsrc.python.resolvers.base import (
    Resolution,
    ResolveRequest,
    compile_and_read,
    tool_beside_python,
    write_input,
)


def pip_compile_executable() -> str:
    return tool_beside_python("pip-compile")


def build_constraints(request: ResolveRequest) -> list[str]:
    """The extra build requirements that limit a version (`setuptools<82`), as constraints."""
    found = set()
    for items in request.extra_build_requires.values():
        for text in items:
            requirement = Requirement(text)
            if requirement.specifier:
                found.add(f"{requirement.name}{requirement.specifier}")
    return sorted(found)


def resolve(request: ResolveRequest) -> Resolution:
    """(pip-tools does not pass pip's --uploaded-prior-to on: the cutoff is the local index's,
    see local_index.)"""
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
        "--verbose",  # one line per package: the progress shown while it runs
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
    constraints = build_constraints(request)
    if constraints:
        # pip has no build settings per package: the policies' version limits on build tools
        # (setuptools<82) hold in every metadata build it makes (PIP_CONSTRAINT reaches the
        # isolated build environments, not pip-compile's own resolution)
        path = source.with_suffix(".build-constraints.txt")
        path.write_text("\n".join(constraints) + "\n", encoding="utf-8")
        env["PIP_CONSTRAINT"] = str(path)
    return compile_and_read(command, env, "pip-compile", request, source, output)

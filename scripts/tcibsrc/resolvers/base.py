"""What every resolver backend takes and gives back."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from packaging.utils import NormalizedName, canonicalize_name

from tcibsrc.errors import ToolkitError
from tcibsrc.lockfile import Pin, read_pins


class ResolverError(ToolkitError):
    """The resolver could not produce pins."""


@dataclass(frozen=True)
class ResolveRequest:
    """One resolution: requirements, constraint files, target and index."""

    requirements: list[str]
    constraint_files: list[Path]
    python_version: str
    arch: str
    index_url: str
    workdir: Path
    # Versions to keep when they fit (written as the existing output file, as both tools read it).
    preferences: dict[str, str] = field(default_factory=dict)


@dataclass
class Resolution:
    """Pins and the dependency edges between them (consumer -> dependencies)."""

    pins: dict[NormalizedName, Pin]
    roots: set[NormalizedName] = field(default_factory=set)

    def dependencies(self) -> dict[NormalizedName, set[NormalizedName]]:
        edges: dict[NormalizedName, set[NormalizedName]] = {name: set() for name in self.pins}
        for pin in self.pins.values():
            for consumer in pin.via:
                if not consumer.startswith("-"):
                    parent = canonicalize_name(consumer.split("[", 1)[0])
                    if parent in edges:
                        edges[parent].add(pin.name)
        return edges

    def versions(self) -> dict[NormalizedName, str]:
        return {name: pin.version for name, pin in sorted(self.pins.items())}


def finish(text: str) -> Resolution:
    """Read resolver output: roots are the pins required by the input file itself."""
    pins = read_pins(text)
    roots = {name for name, pin in pins.items() if any(item.startswith("-r ") for item in pin.via)}
    for pin in pins.values():
        pin.via = {item for item in pin.via if not item.startswith("-")}
        pin.hashes = []
    return Resolution(pins=pins, roots=roots)


def write_input(request: ResolveRequest) -> tuple[Path, Path]:
    """(input file, output file): requirements in; preferences pre-written as the output."""
    request.workdir.mkdir(parents=True, exist_ok=True)
    source = Path(tempfile.mkstemp(prefix="resolve-", suffix=".in", dir=request.workdir)[1])
    source.write_text("\n".join(request.requirements) + "\n", encoding="utf-8")
    output = source.with_suffix(".txt")
    output.write_text(
        "".join(f"{name}=={version}\n" for name, version in sorted(request.preferences.items())),
        encoding="utf-8",
    )
    return source, output


_HASH_MISMATCH = re.compile(r"[Hh]ash mismatch for `?(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*==[^`\s]+)")
_NO_SDIST = re.compile(
    r"(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(?:==\S+)? (?:has no source distribution|"
    r"has no usable source distribution|only has wheels)"
)


def run_backend(command: list[str], env: dict[str, str] | None, name: str) -> str:
    """Run a backend; on failure, one line that says why (and which package lacks an sdist)."""
    try:
        result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    except FileNotFoundError as exc:
        raise ResolverError(
            name,
            f"`{command[0]}` is not installed",
            "run `make venv`; it installs the pinned resolvers",
        ) from exc
    if result.returncode != 0:
        output = result.stderr + result.stdout
        mismatch = _HASH_MISMATCH.search(output)
        if mismatch:
            raise ResolverError(
                mismatch.group("name"),
                "hash mismatch: the downloaded sdist does not match the sha256 the index lists",
                "the file on the index changed or is corrupt; do not pin it until that is "
                "explained",
            )
        missing = _NO_SDIST.search(output)
        if missing:
            package = missing.group("name")
            raise ResolverError(
                package,
                "no version has an sdist, and hermeto fetches sdists only",
                f"set packages.{package} in config.yaml: source: git with git_url and "
                "git_commit, or a version that has an sdist",
            )
        lines = [line.strip() for line in output.splitlines() if line.strip()]
        reason = next(
            (line for line in lines if "error" in line.lower()),
            lines[-1] if lines else f"exit {result.returncode}",
        )
        detail = " ".join(
            line for line in lines if line.startswith(("╰", "Because", "And", "cause:"))
        )[:600]
        raise ResolverError(
            name,
            f"resolution failed: {reason}{' ' + detail if detail else ''}",
            "check the requirements and constraints named above",
        )
    return result.stdout


def tool_beside_python(name: str) -> str:
    """A console script of this virtualenv (pinned), else one on PATH."""
    beside = Path(sys.executable).with_name(name)
    return str(beside) if beside.exists() else (shutil.which(name) or name)


def compile_and_read(
    command: list[str], env: dict[str, str], name: str, source: Path, output: Path
) -> Resolution:
    """Run a backend that writes `output` from `source`; clean both up whatever happens."""
    try:
        run_backend(command, env, name)
        return finish(output.read_text(encoding="utf-8"))
    finally:
        source.unlink(missing_ok=True)
        output.unlink(missing_ok=True)


Backend = Callable[[ResolveRequest], Resolution]


def resolver_named(name: str) -> Backend:
    from tcibsrc.resolvers import pip_compile, uv

    backends: dict[str, Backend] = {"uv": uv.resolve, "pip-compile": pip_compile.resolve}
    if name not in backends:
        raise ResolverError(
            f"RESOLVER={name}", "unknown resolver", f"use one of: {', '.join(backends)}"
        )
    return backends[name]

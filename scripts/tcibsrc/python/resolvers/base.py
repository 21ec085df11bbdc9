"""What every resolver backend takes and gives back."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

from packaging.utils import NormalizedName, canonicalize_name

from tcibsrc.common.errors import ToolkitError
from tcibsrc.common.progress import Progress
from tcibsrc.python.lockfile import Pin, read_pins


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
    # How messages name the files: the input (its requirements come from these files) and
    # the constraint files, instead of their scratch paths.
    input_name: str = "requirements/all.in"
    display_names: dict[Path, str] = field(default_factory=dict)
    # shown with a progress line when set (the long resolution of every image's requirements)
    progress_label: str | None = None
    # `index_url` is the run's local index (local_index); messages name the real one
    shown_index_url: str = ""
    # name -> requirements its metadata build needs and does not declare (package policies)
    extra_build_requires: dict[str, tuple[str, ...]] = field(default_factory=dict)


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
# uv: "all versions of foo have no source distribution", "foo==1.0 has no source distribution"
_NO_SDIST = re.compile(
    r"(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(?:==\S+)? (?:(?:has|have) no (?:usable )?source "
    r"distribution|only has wheels)"
)
NOT_FOUND = re.compile(
    r"(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*) was not found in the package registry"
)
_NETWORK = re.compile(
    r"dns error|failed to lookup address|Name or service not known|Temporary failure in name "
    r"resolution|Connection refused|Failed to establish a new connection|Network is unreachable|"
    r"error sending request|No route to host|timed out|Max retries exceeded",
    re.IGNORECASE,
)
_HTTP_STATUS = re.compile(
    r"HTTP status (?:server|client) error \((?P<code>\d+)[^)]*\) for url \((?P<url>[^)\s]+)\)"
)
# pip shows a failed build step's own output between these two lines
_SUBPROCESS_OUTPUT = re.compile(r"╰─> \[\d+ lines of output\]")
_SUBPROCESS_END = "[end of output]"
_PROGRESS_ITEM = re.compile(r"^\s*(?:DEBUG )?(?:Collecting|Selecting:?)\s+(?P<item>[^\s(\[]+)")
TAIL_LINES = 15
FAILURE_MARK = "\u00d7"  # the multiplication sign pip and uv put before a failure


def _shown(line: str, names: dict[str, str]) -> str:
    """A line of tool output with our scratch paths replaced by what the user knows."""
    for path, name in sorted(names.items(), key=lambda item: -len(item[0])):
        line = line.replace(path, name)
    return line


def _subprocess_block(lines: list[str]) -> tuple[str | None, list[str]]:
    """(package being collected, its failed build step's output) from pip's verbose log."""
    package = None
    for index, line in enumerate(lines):
        found = _PROGRESS_ITEM.match(line)
        if found:
            package = found.group("item")
        if _SUBPROCESS_OUTPUT.search(line):
            block = []
            for inner in lines[index + 1 :]:
                if _SUBPROCESS_END in inner:
                    break
                block.append(inner)
            return package, [item for item in block if item.strip()]
    return None, []


def _failure(lines: list[str], returncode: int, name: str, index_url: str) -> ResolverError:
    """The one error line for a failed resolution, with the resolver's own last lines."""
    meaningful = [line.rstrip() for line in lines if line.strip() and not line.startswith("DEBUG")]
    tail = meaningful[-TAIL_LINES:]
    output = "\n".join(meaningful)
    mismatch = _HASH_MISMATCH.search(output)
    if mismatch:
        return ResolverError(
            mismatch.group("name"),
            "hash mismatch: the downloaded sdist does not match the sha256 the index lists",
            "the file on the index changed or is corrupt; do not pin it until that is explained",
        )
    missing = _NO_SDIST.search(output)
    if missing:
        package = missing.group("name")
        return ResolverError(
            package,
            "no version has an sdist, and hermeto fetches sdists only",
            f"drop it, or hold it to a version that has an sdist with packages.{package}."
            "version in config.yaml",
        )
    http = _HTTP_STATUS.search(output)
    if http:
        return ResolverError(
            http["url"],
            f"the index answered HTTP {http['code']}, also when asked again",
            "try again later, or set INDEX_URL to a mirror",
        )
    network = [line for line in meaningful if _NETWORK.search(line)]
    if network:
        # the last "Caused by:" is the most specific (dns error, connection refused)
        cause = network[-1].strip().removeprefix("Caused by:").strip()
        return ResolverError(
            index_url,
            f"the package index cannot be reached: {cause[:300]}",
            "check the network, or set INDEX_URL to a reachable mirror",
        )
    package, block = _subprocess_block(meaningful)
    if block:
        return ResolverError(
            package or name,
            f"a build step failed while reading its metadata: {block[-1].strip()[:300]}",
            "its last lines are above; a missing system package (headers, a compiler) is the "
            "usual cause, or run the resolver where the target's build tools exist",
            details=block[-TAIL_LINES:],
        )
    reason = next(
        (
            line.strip()
            for line in meaningful
            if "error" in line.lower() or line.startswith(FAILURE_MARK)
        ),
        meaningful[-1].strip() if meaningful else f"exit {returncode}",
    )
    # uv explains a conflict in "Because ..." / "╰─▶ ..." lines: they name the packages
    because = " ".join(
        line.strip().lstrip("╰─▶ ").removeprefix("cause:").strip()
        for line in meaningful
        if line.strip().startswith(("╰", "Because", "And because", "cause:"))
    )
    if because:
        reason = f"{reason}: {because}"
    return ResolverError(
        name,
        f"resolution failed: {reason[:600]}",
        "the resolver's last lines are above" if tail else None,
        details=tail,
    )


_RUNNING: set[subprocess.Popen[str]] = set()
_RUNNING_LOCK = threading.Lock()
_STOPPING = threading.Event()


def stop_running_backends() -> None:
    """Kill every resolver still running: uv ignores SIGINT while it waits on an index, and
    a thread pool would wait for it (minutes, until uv's own timeouts) before Ctrl-C ends."""
    with _RUNNING_LOCK:
        _STOPPING.set()  # a resolver that another thread starts from now on is killed too
        for process in _RUNNING:
            if process.poll() is None:
                process.kill()


def run_backend(
    command: list[str],
    env: dict[str, str] | None,
    name: str,
    *,
    index_url: str = "",
    names: dict[str, str] | None = None,
    label: str | None = None,
) -> str:
    """Run a backend, showing progress; on failure, one line that says why.

    The tool's output is read as it comes: each package it collects advances a progress line
    (a resolution of the whole set takes minutes with pip-compile), and the last lines are kept
    so a failure shows what the tool itself said. Scratch paths are shown by the names in
    `names` (the requirement files they were made from).
    """
    names = names or {}
    try:
        process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
            errors="replace",
        )
    except FileNotFoundError as exc:
        raise ResolverError(
            name,
            f"`{command[0]}` is not installed",
            "run `make venv`; it installs the pinned resolvers",
        ) from exc
    lines: list[str] = []
    assert process.stdout is not None
    with _RUNNING_LOCK:
        _RUNNING.add(process)
        if _STOPPING.is_set():
            process.kill()
    with Progress(f"{label}: packages", None) if label else nullcontext() as progress:
        try:
            for raw in process.stdout:
                line = _shown(raw.rstrip("\n"), names)
                lines.append(line)
                found = _PROGRESS_ITEM.match(line)
                if found and progress is not None:
                    progress.advance(found.group("item"))
        finally:
            if process.poll() is None:
                process.kill()
            returncode = process.wait()
            with _RUNNING_LOCK:
                _RUNNING.discard(process)
    if returncode != 0:
        raise _failure(lines, returncode, name, index_url)
    return "\n".join(lines)


def tool_beside_python(name: str) -> str:
    """A console script of this virtualenv (pinned), else one on PATH."""
    beside = Path(sys.executable).with_name(name)
    return str(beside) if beside.exists() else (shutil.which(name) or name)


def compile_and_read(
    command: list[str],
    env: dict[str, str],
    name: str,
    request: ResolveRequest,
    source: Path,
    output: Path,
) -> Resolution:
    """Run a backend that writes `output` from `source`; clean both up whatever happens."""
    names = {str(path): shown for path, shown in request.display_names.items()}
    names[str(source)] = request.input_name
    names[str(request.workdir)] = "<scratch>"
    if request.shown_index_url:
        names[request.index_url] = request.shown_index_url
    try:
        run_backend(
            command,
            env,
            name,
            index_url=request.shown_index_url or request.index_url,
            names=names,
            label=f"{request.progress_label}: {name} ({request.arch})"
            if request.progress_label
            else None,
        )
        return finish(output.read_text(encoding="utf-8"))
    finally:
        source.unlink(missing_ok=True)
        output.unlink(missing_ok=True)


Backend = Callable[[ResolveRequest], Resolution]


def resolver_named(name: str) -> Backend:
    from tcibsrc.python.resolvers import pip_compile, uv

    backends: dict[str, Backend] = {"uv": uv.resolve, "pip-compile": pip_compile.resolve}
    if name not in backends:
        raise ResolverError(
            f"RESOLVER={name}", "unknown resolver", f"use one of: {', '.join(backends)}"
        )
    return backends[name]

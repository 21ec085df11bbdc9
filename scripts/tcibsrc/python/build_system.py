"""What an sdist declares about its build: PEP 517 backend and PEP 518 requirements.

Read statically from the archive; `needs_hook` says when the static list may be incomplete and
the PEP 517 `get_requires_for_build_wheel` hook has to be asked. An archive is read once (its
top-level files and whether it carries compiled sources, in one pass) and the result kept in
the cache by the sdist's sha256: a warm pin reads no archive.
"""

from __future__ import annotations

import ast
import configparser
import dataclasses
import io
import json
import os
import tarfile
import tempfile
import tomllib
import zipfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from tcibsrc.common.cache import cache_dir
from tcibsrc.common.checksum import sha256_file
from tcibsrc.common.errors import ToolkitError

LEGACY_BACKEND = "setuptools.build_meta:__legacy__"
# pip's fallback for an sdist without [build-system]. pip before 25.1 (CentOS Stream 10's
# python3-pip is 23.x) also installs `wheel`, so the closure must hold it.
LEGACY_REQUIRES = ("setuptools>=40.8.0", "wheel")
SETUPTOOLS_BACKENDS = ("setuptools.build_meta", "setuptools.build_meta:__legacy__", "pbr.build")
# Backends whose build requirements are all in [build-system] unless a plugin is configured.
STATIC_BACKENDS = (
    "flit_core.buildapi",
    "poetry.core.masonry.api",
    "pdm.backend",
    "maturin",
    "mesonpy",
)
WATCHED_FILES = ("pyproject.toml", "setup.py", "setup.cfg", "bindep.txt")
# sources that need a compiler, when outside tests and docs
COMPILED_SUFFIXES = (".c", ".cc", ".cpp", ".cxx", ".pyx", ".rs")
SKIPPED_DIRS = ("test", "tests", "testing", "doc", "docs", "examples", "benchmarks")


class BuildSystemError(ToolkitError):
    """An sdist cannot be read."""


@dataclass(frozen=True)
class BuildSystem:
    backend: str
    requires: tuple[str, ...]
    backend_path: tuple[str, ...]
    declared: bool  # False: no [build-system], pip's legacy fallback applies
    needs_hook: bool
    static_extra: tuple[str, ...]  # setup_requires read statically (setuptools backends)
    bindep: str | None
    rust: bool
    compiled_sources: bool = False  # C, C++, Cython or Rust sources outside tests and docs
    # a Rust build tool among the requirements read without running code (pyproject's
    # requires, a literal setup_requires): what hermeto reads to decide to vendor crates
    rust_declared: bool = False


def is_compiled_source(member: str) -> bool:
    parts = member.split("/")[1:]
    if any(part.lower() in SKIPPED_DIRS for part in parts[:-1]):
        return False
    return member.endswith(COMPILED_SUFFIXES)


def _read_archive(path: Path) -> tuple[dict[str, bytes], bool]:
    """(the watched files at the sdist's top directory, whether it has compiled sources)."""
    found: dict[str, bytes] = {}
    compiled = False
    try:
        if path.name.endswith(".zip"):
            with zipfile.ZipFile(path) as archive:
                for member in archive.namelist():
                    compiled = compiled or is_compiled_source(member)
                    parts = member.split("/")
                    if len(parts) == 2 and parts[1] in WATCHED_FILES:
                        found[parts[1]] = archive.read(member)
        else:
            with tarfile.open(path) as archive:
                for member in archive:
                    compiled = compiled or is_compiled_source(member.name)
                    parts = member.name.lstrip("./").split("/")
                    if len(parts) == 2 and parts[1] in WATCHED_FILES and member.isfile():
                        extracted = archive.extractfile(member)
                        if extracted is not None:
                            found[parts[1]] = extracted.read()
    except (tarfile.TarError, zipfile.BadZipFile, OSError, EOFError) as exc:
        raise BuildSystemError(
            path.name,
            f"cannot read the archive ({exc})",
            "the file is corrupt; clear the cache and re-pin",
        ) from exc
    return found, compiled


def _setup_cfg_setup_requires(text: str) -> list[str] | None:
    """`[options] setup_requires` of setup.cfg; None when the file cannot be read."""
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text)
    except configparser.Error:
        return None
    value = parser.get("options", "setup_requires", fallback="")
    items = [
        item.strip()
        for line in value.splitlines()
        for item in line.split(";")
        if item.strip() and not item.strip().startswith("#")
    ]
    return items


def _literal_strings(node: ast.expr) -> list[str] | None:
    if isinstance(node, ast.List | ast.Tuple) and all(
        isinstance(item, ast.Constant) and isinstance(item.value, str) for item in node.elts
    ):
        return [item.value for item in node.elts]  # type: ignore[attr-defined]
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    return None


def _setup_py_setup_requires(text: str) -> list[str] | None:
    """setup_requires of the setup() call when it is a literal; None when it is not."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return None
    calls = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and getattr(node.func, "id", getattr(node.func, "attr", None)) == "setup"
    ]
    if len(calls) != 1:
        return None
    found: list[str] = []
    for keyword in calls[0].keywords:
        if keyword.arg is None:
            return None  # setup(**kwargs): cannot tell statically
        if keyword.arg == "setup_requires":
            literal = _literal_strings(keyword.value)
            if literal is None:
                return None
            found = literal
    return found


def static_setup_requires(files: dict[str, bytes]) -> list[str] | None:
    """What setuptools' get_requires_for_build_wheel would add, when readable statically.

    setuptools returns the setup_requires of setup.cfg and setup.py; None means a hook call is
    needed to know.
    """
    from_cfg = _setup_cfg_setup_requires(files.get("setup.cfg", b"").decode("utf-8", "replace"))
    if from_cfg is None:
        return None
    from_py: list[str] = []
    if "setup.py" in files:
        parsed = _setup_py_setup_requires(files["setup.py"].decode("utf-8", "replace"))
        if parsed is None:
            return None
        from_py = parsed
    return list(dict.fromkeys([*from_cfg, *from_py]))


def _hatch_has_hooks(pyproject: dict) -> bool:
    hatch = pyproject.get("tool", {}).get("hatch", {})
    return bool(
        hatch.get("build", {}).get("hooks")
        or hatch.get("metadata", {}).get("hooks")
        or any(
            target.get("hooks")
            for target in hatch.get("build", {}).get("targets", {}).values()
            if isinstance(target, dict)
        )
    )


def _mentions_rust(requires: tuple[str, ...], files: dict[str, bytes]) -> bool:
    text = " ".join(requires).lower()
    for name in ("setup.py", "setup.cfg"):
        text += files.get(name, b"").decode("utf-8", "replace").lower()
    return "maturin" in text or "setuptools-rust" in text or "setuptools_rust" in text


RUST_BUILD_TOOLS = ("maturin", "setuptools-rust", "setuptools_rust")


def _declares_rust(requires: tuple[str, ...]) -> bool:
    return any(text.strip().lower().startswith(RUST_BUILD_TOOLS) for text in requires)


def read_build_system(path: Path) -> BuildSystem:
    """The build system of the sdist at `path`."""
    files, compiled = _read_archive(path)
    bindep = files["bindep.txt"].decode("utf-8", "replace") if "bindep.txt" in files else None
    pyproject: dict = {}
    if "pyproject.toml" in files:
        try:
            pyproject = tomllib.load(io.BytesIO(files["pyproject.toml"]))
        except tomllib.TOMLDecodeError as exc:
            raise BuildSystemError(
                path.name,
                f"pyproject.toml does not parse ({exc})",
                "report it upstream; set a policy for this package",
            ) from exc
    build_system = pyproject.get("build-system")
    if not isinstance(build_system, dict) or "requires" not in build_system:
        requires, backend, declared = LEGACY_REQUIRES, LEGACY_BACKEND, False
        backend_path: tuple[str, ...] = ()
    else:
        requires = tuple(str(item) for item in build_system.get("requires") or ())
        backend = str(build_system.get("build-backend") or LEGACY_BACKEND)
        backend_path = tuple(str(item) for item in build_system.get("backend-path") or ())
        declared = True
    static_extra: tuple[str, ...] = ()
    if backend == "pbr.build":
        needs_hook = True  # pbr's backend adds its own requirements (e.g. wheel)
    elif backend in SETUPTOOLS_BACKENDS:
        found = static_setup_requires(files)
        needs_hook = found is None
        static_extra = tuple(found or ())
    elif backend == "hatchling.build":
        needs_hook = _hatch_has_hooks(pyproject)
    else:
        needs_hook = backend not in STATIC_BACKENDS
    return BuildSystem(
        backend=backend,
        requires=requires,
        backend_path=backend_path,
        declared=declared,
        needs_hook=needs_hook,
        static_extra=static_extra,
        bindep=bindep,
        rust=_mentions_rust(requires, files),
        compiled_sources=compiled,
        rust_declared=_declares_rust((*requires, *static_extra)),
    )


@cache
def _reader_digest() -> str:
    """This module's own digest: a change to how archives are read invalidates the cache."""
    return sha256_file(Path(__file__))[:16]


def cached_build_system(path: Path, sha256: str) -> BuildSystem:
    """read_build_system of the sdist whose content is `sha256`, through the cache."""
    entry = cache_dir() / "build-systems" / _reader_digest() / f"{sha256}.json"
    try:
        fields = json.loads(entry.read_text(encoding="utf-8"))
        return BuildSystem(
            **{
                key: tuple(value) if isinstance(value, list) else value
                for key, value in fields.items()
            }
        )
    except (OSError, ValueError, TypeError):
        pass  # absent or unreadable: read the archive
    found = read_build_system(path)
    entry.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=entry.parent, suffix=".part")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(dataclasses.asdict(found), handle, sort_keys=True)
    os.replace(temporary, entry)
    return found

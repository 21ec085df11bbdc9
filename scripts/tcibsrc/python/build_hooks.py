"""Ask an sdist's PEP 517 backend for its dynamic build requirements.

The backend runs in a virtualenv holding the package's static build requirements at the
versions the closure pinned, installed from the same index; environments are reused across
packages that pin the same set. The venv uses the target Python when this machine has it
(see target_python), else the host interpreter. An answer is kept in the cache under
everything it depends on (the sdist's sha256, the backend, the pinned environment, the
interpreter): a warm pin asks no hook, and a speculative call made early (see
build_closure.Speculation) serves the real one.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import threading
import zipfile
from pathlib import Path

from tcibsrc.common.cache import cache_dir
from tcibsrc.common.checksum import sha256_text
from tcibsrc.common.errors import ToolkitError
from tcibsrc.python.resolvers.uv import uv_executable
from tcibsrc.python.target_python import find_python

_HOOK_SCRIPT = """
import json, sys
from pyproject_hooks import BuildBackendHookCaller, quiet_subprocess_runner
source, backend, backend_path = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
caller = BuildBackendHookCaller(source, backend, backend_path=backend_path or None,
                                runner=quiet_subprocess_runner)
print(json.dumps(caller.get_requires_for_build_wheel()))
"""


class HookError(ToolkitError):
    """The backend's hook failed."""


_env_locks: dict[str, threading.Lock] = {}
_env_guard = threading.Lock()


BACKGROUND_NICENESS = 10


def _command(arguments: list[str], background: bool) -> list[str]:
    """`arguments`, at a lower CPU priority when run in the background (the head start's
    hooks must not slow the resolution they run beside)."""
    nice = shutil.which("nice") if background else None
    return [nice, "-n", str(BACKGROUND_NICENESS), *arguments] if nice else arguments


def _locked(key: str) -> threading.Lock:
    """One lock per key: two threads wanting the same environment or answer wait for one."""
    with _env_guard:
        return _env_locks.setdefault(key, threading.Lock())


def _environment(
    pins: list[str],
    loose: list[str],
    index_url: str,
    python: str,
    exclude_newer: str | None,
    background: bool = False,
) -> Path:
    """A venv with `pins` installed (plus pyproject_hooks), cached by its content.

    The host interpreter may be older than the target: when a pinned version does not install
    on it, the unpinned requirements (`loose`) are tried before giving up.
    """
    key = sha256_text("\n".join([*sorted(pins), index_url, python, exclude_newer or "no cutoff"]))[
        :16
    ]
    cutoff = ["--exclude-newer", exclude_newer] if exclude_newer else []
    root = cache_dir() / "hook-envs" / key
    with _locked(f"env-{key}"):
        marker = root / ".ready"
        if marker.exists():
            return root
        shutil.rmtree(root, ignore_errors=True)
        uv = uv_executable()
        subprocess.run(
            _command([uv, "venv", "--quiet", "--python", python, str(root)], background),
            check=True,
            capture_output=True,
        )
        hooks_pkg = Path(__import__("pyproject_hooks").__file__).parent
        site = next((root / "lib").glob("python*/site-packages"))
        shutil.copytree(hooks_pkg, site / "pyproject_hooks")
        for attempt in [pins, loose] if pins != loose else [pins]:
            if not attempt:
                break
            result = subprocess.run(
                _command(
                    [
                        uv,
                        "pip",
                        "install",
                        "--quiet",
                        "--python",
                        str(root / "bin" / "python"),
                        "--index-url",
                        index_url,
                        "--no-config",
                        *cutoff,
                        *attempt,
                    ],
                    background,
                ),
                capture_output=True,
                text=True,
                check=False,
            )
            if result.returncode == 0:
                break
        else:
            shutil.rmtree(root, ignore_errors=True)
            last = (result.stderr.strip().splitlines() or ["?"])[-1].strip()
            raise HookError(
                " ".join(pins),
                f"cannot install the build requirements: {last}",
                "check that these versions exist on the index",
            )
        marker.touch()
    return root


def _unpack(archive: Path, into: Path, background: bool = False) -> Path:
    """The sdist's tree under `into`: by `tar` when there is one (nova's 5,000 files in a
    tenth of the time Python's tarfile takes), else by tarfile/zipfile."""
    tar = shutil.which("tar")
    if archive.name.endswith(".zip"):
        with zipfile.ZipFile(archive) as handle:
            handle.extractall(into)
    elif tar:
        done = subprocess.run(
            _command([tar, "-xzf", str(archive), "-C", str(into), "--no-same-owner"], background),
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise HookError(archive.name, f"cannot be unpacked: {done.stderr.strip()[-200:]}")
    else:
        with tarfile.open(archive) as handle:
            handle.extractall(into, filter="data")
    entries = [entry for entry in into.iterdir() if entry.is_dir()]
    return entries[0] if len(entries) == 1 else into


def scratch_directory() -> str | None:
    """Where a hook's tree is unpacked: a tmpfs when the machine has one (/dev/shm), since
    unpacking thousands of files on a disk costs more than the hook; else $TMPDIR."""
    shm = Path("/dev/shm")
    try:
        if shm.is_dir() and os.access(shm, os.W_OK) and _is_tmpfs(shm):
            return str(shm)
    except OSError:
        pass
    return None


def _is_tmpfs(path: Path) -> bool:
    try:
        mounts = Path("/proc/mounts").read_text(encoding="utf-8").splitlines()
    except OSError:
        return False
    return any(
        line.split()[1] == str(path) and line.split()[2] == "tmpfs"
        for line in mounts
        if len(line.split()) > 2
    )


def dynamic_requires(
    archive: Path,
    sdist_sha256: str,
    backend: str,
    backend_path: list[str],
    pins: list[str],
    loose: list[str],
    index_url: str,
    label: str,
    python_version: str,
    exclude_newer: str | None = None,
    background: bool = False,
    variables: dict[str, str] | None = None,
) -> list[str]:
    """What `get_requires_for_build_wheel` returns for the sdist at `archive` (whose content
    is `sdist_sha256`), from the cache when it was asked before in the same environment.
    `background`: at a lower CPU priority (a speculative call). `variables`: the environment
    its build has (packages.<name>.build_environment: dulwich's PURE drops setuptools-rust)."""
    variables = dict(variables or {})
    python = find_python(python_version)[0]
    key = sha256_text(
        json.dumps(
            [
                sdist_sha256,
                backend,
                backend_path,
                sorted(pins),
                loose,
                index_url,
                python,
                python_version,
                exclude_newer,
                _HOOK_SCRIPT,
                *([sorted(variables.items())] if variables else []),
            ]
        )
    )[:32]
    answer = cache_dir() / "hook-results" / f"{key}.json"
    with _locked(f"answer-{key}"):
        try:
            return [str(item) for item in json.loads(answer.read_text(encoding="utf-8"))]
        except (OSError, ValueError, TypeError):
            pass  # not asked yet in this environment (or unreadable): ask
        found = _ask(
            archive,
            backend,
            backend_path,
            pins,
            loose,
            index_url,
            label,
            python,
            exclude_newer,
            background,
            variables,
        )
        answer.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=answer.parent, suffix=".part")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(found, handle)
        os.replace(temporary, answer)
        return found


def _ask(
    archive: Path,
    backend: str,
    backend_path: list[str],
    pins: list[str],
    loose: list[str],
    index_url: str,
    label: str,
    python: str,
    exclude_newer: str | None,
    background: bool = False,
    variables: dict[str, str] | None = None,
) -> list[str]:
    environment = _environment(pins, loose, index_url, python, exclude_newer, background)
    with tempfile.TemporaryDirectory(prefix="tcibsrc-hook-", dir=scratch_directory()) as scratch:
        source = _unpack(archive, Path(scratch), background)
        result = subprocess.run(
            _command(
                [
                    str(environment / "bin" / "python"),
                    "-c",
                    _HOOK_SCRIPT,
                    str(source),
                    backend,
                    json.dumps(backend_path),
                ],
                background,
            ),
            capture_output=True,
            text=True,
            check=False,
            cwd=source,
            timeout=600,
            env={**os.environ, **(variables or {})} if variables else None,
        )
    if result.returncode != 0:
        lines = [line.strip() for line in result.stderr.strip().splitlines() if line.strip()]
        useful = [line for line in lines if "Error" in line or "error" in line]
        tail = (useful or lines or ["no output"])[-1]
        raise HookError(
            label,
            f"get_requires_for_build_wheel failed: {tail}",
            "add the missing build requirement with packages.<name>."
            "extra_build_requires in config.yaml",
        )
    return [str(item) for item in json.loads(result.stdout.strip().splitlines()[-1])]

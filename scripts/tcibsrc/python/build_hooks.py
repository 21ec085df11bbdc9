"""Ask an sdist's PEP 517 backend for its dynamic build requirements.

The backend runs in a virtualenv holding the package's static build requirements at the
versions the closure pinned, installed from the same index; environments are reused across
packages that pin the same set. The venv uses the target Python when this machine has it
(see target_python), else the host interpreter.
"""

from __future__ import annotations

import json
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


def _environment(
    pins: list[str], loose: list[str], index_url: str, python: str, exclude_newer: str | None
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
    with _env_guard:
        lock = _env_locks.setdefault(key, threading.Lock())
    with lock:
        marker = root / ".ready"
        if marker.exists():
            return root
        shutil.rmtree(root, ignore_errors=True)
        uv = uv_executable()
        subprocess.run(
            [uv, "venv", "--quiet", "--python", python, str(root)],
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


def _unpack(archive: Path, into: Path) -> Path:
    if archive.name.endswith(".zip"):
        with zipfile.ZipFile(archive) as handle:
            handle.extractall(into)
    else:
        with tarfile.open(archive) as handle:
            handle.extractall(into, filter="data")
    entries = [entry for entry in into.iterdir() if entry.is_dir()]
    return entries[0] if len(entries) == 1 else into


def dynamic_requires(
    archive: Path,
    backend: str,
    backend_path: list[str],
    pins: list[str],
    loose: list[str],
    index_url: str,
    label: str,
    python_version: str,
    exclude_newer: str | None = None,
) -> list[str]:
    """What `get_requires_for_build_wheel` returns for the sdist at `archive`."""
    python = find_python(python_version)[0]
    environment = _environment(pins, loose, index_url, python, exclude_newer)
    with tempfile.TemporaryDirectory(prefix="hook-") as scratch:
        source = _unpack(archive, Path(scratch))
        result = subprocess.run(
            [
                str(environment / "bin" / "python"),
                "-c",
                _HOOK_SCRIPT,
                str(source),
                backend,
                json.dumps(backend_path),
            ],
            capture_output=True,
            text=True,
            check=False,
            cwd=source,
            timeout=600,
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

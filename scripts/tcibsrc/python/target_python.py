"""Find an interpreter of the images' Python version on this machine, for builds and hooks.

Resolution never needs it (uv resolves for any target), but running PEP 517 hooks and proving
offline builds is more faithful on the target version. Order: $TARGET_PYTHON, `pythonX.Y` on
PATH, pyenv's versions, the host interpreter as a last resort (said in the reports).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path


def _version_of(python: str) -> str | None:
    try:
        result = subprocess.run(
            [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip() if result.returncode == 0 else None


@cache
def find_python(version: str) -> tuple[str, bool]:
    """(interpreter path, True when it is the target version)."""
    candidates: list[str] = []
    if os.environ.get("TARGET_PYTHON"):
        candidates.append(os.environ["TARGET_PYTHON"])
    on_path = shutil.which(f"python{version}")
    if on_path:
        candidates.append(on_path)
    pyenv_root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"
    if pyenv_root.is_dir():
        for entry in sorted(pyenv_root.glob(f"{version}.*"), reverse=True):
            candidates.append(str(entry / "bin" / f"python{version}"))
    for candidate in candidates:
        if Path(candidate).exists() and _version_of(candidate) == version:
            return candidate, True
    return sys.executable, False

"""Write files whole or not at all: a crash or an error never leaves half a file behind."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_text_atomic(path: Path, text: str) -> bool:
    """Write `text` to `path` through a temporary file and a rename.

    Returns True when the file changed, so callers can report drift or "up to date".
    """
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        if path.exists():
            os.chmod(tmp_name, path.stat().st_mode & 0o7777)
        else:
            os.chmod(tmp_name, 0o644)
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return True


def write_generated(root: Path, files: dict[str, str], stale: list[Path], label: str) -> int:
    """Write generated files (each atomically), remove stale ones, and say what changed."""
    changed = [path for path, text in sorted(files.items()) if write_text_atomic(root / path, text)]
    for path in stale:
        path.unlink()
        changed.append(f"{path.relative_to(root)} (removed)")
    print(f"{label}: {len(files)} files, {len(changed)} changed")
    for path in changed:
        print(f"  {path}")
    return 0

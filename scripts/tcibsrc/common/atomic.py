"""Write files whole or not at all, and sets of files all or nothing.

One file: a temporary file in the same directory, then a rename (a crash never leaves half a
file). A set of files (render's 33, pipelines' 46): every new text is first written to a staging
directory beside the tree, every target checked writable, then a journal lists the renames and
they are applied; a failure while applying puts back what was replaced. A run killed while
applying leaves the journal: the next writing command completes it before it starts, and
`make check` names any leftover staging directory.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tcibsrc.common.errors import ToolkitError

STAGING_DIR = ".tcibsrc-staging"  # beside the files it replaces: the same filesystem
JOURNAL = "journal.json"


class WriteError(ToolkitError):
    """A generated file cannot be written; nothing of the set was changed."""


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


@dataclass(frozen=True)
class Change:
    """One rename of a transaction: the staged new text (None: a removal) onto `target`."""

    target: str  # relative to the root
    staged: str | None  # relative to the staging directory
    backup: str  # where the replaced file is kept until the end, relative to staging


def _changed(root: Path, relative: str, text: str) -> bool:
    path = root / relative
    try:
        return not path.is_file() or path.read_text(encoding="utf-8") != text
    except (OSError, UnicodeDecodeError):
        return True


def _writable(root: Path, relative: str) -> str | None:
    """Why `relative` cannot be replaced, or None."""
    directory = (root / relative).parent
    while not directory.exists():
        directory = directory.parent
    if not os.access(directory, os.W_OK | os.X_OK):
        return f"{directory}: the directory is not writable"
    target = root / relative
    if target.exists() and target.is_dir():
        return f"{target}: a directory stands where a file belongs"
    return None


def replace_files(root: Path, files: dict[str, str], stale: list[Path]) -> list[str]:
    """Write every file of `files` (relative path -> text) and remove `stale`, all or nothing.

    Returns what changed (`path`, or `path (removed)`), in order."""
    recover(root)
    changed = [
        relative for relative, text in sorted(files.items()) if _changed(root, relative, text)
    ]
    removed = [str(path.relative_to(root)) for path in stale]
    if not changed and not removed:
        return []
    for relative in [*changed, *removed]:
        problem = _writable(root, relative)
        if problem:
            raise WriteError(problem, "nothing was written", "fix the permissions and run again")
    staging = root / STAGING_DIR
    try:
        staging.mkdir(exist_ok=False)
    except FileExistsError as exc:
        raise WriteError(
            str(staging), "another run is writing here", "wait for it, or remove the directory"
        ) from exc
    except OSError as exc:
        raise WriteError(
            str(root), f"not writable ({exc.strerror})", "nothing was written"
        ) from exc
    changes: list[Change] = []
    try:
        for number, relative in enumerate(changed):
            staged = staging / "new" / str(number)
            staged.parent.mkdir(parents=True, exist_ok=True)
            target = root / relative
            mode = target.stat().st_mode & 0o7777 if target.is_file() else 0o644
            staged.write_text(files[relative], encoding="utf-8", newline="\n")
            os.chmod(staged, mode)
            changes.append(Change(relative, f"new/{number}", f"old/{number}"))
        changes += [
            Change(relative, None, f"old/removed-{number}")
            for number, relative in enumerate(removed)
        ]
        (staging / "old").mkdir(exist_ok=True)
        _write_journal(staging, changes)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _apply(root, staging, changes)
    return [*changed, *(f"{relative} (removed)" for relative in removed)]


def _write_journal(staging: Path, changes: list[Change]) -> None:
    text = json.dumps([change.__dict__ for change in changes], indent=1)
    temporary = staging / f"{JOURNAL}.tmp"
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, staging / JOURNAL)  # the commit point: from here on, completed


def _apply(root: Path, staging: Path, changes: list[Change]) -> None:
    for number, change in enumerate(changes):
        try:
            _apply_one(root, staging, change)
        except OSError as exc:
            for done in reversed(changes[: number + 1]):  # this one may be half done
                _undo(root, staging, done)
            shutil.rmtree(staging, ignore_errors=True)
            where = exc.filename or root
            raise WriteError(
                str(where), f"cannot be written ({exc.strerror})", "nothing was changed"
            ) from exc
    shutil.rmtree(staging, ignore_errors=True)


def _apply_one(root: Path, staging: Path, change: Change) -> None:
    target = root / change.target
    backup = staging / change.backup
    if target.exists() and not backup.exists():
        os.replace(target, backup)
    if change.staged is not None:
        staged = staging / change.staged
        if staged.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staged, target)


def _undo(root: Path, staging: Path, change: Change) -> None:
    """Put back what `change` replaced, from whatever point it reached."""
    target = root / change.target
    backup = staging / change.backup
    moved_in = change.staged is not None and not (staging / change.staged).exists()
    if moved_in and target.exists():
        target.unlink()
    if backup.exists():
        os.replace(backup, target)


def recover(root: Path) -> str | None:
    """Complete a transaction a killed run left behind (its journal was written: every new
    file is staged), or drop one that never reached its journal. Says what it did."""
    staging = root / STAGING_DIR
    if not staging.is_dir():
        return None
    journal = staging / JOURNAL
    if not journal.is_file():
        shutil.rmtree(staging, ignore_errors=True)
        return (
            f"{STAGING_DIR}: an interrupted run's staged files were removed (nothing had changed)"
        )
    changes = [Change(**item) for item in json.loads(journal.read_text(encoding="utf-8"))]
    for change in changes:
        _apply_one(root, staging, change)
    shutil.rmtree(staging, ignore_errors=True)
    return f"{STAGING_DIR}: an interrupted run's {len(changes)} changes were completed"


def write_generated(root: Path, files: dict[str, str], stale: list[Path], label: str) -> int:
    """Write generated files and remove stale ones, all or nothing, and say what changed."""
    note = recover(root)
    if note:
        print(f"note: {note}", file=sys.stderr)
    changed = replace_files(root, files, stale)
    print(f"{label}: {len(files)} files, {len(changed)} changed")
    for path in changed:
        print(f"  {path}")
    return 0

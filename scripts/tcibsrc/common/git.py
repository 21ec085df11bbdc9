"""Which commit a checkout is at, and other questions asked of git.

The data files regenerated from upstream checkouts (series, parity, CRD schemas, Konflux facts)
each record the commit they were read from; this is the one way to ask. A copy of a repository
without its .git (a snapshot) names its commit in a COMMIT file, which is read instead.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tcibsrc.common.errors import ToolkitError

COMMIT_FILE = "COMMIT"
_KEYED = re.compile(r"^(?P<key>repo|commit|date):\s*(?P<value>\S+)", re.M)
_HASH = re.compile(r"^[0-9a-f]{7,40}$")


class GitError(ToolkitError):
    """git could not answer about a checkout."""


@dataclass(frozen=True)
class Revision:
    """A checkout's commit: the full hash, its date (YYYY-MM-DD), and where known the
    repository and the branch."""

    commit: str
    date: str
    repository: str | None = None
    branch: str | None = None


def _run(
    checkout: Path, args: tuple[str, ...], timeout: float | None
) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(
            ["git", "-C", str(checkout), *args],
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
        )
    except FileNotFoundError as exc:
        raise GitError("git", "not installed", "install git") from exc
    except subprocess.TimeoutExpired as exc:
        raise GitError(
            str(checkout), f"git {' '.join(args)} took more than {timeout} s", "try again"
        ) from exc


def git(checkout: Path, *args: str, timeout: float | None = 120) -> str:
    """`git -C checkout args...`'s output; one error line when git fails or takes longer
    than `timeout` seconds (None: a clone or fetch of a large repository, no limit)."""
    result = _run(checkout, args, timeout)
    if result.returncode != 0:
        detail = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise GitError(str(checkout), f"git {' '.join(args)} failed: {detail}", "give a git clone")
    return result.stdout.strip()


def show_file(checkout: Path, commit: str, path: str) -> str | None:
    """The file `path` at `commit`, byte for byte as committed (its checksum is taken), or None
    where that commit has no such file."""
    result = _run(checkout, ("show", f"{commit}:{path}"), 120)
    return result.stdout if result.returncode == 0 else None


def _from_commit_file(path: Path) -> Revision | None:
    """A COMMIT file: `commit: <hash>` / `date:` / `repo:` lines, or one line
    `<repository> [<branch>] <hash> <date>`."""
    text = path.read_text(encoding="utf-8", errors="replace")
    keyed = {match["key"]: match["value"] for match in _KEYED.finditer(text)}
    if "commit" in keyed:
        return Revision(keyed["commit"], keyed.get("date", "")[:10], keyed.get("repo"))
    words = text.splitlines()[0].split() if text.strip() else []
    at = next((i for i, word in enumerate(words) if _HASH.match(word)), None)
    if at is None:
        return None
    return Revision(
        commit=words[at],
        date=words[at + 1][:10] if at + 1 < len(words) else "",
        repository=words[0] if at >= 1 else None,
        branch=words[1] if at >= 2 else None,
    )


def revision(checkout: Path) -> Revision:
    """The commit `checkout` is at: git's HEAD, or the COMMIT file of a copy without .git."""
    commit_file = checkout / COMMIT_FILE
    if not (checkout / ".git").exists() and commit_file.is_file():
        found = _from_commit_file(commit_file)
        if found is not None:
            return found
    commit, _, date = git(checkout, "log", "-1", "--format=%H %cs").partition(" ")
    branch = git(checkout, "rev-parse", "--abbrev-ref", "HEAD")
    return Revision(commit, date, branch=None if branch == "HEAD" else branch)


def last_commit_of(checkout: Path, path: str) -> str:
    """The last commit that changed `path` in `checkout`."""
    return git(checkout, "log", "-1", "--format=%H", "--", path)

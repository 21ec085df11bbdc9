"""What hermeto would reject in a requirements file, found before hermeto runs.

Rules (hermeto's pip package manager): every requirement pinned with one `==`/`===`; hashes on
all entries or none (we require them on all); no --extra-index-url, --no-index, --find-links,
--only-binary; no `file:` references; VCS references only with a full commit and never with
hashes, and never in a file where other entries have hashes (hermeto refuses VCS lines in a
hash-locked file, so git sources have a file of their own); URL requirements with exactly one
hash.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement

from tcibsrc.common.errors import Problem

ALLOWED_OPTIONS = (
    "-i",
    "--index-url",
    "--require-hashes",
    "--trusted-host",
    "--no-binary",
    "--prefer-binary",
    "--pre",
)
REJECTED_OPTIONS = {
    "--extra-index-url": "hermeto refuses extra indexes",
    "--no-index": "hermeto refuses --no-index",
    "-f": "hermeto refuses --find-links",
    "--find-links": "hermeto refuses --find-links",
    "--only-binary": "hermeto fetches sdists; --only-binary is refused",
}
_FULL_COMMIT = re.compile(r"@[0-9a-f]{40}(#|$)")


@dataclass(frozen=True)
class Entry:
    line: int
    text: str


def logical_entries(text: str) -> list[Entry]:
    """Requirement and option lines with continuations joined and comments removed."""
    entries: list[Entry] = []
    buffer: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split(" #", 1)[0].rstrip() if not raw.lstrip().startswith("#") else ""
        if not buffer:
            start = number
        if line.endswith("\\"):
            buffer.append(line[:-1].strip())
            continue
        buffer.append(line.strip())
        joined = " ".join(part for part in buffer if part)
        buffer = []
        if joined:
            entries.append(Entry(start, joined))
    if buffer and " ".join(buffer).strip():
        entries.append(Entry(start, " ".join(buffer).strip()))
    return entries


def _option_problem(text: str) -> str | None:
    option = text.split()[0].split("=", 1)[0]
    if option in REJECTED_OPTIONS:
        return f"{option}: {REJECTED_OPTIONS[option]}"
    if option not in ALLOWED_OPTIONS:
        return f"{option}: an option hermeto does not accept"
    return None


def check_text(text: str, display: str) -> list[Problem]:
    """Problems in one requirements file, one line each, `file:line: problem`."""
    return list(_checked(text, display))


@lru_cache(maxsize=1024)
def _checked(text: str, display: str) -> tuple[Problem, ...]:
    """(`make check` asks once per image whose build reads the file; the answer is kept.)"""
    problems: list[Problem] = []
    hashed: list[int] = []
    unhashed: list[int] = []
    vcs: list[int] = []
    for entry in logical_entries(text):
        where = f"{display}:{entry.line}"
        if entry.text.startswith("-"):
            problem = _option_problem(entry.text)
            if problem:
                problems.append(Problem(where, problem))
            continue
        parts = entry.text.split(" --hash=")
        hashes = [part.strip() for part in parts[1:]]
        requirement_text = parts[0].strip()
        is_vcs = requirement_text.startswith(("git+", "-e ")) or " @ git+" in requirement_text
        target = vcs if is_vcs else unhashed if not hashes else hashed
        target.append(entry.line)
        if requirement_text.startswith("file:") or " @ file:" in requirement_text:
            problems.append(Problem(where, "file: references are refused by hermeto"))
            continue
        if requirement_text.startswith(("git+", "-e ")) or " @ git+" in requirement_text:
            if not _FULL_COMMIT.search(requirement_text):
                problems.append(Problem(where, "VCS reference without a full 40-hex commit"))
            if hashes:
                problems.append(
                    Problem(
                        where,
                        "VCS references cannot carry hashes; use an archive URL with one --hash",
                    )
                )
            continue
        try:
            requirement = Requirement(requirement_text)
        except InvalidRequirement:
            problems.append(Problem(where, f"not a requirement: {requirement_text!r}"))
            continue
        if requirement.url:
            if len(hashes) != 1:
                problems.append(Problem(where, "a URL requirement needs exactly one --hash"))
            continue
        specs = list(requirement.specifier)
        if len(specs) != 1 or specs[0].operator not in ("==", "==="):
            problems.append(
                Problem(
                    where,
                    f"{requirement.name} is not pinned with ==",
                    "hermeto refuses unpinned requirements",
                )
            )
        for digest in hashes:
            if not re.fullmatch(r"sha256:[0-9a-f]{64}", digest):
                problems.append(Problem(where, f"{requirement.name}: malformed hash {digest!r}"))
    if vcs and hashed:
        problems.append(
            Problem(
                f"{display}:{vcs[0]}",
                "a VCS requirement in a hash-locked file: hermeto refuses it",
                "keep git sources in their own file without hashes (<image>-git.txt)",
            )
        )
    if hashed and unhashed:
        problems.append(
            Problem(
                f"{display}:{unhashed[0]}",
                "no --hash while other entries have one",
                "hermeto requires hashes on all or none",
            )
        )
    elif unhashed:
        problems.append(
            Problem(
                f"{display}:{unhashed[0]}",
                "entries without --hash",
                "every lock entry must be hashed",
            )
        )
    return tuple(problems)


def check_files(paths: list[Path], display: Callable[[Path], str]) -> list[Problem]:
    problems: list[Problem] = []
    for path in paths:
        problems.extend(check_text(path.read_text(encoding="utf-8"), display(path)))
    return problems

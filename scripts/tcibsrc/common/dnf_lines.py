"""Take RPM names out of the `dnf install` commands of a shell line, keeping everything else.

TCIB installs Python code with lines such as
`dnf -y install httpd openstack-keystone python3-ldappool && dnf clean all && rm -rf ...`;
the source build keeps `httpd` and removes what becomes wheels. A `dnf install` left with no
package is dropped together with its `&&`.
"""

from __future__ import annotations

import re
from collections.abc import Container, Mapping, Sequence

_SEPARATOR = re.compile(r"(\s*(?:&&|\|\||;)\s*)")
_SHELL_KEYWORDS = {"then", "do", "else", "{", "(", "!"}
DNF_COMMANDS = {"dnf", "yum", "microdnf"}


def _install_words(words: list[str]) -> tuple[int, int] | None:
    """(index of the dnf word, index of `install`) when the words are a dnf install."""
    start = 0
    while start < len(words) and words[start] in _SHELL_KEYWORDS:
        start += 1
    if start >= len(words) or words[start] not in DNF_COMMANDS:
        return None
    for index in range(start + 1, len(words)):
        if words[index] in ("install", "reinstall"):
            return start, index
        if not words[index].startswith("-"):
            return None
    return None


def installed_packages(line: str) -> list[str]:
    """Every package name that the dnf install commands of `line` name."""
    names: list[str] = []
    for part in _SEPARATOR.split(line):
        words = part.split()
        found = _install_words(words)
        if found:
            names.extend(w for w in words[found[1] + 1 :] if not w.startswith("-"))
    return names


def remove_packages(
    line: str, removed: Container[str], replacements: Mapping[str, Sequence[str]] | None = None
) -> tuple[str, list[str]]:
    """`line` without the `removed` names in its dnf installs; also what was taken out.

    `replacements`: what a removed RPM brought that must still be installed (its system
    Requires), put in its place in the same command.
    """
    parts = _SEPARATOR.split(line)
    taken: list[str] = []
    kept_parts: list[str] = []
    drop_next_separator = False
    for index, part in enumerate(parts):
        if index % 2 == 1:  # a separator
            if drop_next_separator:
                drop_next_separator = False
                continue
            kept_parts.append(part)
            continue
        words = part.split()
        found = _install_words(words)
        if not found or not any(w in removed for w in words[found[1] + 1 :]):
            kept_parts.append(part)
            continue
        arguments = words[found[1] + 1 :]
        taken.extend(w for w in arguments if w in removed)
        remaining = [w for w in arguments if w not in removed]
        for name in [w for w in arguments if w in removed]:
            for extra in (replacements or {}).get(name, ()):
                if extra not in remaining:
                    remaining.append(extra)
        if any(not w.startswith("-") for w in remaining):
            leading = part[: len(part) - len(part.lstrip())]
            kept_parts.append(leading + " ".join(words[: found[1] + 1] + remaining))
        elif found[0] > 0:
            # `then dnf install x`: keep the shell keyword with a no-op
            kept_parts.append(" ".join([*words[: found[0]], ":"]))
        else:
            if kept_parts and kept_parts[-1].strip() in ("&&", "||", ";"):
                kept_parts.pop()
            else:
                drop_next_separator = True
    text = "".join(kept_parts).strip()
    return text, taken


CLEANUP_COMMANDS = {
    "dnf clean all",
    "yum clean all",
    "rm -rf /var/cache/dnf",
    "rm -rf /var/cache/yum",
}


def only_cleanup(line: str) -> bool:
    """True when a line does nothing but clean dnf's cache (left after its install went)."""
    parts = [part.strip() for index, part in enumerate(_SEPARATOR.split(line)) if index % 2 == 0]
    return all(part in CLEANUP_COMMANDS for part in parts if part)


_OPENERS = {"if", "then", "else", "elif", "do", "for", "while", "until", "case", "{", "("}
# commands whose effect a second RUN would lose (the working directory, the environment)
_STATEFUL = {"cd", "pushd", "popd", "export", "set", "source", ".", "umask", "shopt", "alias"}
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")


def split_after_install(
    line: str,
    removed: Container[str],
    replacements: Mapping[str, Sequence[str]] | None = None,
    uses: Container[str] = (),
) -> tuple[str, str, list[str]]:
    """`line` cut after its first dnf install that names a `removed` package: (what runs up to
    and with that install, what runs after it, what was taken out), each half without the
    `removed` names.

    What follows such an install may use what it installed (`dnf install -y crudini &&
    crudini --set ...`); where the package becomes a wheel, that wheel must be installed
    between the halves. The line is cut only where the rest calls one of `uses` (the
    commands the removed packages gave) and two RUNs do what one did: at an `&&` outside
    any shell compound, after no quote and nothing whose effect a new RUN would lose (`cd`,
    `export`, an assignment); otherwise the tail is empty and the whole line is the head."""
    parts = _SEPARATOR.split(line)
    for index in range(0, len(parts), 2):
        words = parts[index].split()
        found = _install_words(words)
        if not found or not any(w in removed for w in words[found[1] + 1 :]):
            continue
        before = [part.split() for part in parts[0 : index + 1 : 2]]
        unsafe = any(
            part[:1] and (part[0] in _OPENERS or part[0] in _STATEFUL or _ASSIGNMENT.match(part[0]))
            for part in before
        ) or any(quote in "".join(parts[: index + 1]) for quote in "'\"`$\\")
        tail, more = remove_packages("".join(parts[index + 2 :]), removed)
        used = any(word in uses for word in tail.split())  # once its own installs lost them
        if unsafe or not used or index + 1 >= len(parts) or parts[index + 1].strip() != "&&":
            break
        head, taken = remove_packages("".join(parts[: index + 1]), removed, replacements)
        return head, tail, taken + more
    text, taken = remove_packages(line, removed, replacements)
    return text, "", taken

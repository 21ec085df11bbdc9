"""Which images are built: the config's scope, normalised like TCIB, plus every parent."""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from tcibsrc.common.errors import ScopeError
from tcibsrc.tcib.containers_yaml import normalise_image_name
from tcibsrc.tcib.images import TcibImage

VALKEY_RELEASE = "10"


@dataclass(frozen=True)
class Scope:
    """The images to build, parents first, and why each is there."""

    ordered: tuple[str, ...]
    requested: tuple[str, ...]
    added_parents: tuple[str, ...]
    notes: tuple[str, ...]


def suggest_image(name: str, known: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1)
    return f"did you mean '{close[0]}'?" if close else "`make images ALL=1` lists every image"


def resolve_scope(
    images: Mapping[str, TcibImage],
    requested: Sequence[str],
    exclude: Sequence[str],
    distro_major: str,
    where: str,
) -> Scope:
    """Normalise, apply TCIB's redis/valkey rule and exclusions, and add parents.

    With distro release 10, TCIB excludes redis and builds valkey: a redis request becomes
    valkey. On other releases TCIB never builds valkey, so asking for it is an error.
    """
    known = sorted(images)
    notes: list[str] = []
    wanted: list[str] = []
    excluded = {normalise_image_name(item) for item in exclude}
    for item in sorted(excluded):
        if item not in images:
            raise ScopeError(
                f"{where}: images.exclude", f"unknown image '{item}'", suggest_image(item, known)
            )
    for item in requested:
        name = normalise_image_name(item)
        if name not in images:
            raise ScopeError(
                f"{where}: images.scope", f"unknown image '{item}'", suggest_image(name, known)
            )
        if name == "redis" and distro_major == VALKEY_RELEASE:
            notes.append("redis is replaced by valkey on release 10 (as TCIB does)")
            name = "valkey"
        elif name == "valkey" and distro_major != VALKEY_RELEASE:
            raise ScopeError(
                f"{where}: images.scope",
                "valkey is built on release 10 only",
                "use redis, or set distro.major to 10",
            )
        if name in excluded or name in wanted:
            continue
        wanted.append(name)
    closure: set[str] = set()
    added: list[str] = []
    for name in wanted:
        cursor: str | None = name
        while cursor is not None and cursor not in closure:
            if cursor in excluded:
                raise ScopeError(
                    f"{where}: images.exclude",
                    f"'{cursor}' is excluded but '{name}' is built on it",
                    "remove it from exclude, or the image from scope",
                )
            closure.add(cursor)
            if cursor not in wanted:
                added.append(cursor)
            cursor = images[cursor].parent
    ordered = sorted(closure, key=lambda n: (images[n].level, n))
    return Scope(
        ordered=tuple(ordered),
        requested=tuple(wanted),
        added_parents=tuple(sorted(added, key=lambda n: (images[n].level, n))),
        notes=tuple(notes),
    )

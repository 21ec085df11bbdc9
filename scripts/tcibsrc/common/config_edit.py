"""Edit scalar values of the config file in place, keeping every other line and comment.

The config is the deployment's own, commented file: a command that moves it to another series
(make new-series) rewrites the values it owns and nothing else, as `UPDATE=1` does for the
cutoff.
"""

from __future__ import annotations

import json
import re

from tcibsrc.common.errors import ConfigError


def _scalar(value: str) -> str:
    """A YAML scalar for `value`: quoted when plain YAML would read it as another type."""
    if re.fullmatch(r"[A-Za-z][A-Za-z0-9_./:@{}-]*", value) and value not in (
        "true",
        "false",
        "null",
        "yes",
        "no",
    ):
        return value
    return json.dumps(value)


def set_value(text: str, path: tuple[str, ...], value: str, display: str) -> str:
    """`text` with the block-style key at `path` (section, then key) set to `value`; its
    trailing comment kept. A key missing from an existing section is added at its end."""
    section, key = path
    start = re.search(rf"(?m)^{re.escape(section)}:[ \t]*(#.*)?$", text)
    if start is None:
        raise ConfigError(f"{display}: {section}", "no such section", "restore the section")
    following = re.search(r"(?m)^\S", text[start.end() + 1 :])
    end = start.end() + 1 + following.start() if following else len(text)
    block = text[start.end() : end]
    line = re.search(
        rf"(?m)^(?P<indent>[ \t]+){re.escape(key)}:[ \t]*(?P<value>[^#\n]*?)(?P<pad>[ \t]*)"
        rf"(?P<comment>#.*)?$",
        block,
    )
    if line is None:  # after the section's first key, at its indentation
        first = re.search(r"(?m)^(?P<indent>[ \t]+)[A-Za-z_]\S*:.*$", block)
        if first is None:
            raise ConfigError(f"{display}: {section}", "an empty section", "restore it")
        addition = f"\n{first.group('indent')}{key}: {_scalar(value)}"
        block = block[: first.end()] + addition + block[first.end() :]
        return text[: start.end()] + block + text[end:]
    comment = line.group("comment") or ""
    new_value = _scalar(value)
    # the comment keeps its column where the value leaves room
    width = len(line.group("value")) + len(line.group("pad"))
    pad = " " * max(1, width - len(new_value)) if comment else ""
    replaced = f"{line.group('indent')}{key}: {new_value}{pad}{comment}"
    block = block[: line.start()] + replaced + block[line.end() :]
    return text[: start.end()] + block + text[end:]


def value_of(text: str, path: tuple[str, ...]) -> str | None:
    """The current text of the value at `path`, unquoted, or None."""
    section, key = path
    start = re.search(rf"(?m)^{re.escape(section)}:[ \t]*(#.*)?$", text)
    if start is None:
        return None
    following = re.search(r"(?m)^\S", text[start.end() + 1 :])
    end = start.end() + 1 + following.start() if following else len(text)
    line = re.search(
        rf"(?m)^[ \t]+{re.escape(key)}:[ \t]*(?P<value>[^#\n]*?)[ \t]*(#.*)?$",
        text[start.end() : end],
    )
    return line.group("value").strip().strip('"').strip("'") if line else None

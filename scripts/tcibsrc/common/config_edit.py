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
    if line is None:
        indent = re.search(r"(?m)^([ \t]+)\S", block)
        prefix = indent.group(1) if indent else "  "
        addition = f"{prefix}{key}: {_scalar(value)}\n"
        body = block.rstrip("\n")
        rest = block[len(body) :]
        return text[: start.end()] + body + "\n" + addition + rest.lstrip("\n") + text[end:]
    comment = line.group("comment") or ""
    pad = line.group("pad") if comment else ""
    replaced = f"{line.group('indent')}{key}: {_scalar(value)}{pad}{comment}"
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

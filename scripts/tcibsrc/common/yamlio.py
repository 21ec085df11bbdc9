"""Strict YAML reading: every parse error names the file and the line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tcibsrc.common.errors import ToolkitError


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate mapping keys, which PyYAML silently overwrites."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _value_node in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_yaml(path: Path, *, display: str | None = None, strict_keys: bool = True) -> Any:
    """Load one YAML document; raise ToolkitError naming `display` (or the path) on failure."""
    where = display or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ToolkitError(where, "file not found") from exc
    except UnicodeDecodeError as exc:
        raise ToolkitError(where, f"not UTF-8 text ({exc.reason})") from exc
    loader = _UniqueKeyLoader if strict_keys else yaml.SafeLoader
    try:
        return yaml.load(text, Loader=loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ToolkitError(
            f"{where}{':' + line.strip() if line else ''}",
            f"malformed YAML: {problem}",
            "fix the syntax",
        ) from exc

"""Strict YAML reading, the one way the toolkit reads YAML: a duplicate key is an error (PyYAML
keeps the last silently), and every error names the file and the line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tcibsrc.common.errors import ToolkitError

# libyaml's parser where PyYAML has it (ten times faster on the hundreds of .tekton files
# `make check` reads); the constructor, and so the duplicate-key rule, stays ours
_SafeLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _UniqueKeyLoader(_SafeLoader):  # type: ignore[misc,valid-type]
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


class YamlError(ToolkitError):
    """A YAML text does not parse; `reason` is the parser's own words, `line` where (1-based)."""

    def __init__(self, where: str, reason: str, line: int | None) -> None:
        self.reason = reason
        self.line_number = line
        shown = f"{where}:line {line}" if line is not None else where
        super().__init__(shown, f"malformed YAML: {reason}", "fix the syntax")


def parse_yaml(text: str, display: str, *, strict_keys: bool = True) -> Any:
    """One YAML document from `text`; YamlError naming `display` and the line on failure.

    `strict_keys=False` only for upstream files this project does not write (openstack/releases),
    where a duplicate key is upstream's to fix, not a reason to stop."""
    loader = _UniqueKeyLoader if strict_keys else _SafeLoader
    try:
        return yaml.load(text, Loader=loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        reason = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise YamlError(display, reason, mark.line + 1 if mark is not None else None) from exc


def read_text(path: Path, display: str) -> str:
    """A file's UTF-8 text; one error line when it is missing or not text."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ToolkitError(display, "file not found") from exc
    except UnicodeDecodeError as exc:
        raise ToolkitError(display, f"not UTF-8 text ({exc.reason})") from exc
    except OSError as exc:
        raise ToolkitError(display, f"cannot be read ({exc.strerror})") from exc


def load_yaml(path: Path, *, display: str | None = None, strict_keys: bool = True) -> Any:
    """Load one YAML document; raise ToolkitError naming `display` (or the path) on failure."""
    where = display or str(path)
    return parse_yaml(read_text(path, where), where, strict_keys=strict_keys)

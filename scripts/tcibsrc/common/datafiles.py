"""The packaged data files (scripts/tcibsrc/data/): facts with their source, read as models.

Every data file is read with the strict YAML loader and validated by the model of its shape, so
a hand edit that breaks it (a typo in a key, a list where a mapping belongs) is one line naming
the file, the key and what to do, never a KeyError deep in a later stage. A test may point a
data file elsewhere with an environment variable (its own parity data, say).
"""

from __future__ import annotations

import json
import os
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel

from tcibsrc.common.errors import ToolkitError
from tcibsrc.common.models import validate_model
from tcibsrc.common.yamlio import load_yaml, read_text

M = TypeVar("M", bound=BaseModel)

DATA_DIR = "data"
SHOWN_AS = "scripts/tcibsrc/data"  # how people find it in a clone


class DataFileError(ToolkitError):
    """A packaged data file is missing or does not have its shape."""


def data_path(name: str) -> Path:
    """Where the packaged file `name` (relative to data/) is."""
    return Path(str(resources.files("tcibsrc").joinpath(f"{DATA_DIR}/{name}")))


def shown(name: str) -> str:
    return f"{SHOWN_AS}/{name}"


def load_data(name: str, model: type[M], fix: str, override: str | None = None) -> M:
    """The data file `name` as `model`; `override`: an environment variable naming another
    file to read instead (another deployment's data, or a test's own)."""
    other = os.environ.get(override) if override else None
    path, display = (Path(other), other) if other else (data_path(name), shown(name))
    return _load(model, path, display, fix, _stamp(path))


def _stamp(path: Path) -> tuple[int, int] | None:
    """What makes a cached read stale: the file's size and modification time."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_size, stat.st_mtime_ns


@cache
def _load(model: type[M], path: Path, display: str, fix: str, stamp: tuple[int, int] | None) -> M:
    if stamp is None:
        raise DataFileError(display, "missing", fix)
    data = _load_json(path, display) if path.suffix == ".json" else load_yaml(path, display=display)
    return validate_model(model, {} if data is None else data, display, fix)  # empty: no entries


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _value in pairs]
    duplicate = next((key for key in keys if keys.count(key) > 1), None)
    if duplicate is not None:
        raise ValueError(f"duplicate key {duplicate!r}")
    return dict(pairs)


def _load_json(path: Path, display: str) -> Any:
    try:
        return json.loads(read_text(path, display), object_pairs_hook=_unique_keys)
    except ValueError as exc:  # JSONDecodeError is a ValueError
        raise DataFileError(display, f"malformed JSON: {exc}", "regenerate the file") from exc

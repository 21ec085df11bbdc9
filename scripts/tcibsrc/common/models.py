"""Typed models of the toolkit's inputs (the config and the packaged data files), validated by
pydantic, and the one place that turns a validation error into the line a person reads.

Models are strict where it matters: an unknown key is an error (a typo never falls back to a
default silently), a number is never taken for a string (`major: 10` must be quoted), and
booleans and integers are declared StrictBool / StrictInt so that "yes" is not read as true.
"""

from __future__ import annotations

import types
import typing
from pathlib import Path
from typing import Any, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, ValidationError

from tcibsrc.common.errors import ToolkitError
from tcibsrc.common.yamlio import load_yaml

M = TypeVar("M", bound=BaseModel)


class StrictModel(BaseModel):
    """A model of an input file: unknown keys are errors; lists become tuples, nothing else
    is converted (string fields refuse numbers; bool and int fields are Strict types)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def key_path(location: tuple[int | str, ...]) -> str:
    """(`images`, `scope`, 1) -> `images.scope[1]`."""
    parts: list[str] = []
    for item in location:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            parts.append(f".{item}" if parts else str(item))
    return "".join(parts) or "(top level)"


def _unwrap(annotation: Any) -> Any:
    """Optional[X] -> X; Annotated[X, ...] -> X."""
    while True:
        origin = get_origin(annotation)
        if origin is typing.Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            options = [arg for arg in get_args(annotation) if arg is not type(None)]
            if len(options) != 1:
                return annotation
            annotation = options[0]
        else:
            return annotation


def model_at(root: type[BaseModel], location: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The model class that validates the mapping at `location`, if a model does."""
    current: Any = root
    for item in location:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(item))
            if field is None:
                return None
            current = field.annotation
        elif get_origin(current) in (dict, list, tuple):
            args = get_args(current)
            current = args[-1] if args else Any
        else:
            return None
    current = _unwrap(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _fields(model: type[BaseModel] | None) -> list[str]:
    if model is None:
        return []
    return [field.alias or name for name, field in model.model_fields.items()]


def _order(error: Any) -> tuple[list[str], bool, str, str]:
    """By key path; an unknown or missing key counts as a problem of its mapping, the unknown
    first (a typo also makes the key it misspells missing: name the typo)."""
    location = [str(part) for part in error["loc"]]
    key = ""
    if error["type"] in ("extra_forbidden", "missing") and location:
        location, key = location[:-1], location[-1]
    return location, error["type"] != "extra_forbidden", key, error["msg"]


def describe(error: ValidationError, root: type[BaseModel]) -> tuple[str, str]:
    """(key path, problem) of the first error, ordered by key path so that runs agree.

    Several missing keys of one mapping are named together; an unknown key says which keys are
    allowed there; a number where a string is expected says to quote it.
    """
    found = error.errors(include_url=False)
    # an error at a mapping or list that another error inside it explains (a list "too short
    # after validation" because its item failed) is left for the deeper one
    deeper = [
        e
        for e in found
        if not any(
            len(o["loc"]) > len(e["loc"]) and tuple(o["loc"][: len(e["loc"])]) == tuple(e["loc"])
            for o in found
        )
    ]
    errors = sorted(deeper, key=_order)
    first = errors[0]
    location = tuple(first["loc"])
    kind = first["type"]
    value = first.get("input")
    if kind == "extra_forbidden":
        allowed = sorted(_fields(model_at(root, location[:-1])))
        hint = f"; allowed keys here: {', '.join(allowed)}" if allowed else ""
        return key_path(location), f"unknown key{hint}"
    if kind == "missing":
        parent = location[:-1]
        missing = {
            str(e["loc"][-1])
            for e in errors
            if e["type"] == "missing" and tuple(e["loc"][:-1]) == parent
        }
        order = _fields(model_at(root, parent)) or sorted(missing)
        named = [name for name in order if name in missing]
        return key_path(parent), f"missing required key(s): {', '.join(named)}"
    if len(location) >= 1 and location[-1] == "[key]":
        return key_path(location[:-2]), f"invalid key {location[-2]!r}: {_message(first)}"
    if (
        kind == "string_type"
        and isinstance(value, int | float)
        and not isinstance(value, bool)
        and location
    ):
        # YAML reads `major: 10` as a number and `version: 3.10` as 3.1: quote them
        quoted = f'"{value}"'
        example = f"{location[-1]}: {quoted}" if isinstance(location[-1], str) else f"- {quoted}"
        return key_path(location), (
            f"{value!r} is a number, but a string is expected: write it in quotes ({example})"
        )
    return key_path(_without_internal(location)), _message(first)


def _without_internal(location: tuple[int | str, ...]) -> tuple[int | str, ...]:
    """Drop pydantic's own steps (`function-after[...]`, union member names) from a location."""
    return tuple(
        item for item in location if not (isinstance(item, str) and ("[" in item or "(" in item))
    )


def _message(error: dict[str, Any]) -> str:
    kind, value = error["type"], error.get("input")
    context = error.get("ctx") or {}
    if kind == "literal_error":
        expected = str(context.get("expected", "")).replace(" or ", ", ")
        return f"{value!r} is not one of {expected}"
    if kind == "string_pattern_mismatch":
        return f"{value!r} does not match {context.get('pattern')!r}"
    if kind == "value_error":
        return str(context.get("error", error["msg"]))
    if kind in ("dict_type", "model_type"):
        return f"a {type(value).__name__}, a mapping is expected"
    if kind == "list_type":
        return f"a {type(value).__name__}, a list is expected"
    return str(error["msg"])


def validate_model(model: type[M], data: Any, display: str, fix: str) -> M:
    """`data` as `model`, or one ToolkitError: `display: key.path: problem (fix)`."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        where, problem = describe(error, model)
        raise ToolkitError(f"{display}: {where}", problem, fix) from error


def load_model(model: type[M], path: Path, display: str, fix: str) -> M:
    """A YAML file (strict loader) validated as `model`."""
    return validate_model(model, load_yaml(path, display=display), display, fix)

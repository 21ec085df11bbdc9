"""Expand Jinja2 in TCIB values the way Ansible's lazy variable templating does.

TCIB's role reads each image's merged YAML as host variables; when the Containerfile template
reads a value, Ansible renders any `{{ ... }}` in it, and every variable the expression uses is
itself rendered first, on demand. A string that is exactly one expression keeps its native type
(a list stays a list), as in Ansible. An undefined variable is an error, never an empty string.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

_SINGLE_EXPRESSION = re.compile(r"^\{\{(?P<expr>(?:(?!\}\}|\{\{).)*)\}\}$", re.DOTALL)
_RESULT = "tcibsrc_expression_result"


class TemplateProblem(Exception):
    """A value could not be expanded; `key_path` says which one."""

    def __init__(self, key_path: str, problem: str) -> None:
        self.key_path = key_path
        self.problem = problem
        super().__init__(f"{key_path}: {problem}")


def _environment() -> jinja2.Environment:
    env = ImmutableSandboxedEnvironment(
        undefined=jinja2.StrictUndefined, keep_trailing_newline=True
    )
    # The Ansible filters that TCIB's files and template can meet.
    env.filters["to_json"] = json.dumps
    env.filters["to_nice_json"] = lambda value: json.dumps(value, indent=4, sort_keys=True)
    env.filters["regex_replace"] = lambda value, pattern, repl="": re.sub(pattern, repl, value)
    env.filters["bool"] = lambda value: str(value).strip().lower() in {"1", "true", "yes", "on"}
    return env


_ENV = _environment()


class LazyVariables(Mapping[str, Any]):
    """Variables that expand themselves when first read, like Ansible's host variables."""

    def __init__(self, raw: Mapping[str, Any]) -> None:
        self._raw = raw
        self._expanded: dict[str, Any] = {}
        self._in_progress: list[str] = []

    def __getitem__(self, key: str) -> Any:
        if key in self._expanded:
            return self._expanded[key]
        if key not in self._raw:
            if key in _ENV.globals:
                return _ENV.globals[key]
            raise KeyError(key)
        if key in self._in_progress:
            chain = " -> ".join([*self._in_progress[self._in_progress.index(key) :], key])
            raise TemplateProblem(self._in_progress[0], f"variables refer to each other: {chain}")
        self._in_progress.append(key)
        try:
            value = expand_value(self._raw[key], self, key)
        finally:
            self._in_progress.pop()
        self._expanded[key] = value
        return value

    def __contains__(self, key: object) -> bool:
        return key in self._raw or key in _ENV.globals

    def __iter__(self) -> Iterator[str]:
        return iter(self._raw)

    def __len__(self) -> int:
        return len(self._raw)


def _render_string(text: str, variables: LazyVariables, key_path: str) -> Any:
    if "{{" not in text and "{%" not in text:
        return text
    try:
        single = _SINGLE_EXPRESSION.match(text)
        if single:
            template = _ENV.from_string(f"{{% set {_RESULT} = ({single.group('expr')}) %}}")
            context = template.new_context(variables, shared=True)
            for _ in template.root_render_func(context):
                pass
            return context.vars[_RESULT]
        template = _ENV.from_string(text)
        context = template.new_context(variables, shared=True)
        return "".join(template.root_render_func(context))
    except jinja2.UndefinedError as exc:
        raise TemplateProblem(key_path, f"undefined variable: {exc.message}") from exc
    except jinja2.TemplateError as exc:
        raise TemplateProblem(key_path, f"template error: {exc}") from exc


def expand_value(value: Any, variables: LazyVariables, key_path: str) -> Any:
    """Expand every string inside `value`."""
    if isinstance(value, str):
        return _render_string(value, variables, key_path)
    if isinstance(value, list):
        return [expand_value(item, variables, f"{key_path}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, dict):
        return {k: expand_value(v, variables, f"{key_path}.{k}") for k, v in value.items()}
    return value


def expand_variables(variables: Mapping[str, Any]) -> dict[str, Any]:
    """Every variable expanded, each one's references resolved first."""
    lazy = LazyVariables(variables)
    return {key: lazy[key] for key in variables}

"""Which PipelineRuns fire for a change: their CEL evaluated as Pipelines-as-Code would.

cel-python evaluates each `on-cel-expression` with `event`, `target_branch` and a
`pathChanged()` member function that applies PaC's glob (see pathglob) to the changed files.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import celpy
from celpy import celtypes

from tcibsrc.common.errors import ToolkitError
from tcibsrc.common.git import GitError, git
from tcibsrc.common.yamlio import load_yaml
from tcibsrc.konflux.pathglob import path_changed

CEL_ANNOTATION = "pipelinesascode.tekton.dev/on-cel-expression"


@dataclass(frozen=True)
class Trigger:
    name: str
    path: str
    expression: str


def read_triggers(tekton_dir: Path) -> list[Trigger]:
    triggers = []
    for path in sorted(tekton_dir.glob("*.yaml")):
        try:
            data = load_yaml(path) or {}
        except ToolkitError as exc:
            raise ToolkitError(str(path), "YAML does not parse", "run `make pipelines`") from exc
        if data.get("kind") != "PipelineRun":
            continue
        expression = (data.get("metadata", {}).get("annotations") or {}).get(CEL_ANNOTATION)
        if expression:
            triggers.append(Trigger(data["metadata"]["name"], str(path), expression))
    return triggers


def compile_expression(expression: str, where: str) -> object:
    environment = celpy.Environment()
    try:
        ast = environment.compile(expression)
    except celpy.CELParseError as exc:
        first = str(exc).strip().splitlines()[0]
        raise ToolkitError(where, f"CEL does not parse: {first}", "fix the expression") from exc
    return ast


def fires(expression: str, where: str, event: str, branch: str, changed: list[str]) -> bool:
    ast = compile_expression(expression, where)

    def changed_glob(glob: celtypes.StringType) -> celtypes.BoolType:
        return celtypes.BoolType(path_changed(str(glob), changed))

    program = celpy.Environment().program(ast, functions={"pathChanged": changed_glob})
    result = program.evaluate(
        {"event": celtypes.StringType(event), "target_branch": celtypes.StringType(branch)}
    )
    if isinstance(result, celpy.CELEvalError):
        raise ToolkitError(where, f"CEL does not evaluate: {result}", "fix the expression")
    return bool(result)


def changed_files(repo: Path, base: str, head: str = "HEAD") -> list[str]:
    """Files changed between two revisions (a submodule shows as its gitlink path)."""
    try:
        output = git(repo, "diff", "--name-only", f"{base}...{head}")
    except GitError as error:
        raise ToolkitError(
            f"BASE={base}", error.problem, "give a revision this clone has"
        ) from error
    return [line for line in output.splitlines() if line]


def affected(tekton_dir: Path, changed: list[str], branch: str) -> dict[str, list[str]]:
    """event -> names of the PipelineRuns that fire."""
    result: dict[str, list[str]] = {"pull_request": [], "push": []}
    for trigger in read_triggers(tekton_dir):
        for event in result:
            if fires(trigger.expression, trigger.path, event, branch, changed):
                result[event].append(trigger.name)
    return result

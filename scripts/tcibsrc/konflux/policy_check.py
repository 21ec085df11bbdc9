"""Konflux's release policy, checked on .tekton/ before a build is ever released.

Conforma judges the attestation of each PipelineRun: the tasks that ran (a task skipped by its
`when` did not run), the bundle each came from, and the params they ran with. This check works
out the same from the files: each PipelineRun's params over the Pipeline's defaults, each task's
`when`, and then holds the result to data/konflux_policy.yaml (required tasks, trusted task
locations and denied versions, rules on params), naming the Conforma rule that would fail. A rule
whose date is still ahead is a warning. The Pipeline must also declare every task and param of
the upstream Pipeline (data/konflux_pipeline.yaml), so an update there is not missed here.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from tcibsrc.common.errors import Problem, Severity
from tcibsrc.konflux.facts import (
    ParamRule,
    ReleasePolicy,
    UpstreamPipeline,
    in_effect,
    parse_bundle,
    release_policy,
    upstream_pipeline,
)

_PARAM = re.compile(r"\$\(params\.([A-Za-z0-9_-]+)\)")


def named_values(items: Any) -> dict[str, Any]:
    """name -> value (or default) of a Tekton list of params."""
    return {
        item["name"]: item.get("value", item.get("default"))
        for item in items or []
        if isinstance(item, dict) and "name" in item
    }


def effective_params(pipeline: dict, run: dict) -> dict[str, Any]:
    """The values the PipelineRun's tasks see: its params over the Pipeline's defaults."""
    defaults = named_values((pipeline.get("spec") or {}).get("params"))
    return {**defaults, **named_values((run.get("spec") or {}).get("params"))}


def substitute(value: Any, params: dict[str, Any]) -> Any:
    if not isinstance(value, str):
        return value
    whole = _PARAM.fullmatch(value)
    if whole:
        return params.get(whole[1])
    return _PARAM.sub(lambda match: str(params.get(match[1], "")), value)


def runs(task: dict, params: dict[str, Any]) -> bool:
    """Whether the task's `when` lets it run with these params."""
    for condition in task.get("when") or []:
        value = substitute(condition.get("input"), params)
        values = [str(item) for item in condition.get("values") or []]
        inside = str(value) in values
        if (condition.get("operator") == "in") != inside:
            return False
    return True


def catalog_task(task: dict) -> str:
    return str(named_values((task.get("taskRef") or {}).get("params")).get("name", ""))


def bundle_of(task: dict) -> str:
    return str(named_values((task.get("taskRef") or {}).get("params")).get("bundle", ""))


def _severity(effective: bool) -> Severity:
    """A rule in effect fails the check; one dated ahead warns."""
    return Severity.ERROR if effective else Severity.WARNING


def _dated(effective_on: str | None, now: datetime | None) -> tuple[bool, str]:
    """(in effect, the words for a rule still ahead)."""
    if in_effect(effective_on, now):
        return True, ""
    return False, f" (in effect from {str(effective_on)[:10]})"


def _upstream_name(upstream: UpstreamPipeline) -> str:
    return upstream.source["path"].rsplit("/", 1)[-1].removesuffix(".yaml")


def parity_problems(pipeline: dict, display: str, upstream: UpstreamPipeline) -> Iterator[Problem]:
    spec = pipeline.get("spec") or {}
    declared = set(named_values(spec.get("params")))
    for param in upstream.params:
        if param.name not in declared:
            yield Problem(
                display,
                f"param {param.name} of Konflux's {_upstream_name(upstream)} is not declared",
                "run `make pipelines`",
            )
    tasks = {task.get("name"): catalog_task(task) for task in spec.get("tasks") or []}
    for task in upstream.tasks:
        if tasks.get(task.name) != task.task:
            yield Problem(
                display,
                f"task {task.name} ({task.task}) of Konflux's {_upstream_name(upstream)} "
                "is missing",
                "run `make pipelines`",
            )


def bundle_problems(
    pipeline: dict, display: str, policy: ReleasePolicy, now: datetime | None
) -> Iterator[Problem]:
    """trusted_task.trusted: every bundle from a trusted location, at a version not denied."""
    for task in (pipeline.get("spec") or {}).get("tasks") or []:
        reference = bundle_of(task)
        bundle = parse_bundle(reference)
        name = task.get("name")
        if bundle is None:
            continue  # the structure check reports it
        if not any(fnmatch.fnmatchcase(f"oci://{bundle.repository}", p) for p in policy.allow):
            yield Problem(
                display,
                f"task {name}: {bundle.repository} is not a trusted task location",
                f"trusted_task.trusted; trusted: {', '.join(policy.allow)}",
            )
            continue
        if bundle.digest is None:
            yield Problem(
                display,
                f"task {name}: {bundle} is not pinned by digest (tasks.pinned_task_refs): run "
                "`make update-bundles` where skopeo reaches quay.io (or with PINNED_BUNDLES=), "
                "or let MintMaker pin it",
            )
        version = bundle.version
        for rule in policy.deny.get(bundle.task, ()):
            denied = rule.denies(version)
            if denied is False:
                continue
            effective, ahead = _dated(rule.effective_on, now)
            if denied is None:
                yield Problem(
                    display,
                    f"task {name}: whether {bundle.task} {bundle.tag} is denied "
                    f"({rule.versions}){ahead} depends on the patch version the tag does not show",
                    "trusted_task.trusted reads the bundle's version annotation",
                    Severity.WARNING,
                )
                continue
            what = (
                f"{bundle.tag} is denied ({rule.versions})"
                if version
                else (f"{bundle.tag} names no version, which Conforma denies")
            )
            yield Problem(
                display,
                f"task {name}: {bundle.task} {what}{ahead} (trusted_task.trusted): run "
                "`make update-bundles` and `make pipelines`, or let MintMaker update it",
                severity=_severity(effective),
            )


def run_problems(
    pipeline: dict, run: dict, policy: ReleasePolicy, now: datetime | None
) -> Iterator[Problem]:
    """What Conforma would find in this PipelineRun's attestation (`where`: the task, or empty;
    policy_problems names the PipelineRuns)."""
    params = effective_params(pipeline, run)
    ran = [task for task in (pipeline.get("spec") or {}).get("tasks") or [] if runs(task, params)]
    names = {catalog_task(task) for task in ran}
    # as Conforma's tasks.rego: a task missing from the list in effect is an error; one that
    # only the newest list (dated ahead) adds is a warning
    current = policy.required_now(now)
    newest = max(policy.required, key=lambda item: item.effective_on, default=None)
    checked = [(current, True)] if current else []
    if newest is not None and newest is not current:
        checked.append((newest, False))
    in_current = set(current.groups) if current else set()
    for required, effective in checked:
        ahead = "" if effective else _dated(required.effective_on, now)[1]
        for group in required.groups:
            if names & set(group) or (not effective and group in in_current):
                continue
            skipped = [
                t["name"]
                for t in (pipeline.get("spec") or {}).get("tasks") or []
                if catalog_task(t) in group and t not in ran
            ]
            why = f" ({', '.join(skipped)} is skipped by its when)" if skipped else ""
            yield Problem(
                "",
                f"required task {' or '.join(group)} does not run{why}{ahead}",
                "tasks.required_tasks_found",
                _severity(effective),
            )
    for rule in policy.params:
        effective, ahead = _dated(rule.effective_on, now)
        for task in ran:
            if catalog_task(task) not in rule.tasks:
                continue
            for value in task_param_values(task, rule.param, params):
                wrong = _param_wrong(rule, value)
                if wrong:
                    yield Problem(
                        f"task {task['name']}", f"{wrong}{ahead}", rule.rule, _severity(effective)
                    )


def task_param_values(task: dict, name: str, params: dict[str, Any]) -> list[Any]:
    """The values a task's param takes: one, each of a matrix's, or None when it is not set."""
    given = named_values(task.get("params"))
    if name in given:
        return [substitute(given[name], params)]
    matrix = named_values((task.get("matrix") or {}).get("params"))
    if name in matrix:
        values: list[Any] = []
        for item in matrix[name] or []:
            value = substitute(item, params)
            values += value if isinstance(value, list) else [value]
        return values
    return [None]


def _param_wrong(rule: ParamRule, value: Any) -> str | None:
    if rule.equals is not None and str(value) != rule.equals:
        return f'{rule.param} is {value!r}, not "{rule.equals}"'
    if rule.not_equals is not None and str(value) == rule.not_equals:
        return f'{rule.param} is "{rule.not_equals}"'
    for pattern in rule.denied_patterns:
        if value is not None and re.search(pattern, str(value).strip()):
            if pattern == r"\S":  # any value at all
                return f"{rule.param} is set ({str(value)!r}); the rule allows none"
            return f"{rule.param} {str(value)!r} matches the disallowed {pattern!r}"
    return None


HERMETIC_RULE = "hermetic_task.hermetic"


def policy_problems(
    documents: dict[str, dict],
    now: datetime | None = None,
    not_hermetic: dict[str, str] | None = None,
) -> Iterator[Problem]:
    """Every policy problem of .tekton/; one that many PipelineRuns share is one line.

    A component the config builds with the network on (`not_hermetic`: component -> reason)
    fails the hermetic rule by choice: reported, as a warning naming the reason."""
    policy = release_policy()
    upstream = upstream_pipeline()
    pipelines = {
        data["metadata"]["name"]: (display, data)
        for display, data in documents.items()
        if data.get("kind") == "Pipeline"
    }
    for display, data in pipelines.values():
        yield from parity_problems(data, display, upstream)
        yield from bundle_problems(data, display, policy, now)
    shared: dict[Problem, list[str]] = {}
    total = 0
    for display, data in documents.items():
        if data.get("kind") != "PipelineRun":
            continue
        ref = ((data.get("spec") or {}).get("pipelineRef") or {}).get("name")
        if ref not in pipelines:
            continue  # the structure check reports it
        total += 1
        component = ((data.get("metadata") or {}).get("labels") or {}).get(
            "appstudio.openshift.io/component"
        )
        for problem in run_problems(pipelines[ref][1], data, policy, now):
            if problem.fix == HERMETIC_RULE and component in (not_hermetic or {}):
                problem = Problem(
                    problem.where,
                    f"{problem.message}: the config builds {component} with the network on "
                    f"({(not_hermetic or {})[component]}), so the release policy fails its "
                    "builds until it is made hermetic",
                    HERMETIC_RULE,
                    Severity.WARNING,
                )
            shared.setdefault(problem, []).append(display)
    for problem, displays in shared.items():
        runs_named = (
            f"all {total} PipelineRuns"
            if len(displays) == total and total > 1
            else displays[0]
            if len(displays) == 1
            else f"{len(displays)} PipelineRuns ({displays[0]}, ...)"
        )
        where = f"{runs_named}: {problem.where}" if problem.where else runs_named
        yield Problem(where, problem.message, problem.fix, problem.severity)

"""Validator of .tekton/: structure, metadata, CEL, params, bundles, prefetch-input, pairs."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tcibsrc.common.errors import Problem, ToolkitError
from tcibsrc.common.yamlio import YamlError, load_yaml
from tcibsrc.konflux.affected import CEL_ANNOTATION, compile_expression
from tcibsrc.konflux.facts import parse_bundle
from tcibsrc.konflux.policy_check import named_values, policy_problems

REQUIRED_LABELS = (
    "appstudio.openshift.io/application",
    "appstudio.openshift.io/component",
    "pipelines.appstudio.openshift.io/type",
)
REQUIRED_ANNOTATIONS = (
    "build.appstudio.openshift.io/repo",
    "build.appstudio.redhat.com/commit_sha",
    "build.appstudio.redhat.com/target_branch",
    "pipelinesascode.tekton.dev/max-keep-runs",
    CEL_ANNOTATION,
)
PR_ANNOTATIONS = (
    "build.appstudio.redhat.com/pull_request_number",
    "pipelinesascode.tekton.dev/cancel-in-progress",
)
_PARAM_USE = re.compile(r"\$\(params\.([A-Za-z0-9_-]+)(?:\[\*\])?\)")
PIP_KEYS = {"type", "path", "requirements_files", "requirements_build_files", "binary"}
# hermeto's PipBinaryFilters (extra keys forbidden; `platform` excludes a custom arch or os)
PIP_BINARY_KEYS = {"packages", "arch", "os", "py_version", "py_impl", "abi", "platform"}
RPM_KEYS = {"type", "path", "options", "include_summary_in_sbom", "binary"}
GENERIC_KEYS = {"type", "path", "lockfile"}
KEYS = {"pip": PIP_KEYS, "rpm": RPM_KEYS, "generic": GENERIC_KEYS}


def _load(path: Path, display: str) -> tuple[Any, list[Problem]]:
    try:
        return load_yaml(path, display=display), []
    except YamlError as exc:
        return None, [
            Problem(display, f"YAML does not parse ({exc.reason}, line {exc.line_number})")
        ]
    except ToolkitError as exc:
        return None, [Problem(exc.where, exc.problem, exc.fix)]


def pipeline_problems(data: dict, display: str) -> Iterator[Problem]:
    spec = data.get("spec") or {}
    declared = {item.get("name") for item in spec.get("params") or []}
    text = json.dumps(spec)
    for name in sorted(set(_PARAM_USE.findall(text)) - declared):
        yield Problem(display, f"$(params.{name}) is used but not declared")
    for task in spec.get("tasks") or []:
        ref = task.get("taskRef") or {}
        bundle = named_values(ref.get("params")).get("bundle")
        if ref.get("resolver") != "bundles" or not bundle:
            yield Problem(display, f"task {task.get('name')} has no bundle reference")
        elif parse_bundle(str(bundle)) is None:
            yield Problem(
                display, f"task {task.get('name')} bundle {bundle} is not a bundle reference"
            )


def prefetch_problems(value: Any, display: str, root: Path) -> Iterator[Problem]:
    try:
        packages = json.loads(value) if isinstance(value, str) else value
    except json.JSONDecodeError as exc:
        yield Problem(display, f"prefetch-input is not JSON ({exc.msg})")
        return
    if isinstance(packages, dict):
        packages = packages.get("packages", [packages])
    for package in packages if isinstance(packages, list) else []:
        kind = package.get("type")
        allowed = KEYS.get(str(kind))
        if allowed is None:
            yield Problem(display, f"prefetch-input type {kind!r} is not pip, rpm or generic")
            continue
        for key in sorted(set(package) - allowed):
            yield Problem(display, f"prefetch-input {kind} has key {key!r}, which hermeto refuses")
        if kind == "pip" and "binary" in package:
            yield from _binary_problems(package["binary"], display)
        base = root / package.get("path", ".")
        if not base.is_dir():
            yield Problem(display, f"prefetch-input path {package.get('path')} does not exist")
        for key in ("requirements_files", "requirements_build_files"):
            for name in package.get(key, []):
                if not (base / name).is_file():
                    yield Problem(display, f"prefetch-input {key} {name} does not exist")
        if kind == "generic":
            yield from _generic_problems(package, base, display)


def _generic_problems(package: dict, base: Path, display: str) -> Iterator[Problem]:
    """hermeto's generic fetcher: its lockfile (artifacts.lock.yaml by default) inside path."""
    name = str(package.get("lockfile") or "artifacts.lock.yaml")
    lockfile = (base / name).resolve()
    if not lockfile.is_relative_to(base.resolve()):
        yield Problem(display, f"prefetch-input generic lockfile {name} is outside its path")
    elif not lockfile.is_file():
        yield Problem(display, f"prefetch-input generic lockfile {name} does not exist")


def _binary_problems(binary: Any, display: str) -> Iterator[Problem]:
    """hermeto's pip binary filter: its keys, and the pairs it refuses."""
    if not isinstance(binary, dict):
        yield Problem(display, "prefetch-input pip binary is not a mapping")
        return
    for key in sorted(set(binary) - PIP_BINARY_KEYS):
        yield Problem(display, f"prefetch-input pip binary has key {key!r}, which hermeto refuses")
    if "py_version" in binary and not isinstance(binary["py_version"], int):
        yield Problem(display, "prefetch-input pip binary py_version is not an integer (312)")
    if binary.get("platform") and (binary.get("arch") or binary.get("os")):
        yield Problem(display, "prefetch-input pip binary sets platform with arch or os")


def pipelinerun_problems(
    data: dict,
    display: str,
    root: Path,
    pipelines: dict[str, set[str]],
    not_hermetic: dict[str, str] | None = None,
) -> Iterator[Problem]:
    metadata = data.get("metadata") or {}
    labels = metadata.get("labels") or {}
    annotations = metadata.get("annotations") or {}
    for label in REQUIRED_LABELS:
        if not labels.get(label):
            yield Problem(display, f"label {label} is missing")
    required = list(REQUIRED_ANNOTATIONS)
    expression = str(annotations.get(CEL_ANNOTATION, ""))
    if '"pull_request"' in expression:
        required += list(PR_ANNOTATIONS)
    for annotation in required:
        if annotation not in annotations:
            yield Problem(display, f"annotation {annotation} is missing")
    if expression:
        try:
            compile_expression(expression, display)
        except ToolkitError as error:
            yield Problem(error.where, error.problem, error.fix)
    spec = data.get("spec") or {}
    ref = (spec.get("pipelineRef") or {}).get("name")
    if ref not in pipelines:
        yield Problem(display, f"pipelineRef {ref} is not a Pipeline in .tekton/")
    else:
        for name in sorted(set(named_values(spec.get("params"))) - pipelines[ref]):
            yield Problem(display, f"param {name} is not a param of Pipeline {ref}")
    params = named_values(spec.get("params"))
    component_name = labels.get("appstudio.openshift.io/component")
    if params.get("hermetic") != "true" and component_name not in (not_hermetic or {}):
        yield Problem(display, 'hermetic is not "true"')
    dockerfile = params.get("dockerfile")
    if not dockerfile or not (root / str(dockerfile)).is_file():
        yield Problem(display, f"dockerfile {dockerfile} does not exist")
    if "prefetch-input" in params:
        yield from prefetch_problems(params["prefetch-input"], display, root)
    account = (spec.get("taskRunTemplate") or {}).get("serviceAccountName")
    component = labels.get("appstudio.openshift.io/component")
    if account != f"build-pipeline-{component}":
        yield Problem(display, f"serviceAccountName is {account}, not build-pipeline-{component}")


def tekton_problems(
    root: Path, tekton_dir: Path, not_hermetic: dict[str, str] | None = None
) -> list[Problem]:
    """Every problem of every file under .tekton/, one line each; `not_hermetic`: component
    -> why the config builds it with the network on (images.builds)."""
    problems: list[Problem] = []
    documents: dict[Path, dict] = {}
    for path in sorted(tekton_dir.glob("*.yaml")):
        display = f"{tekton_dir.name}/{path.name}"
        data, errors = _load(path, display)
        problems += errors
        if not isinstance(data, dict):
            if not errors:
                problems.append(Problem(display, "not a Tekton document"))
            continue
        if data.get("kind") not in ("Pipeline", "PipelineRun") or not (
            data.get("metadata") or {}
        ).get("name"):
            problems.append(Problem(display, f"kind {data.get('kind')!r} / name missing"))
            continue
        documents[path] = data
    pipelines = {
        d["metadata"]["name"]: {p.get("name") for p in d["spec"].get("params") or []}
        for d in documents.values()
        if d["kind"] == "Pipeline"
    }
    for path, data in documents.items():
        display = f"{tekton_dir.name}/{path.name}"
        if data["kind"] == "Pipeline":
            problems += list(pipeline_problems(data, display))
        else:
            problems += list(pipelinerun_problems(data, display, root, pipelines, not_hermetic))
    problems += list(pair_problems(documents, tekton_dir.name))
    problems += list(
        policy_problems(
            {f"{tekton_dir.name}/{path.name}": d for path, d in documents.items()},
            not_hermetic=not_hermetic,
        )
    )
    return problems


def pair_problems(documents: dict[Path, dict], directory: str) -> Iterator[Problem]:
    """A component's pull-request and push runs build the same thing the same way."""
    runs: dict[str, dict[str, dict]] = {}
    for path, data in documents.items():
        if data["kind"] != "PipelineRun":
            continue
        component = (data["metadata"].get("labels") or {}).get(
            "appstudio.openshift.io/component", ""
        )
        kind = "pull-request" if path.stem.endswith("pull-request") else "push"
        runs.setdefault(component, {})[kind] = data
    ignored = {"output-image", "image-expires-after"}
    for component, pair in sorted(runs.items()):
        if set(pair) != {"pull-request", "push"}:
            missing = ({"pull-request", "push"} - set(pair)).pop()
            yield Problem(directory, f"component {component} has no {missing} PipelineRun")
            continue
        left, right = (
            {
                key: value
                for key, value in named_values(pair[kind]["spec"].get("params")).items()
                if key not in ignored
            }
            for kind in ("pull-request", "push")
        )
        for key in sorted(set(left) | set(right)):
            if left.get(key) != right.get(key):
                yield Problem(
                    directory,
                    f"component {component}: param {key} differs between its pull-request and "
                    "push runs",
                )

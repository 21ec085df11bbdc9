"""make update-bundles: the Konflux facts the shared Pipeline follows, read from local checkouts.

From konflux-ci/build-definitions: the params and tasks of docker-build-multi-platform-oci-ta and
each task's bundle (`external-task/<task>/<version>/<task>.yaml` names it `tag@sha256`; a task
built in that repository gets the tag `<version>-<commit of its file>`, and its digest is asked
of the registry with skopeo, or else read from a repository whose .tekton/ MintMaker pinned:
never written without one). From release-engineering/rhtap-ec-policy:
the docker build type's required tasks and the trusted-task deny rules of those tasks. The rules
on params come from conforma/policy's rego, which is not data: they are kept by hand in the file
and carried over. Both files record the commit they were read from.
"""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path
from typing import Any

import yaml
from packaging.version import InvalidVersion, Version

from tcibsrc.common.errors import ToolkitError
from tcibsrc.common.git import GitError, git, last_commit_of, revision, show_file
from tcibsrc.common.registry import digest_of
from tcibsrc.common.yamlio import load_yaml
from tcibsrc.konflux.facts import ANY_VERSION, TASK_BUNDLE_PREFIX

UPSTREAM_PIPELINE = "docker-build-multi-platform-oci-ta"
PIPELINE_PATH = f"pipelines/{UPSTREAM_PIPELINE}/{UPSTREAM_PIPELINE}.yaml"
REQUIRED_TASKS_PATH = "data/required_tasks.yml"
TRUSTED_RULES_PATH = "data/trusted_task_rules.yaml"
RULE_DATA_PATH = "data/rule_data.yml"
HERMETIC_RULE = "hermetic_task.hermetic"
PLATFORM_RULE = "buildah_build_task.platform_param"
BUILDAH_TASKS = ["buildah", "buildah-oci-ta", "buildah-remote", "buildah-remote-oci-ta"]
BUILD_TYPE = "docker"


def source_of(checkout: Path, repository: str) -> dict[str, str]:
    found = revision(checkout)
    return {"repository": repository, "commit": found.commit, "date": found.date}


def _read_yaml(checkout: Path, path: str, repository: str) -> Any:
    file = checkout / path
    if not file.is_file():
        raise ToolkitError(str(file), "missing", f"give a {repository} checkout")
    return load_yaml(file)


def pinned_elsewhere(pinned_by: Path | None, task: str, version: str) -> tuple[str, str] | None:
    """A `task-<task>:<version>@sha256` reference MintMaker pinned in another repository's
    .tekton/ (a clone given as PINNED_BUNDLES), with the commit it was read at."""
    if pinned_by is None:
        return None
    pattern = re.compile(
        rf"{re.escape(TASK_BUNDLE_PREFIX + task)}:{re.escape(version)}(?:\.[0-9]+)*"
        r"@sha256:[0-9a-f]{64}"
    )
    for path in sorted((pinned_by / ".tekton").glob("*.y*ml")):
        found = pattern.search(path.read_text(encoding="utf-8"))
        if found:
            commit = last_commit_of(pinned_by, str(path))
            return found[0], f"{pinned_by.name} {commit[:12]} .tekton/{path.name}"
    return None


def task_bundle(
    checkout: Path, task: str, version: str, pinned_by: Path | None = None
) -> tuple[str, str]:
    """(bundle reference, the file it came from) of one catalog task version."""
    external = f"external-task/{task}/{version}/{task}.yaml"
    if (checkout / external).is_file():
        data = _read_yaml(checkout, external, "konflux-ci/build-definitions") or {}
        reference = data.get("task_bundle")
        if not reference:
            raise ToolkitError(str(checkout / external), "no task_bundle", "check the checkout")
        return str(reference), external
    internal = f"task/{task}/{version}/{task}.yaml"
    if not (checkout / internal).is_file():
        raise ToolkitError(
            str(checkout / PIPELINE_PATH),
            f"{task} {version}: neither {external} nor {internal} exists",
            "give a complete konflux-ci/build-definitions checkout",
        )
    commit = last_commit_of(checkout, internal)
    reference = f"{TASK_BUNDLE_PREFIX}{task}:{version}-{commit}"
    digest = digest_of(reference).digest
    if digest:
        return f"{reference}@{digest}", internal
    elsewhere = pinned_elsewhere(pinned_by, task, version)
    if elsewhere:
        return elsewhere
    raise ToolkitError(
        f"{task} {version}",
        f"built inside build-definitions ({internal}), and its digest is not in git",
        "run where skopeo reaches quay.io, or give PINNED_BUNDLES= a clone of a repository "
        "whose .tekton/ MintMaker keeps current (konflux-ci/tools, for one)",
    )


PREFETCH_TASK = "prefetch-dependencies-oci-ta"
HERMETO_STEP = "prefetch-dependencies"
VERSION_LABEL = "app.kubernetes.io/version"


def catalog_task_file(task: str) -> str:
    """Where konflux-ci/container-build-catalog keeps a task (one version: its newest)."""
    return f"task/{task}/{task}.yaml"


def _step_image(data: Any, step: str) -> str | None:
    for item in ((data or {}).get("spec") or {}).get("steps") or []:
        if isinstance(item, dict) and item.get("name") == step and item.get("image"):
            return str(item["image"])
    return None


def _label_version(data: Any) -> str | None:
    labels = ((data or {}).get("metadata") or {}).get("labels") or {}
    version = labels.get(VERSION_LABEL)
    return str(version) if version else None


def catalog_versions(catalog: Path, task: str) -> list[tuple[str, str, Any]]:
    """(commit, version, task data) for each commit of the catalog's file of `task`, newest
    first: the task's history, so an older pinned version's definition can be read."""
    path = catalog_task_file(task)
    try:
        commits = git(catalog, "log", "--format=%H", "--", path).split()
    except GitError:
        commits = []  # not a clone with that history: no version read from it
    found = []
    for commit in commits:
        text = show_file(catalog, commit, path)
        if text is None:
            continue
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError:
            continue
        version = _label_version(data)
        if version:
            found.append((commit, version, data))
    return found


def hermeto_image(
    build_definitions: Path,
    catalog: Path | None,
    bundle: str,
    kept: dict[str, str] | None,
) -> tuple[dict[str, str] | None, str | None]:
    """The hermeto image the pinned prefetch task runs, and a note when it is not read here.

    From the task's definition at the pinned version: in the catalog's history (its version
    label), or in build-definitions' task/ directory (versions built there); else the
    committed value is kept and said."""
    version = bundle.split(":", 1)[-1].split("@", 1)[0].split("-", 1)[0]
    if catalog is not None:
        for commit, label, data in catalog_versions(catalog, PREFETCH_TASK):
            if label == version and (image := _step_image(data, HERMETO_STEP)):
                source = source_of(catalog, "konflux-ci/container-build-catalog")
                return {
                    "image": image,
                    "from": f"konflux-ci/container-build-catalog {commit[:12]} "
                    f"{catalog_task_file(PREFETCH_TASK)} (version {label}); checkout at "
                    f"{source['commit'][:12]}",
                }, None
    minor = ".".join(version.split(".")[:2])
    internal = f"task/{PREFETCH_TASK}/{minor}/{PREFETCH_TASK}.yaml"
    if (build_definitions / internal).is_file():
        data = _read_yaml(build_definitions, internal, "konflux-ci/build-definitions")
        image = _step_image(data, HERMETO_STEP)
        if image:
            commit = last_commit_of(build_definitions, internal)
            return {
                "image": image,
                "from": f"konflux-ci/build-definitions {commit[:12]} {internal}",
            }, None
    note = (
        f"hermeto image: {PREFETCH_TASK} {version} is defined in container-build-catalog; "
        "give CATALOG= a clone of konflux-ci/container-build-catalog to read it"
    )
    return kept, note + ("; the committed one is kept" if kept else "")


def newer_in_catalog(catalog: Path | None, tasks: list[dict[str, Any]]) -> list[str]:
    """Tasks whose newest version in the catalog is past the pinned bundle's: said, not
    written (their digests are not in git; MintMaker, skopeo or PINNED_BUNDLES give them)."""
    if catalog is None:
        return []
    notes = []
    for task in tasks:
        if not (catalog / catalog_task_file(task["task"])).is_file():
            continue
        data = _read_yaml(catalog, catalog_task_file(task["task"]), "container-build-catalog")
        newest = _label_version(data)
        pinned = task["bundle"].split(":", 1)[-1].split("@", 1)[0].split("-", 1)[0]
        try:
            ahead = newest is not None and Version(newest) > Version(pinned)
        except InvalidVersion:
            ahead = False
        if ahead:
            notes.append(
                f"{task['task']}: {newest} in the catalog, {pinned} pinned (not updated: its "
                "bundle digest is not in git; MintMaker's update or PINNED_BUNDLES= brings it)"
            )
    return notes


def read_pipeline(checkout: Path, pinned_by: Path | None = None) -> dict[str, Any]:
    """The upstream Pipeline's labels, params and tasks with their bundles."""
    repository = "konflux-ci/build-definitions"
    data = _read_yaml(checkout, PIPELINE_PATH, repository)
    spec = data["spec"]
    params = []
    for param in spec["params"]:
        item: dict[str, Any] = {"name": param["name"], "type": param.get("type", "string")}
        if "default" in param:
            item["default"] = param["default"]
        params.append(item)
    tasks = []
    for task in spec["tasks"]:
        ref = task["taskRef"]
        bundle, origin = task_bundle(checkout, ref["name"], str(ref["version"]), pinned_by)
        tasks.append(
            {
                "name": task["name"],
                "task": ref["name"],
                "version": str(ref["version"]),
                "bundle": bundle,
                "from": origin,
            }
        )
    source = {**source_of(checkout, repository), "path": PIPELINE_PATH}
    labels = dict((data.get("metadata") or {}).get("labels") or {})
    return {"source": source, "labels": labels, "params": params, "tasks": tasks}


def read_policy(checkout: Path, tasks: list[str], kept: dict[str, Any] | None) -> dict[str, Any]:
    """The docker build type's required tasks and the deny rules of `tasks`."""
    repository = "release-engineering/rhtap-ec-policy"
    required = _read_yaml(checkout, REQUIRED_TASKS_PATH, repository)["pipeline-required-tasks"]
    rules = _read_yaml(checkout, TRUSTED_RULES_PATH, repository)["rule_data"]
    trusted = rules["trusted_task_rules"]
    allow = sorted({rule["pattern"] for group in trusted["allow"].values() for rule in group})
    deny: dict[str, list[dict[str, Any]]] = {}
    for group in trusted["deny"].values():
        for rule in group:
            pattern = str(rule.get("pattern", ""))
            for name in tasks:
                if not fnmatch.fnmatchcase(f"oci://{TASK_BUNDLE_PREFIX}{name}", pattern):
                    continue
                # a rule without versions denies every version of what it matches
                for versions in rule.get("versions") or [ANY_VERSION]:
                    entry: dict[str, Any] = {"versions": str(versions)}
                    if rule.get("effective_on"):
                        entry["effective_on"] = str(rule["effective_on"])
                    if entry not in deny.setdefault(name, []):
                        deny[name].append(entry)
    tenant_defaults = _read_yaml(checkout, RULE_DATA_PATH, repository)["rule_data"]
    hermetic_tasks = tenant_defaults["required_hermetic_tasks"]
    hermetic = {
        "rule": HERMETIC_RULE,
        "tasks": sorted(hermetic_tasks),
        "param": "HERMETIC",
        "equals": "true",
        "source": f"conforma/policy policy/release/hermetic_task/hermetic_task.rego; the tasks: "
        f"rhtap-ec-policy {RULE_DATA_PATH} required_hermetic_tasks",
    }
    kept = kept or {}
    sources = {
        "rhtap-ec-policy": {
            **source_of(checkout, repository),
            "paths": f"{REQUIRED_TASKS_PATH} {TRUSTED_RULES_PATH} {RULE_DATA_PATH}",
        },
        **{
            key: value for key, value in kept.get("sources", {}).items() if key != "rhtap-ec-policy"
        },
    }
    return {
        "sources": sources,
        "build_type": BUILD_TYPE,
        "required_tasks": [
            {"effective_on": str(item["effective_on"]), "tasks": item["tasks"]}
            for item in required[BUILD_TYPE]
        ],
        "trusted_tasks": {
            "allow": allow,
            "deny": {name: deny[name] for name in sorted(deny)},
        },
        "params": [
            hermetic,
            {
                "rule": PLATFORM_RULE,
                "tasks": BUILDAH_TASKS,
                "param": "PLATFORM",
                "denied_patterns": list(tenant_defaults.get("disallowed_platform_patterns", [])),
                "effective_on": "2024-09-01T00:00:00Z",
                "source": "conforma/policy policy/release/buildah_build_task/buildah_build_task"
                f".rego; the patterns: rhtap-ec-policy {RULE_DATA_PATH} "
                "disallowed_platform_patterns",
            },
            *(
                rule
                for rule in kept.get("params", [])
                if rule.get("rule") not in (HERMETIC_RULE, PLATFORM_RULE)
            ),
        ],
    }


def render_data(header: str, data: dict[str, Any]) -> str:
    body = yaml.safe_dump(data, sort_keys=False, default_flow_style=None, width=100)
    return header + body


PIPELINE_HEADER = (
    "# Konflux's docker-build-multi-platform-oci-ta: its params, its tasks and the bundle each is\n"
    "# pinned to (`from`: the file of build-definitions it was read from or, for a digest git\n"
    "# does not hold, the clone, commit and file where MintMaker pinned it). Written by\n"
    "# `make update-bundles`; the shared Pipeline declares every param and task named here.\n"
)
POLICY_HEADER = (
    "# What Konflux's release policy requires of a docker build Pipeline: required tasks (a list\n"
    "# is any one of), trusted task locations and denied versions, from rhtap-ec-policy (written\n"
    "# by `make update-bundles`); `params`: conforma/policy's rules on task params, kept by hand\n"
    "# from the rego named in each `source`. `make check` holds .tekton/ to all of it.\n"
)


def kept_policy(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    return load_yaml(path)

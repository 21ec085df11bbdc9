"""The Konflux facts the shared Pipeline and its checks follow, as models of two data files.

data/konflux_pipeline.yaml: the tasks and params of Konflux's docker-build-multi-platform-oci-ta
and the bundle each task is pinned to, from konflux-ci/build-definitions.
data/konflux_policy.yaml: what Konflux's release policy requires of such a Pipeline (required
tasks, denied task versions, rules on params), from release-engineering/rhtap-ec-policy and
conforma/policy. Both name the commit they were read from; `make update-bundles` refreshes them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from typing import Any

import yaml
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from tcibsrc.common.errors import ToolkitError

PIPELINE_DATA = "data/konflux_pipeline.yaml"
POLICY_DATA = "data/konflux_policy.yaml"
TASK_BUNDLE_PREFIX = "quay.io/konflux-ci/tekton-catalog/task-"
ANY_VERSION = "any"  # a deny rule without versions: every version
_REFERENCE = re.compile(
    r"^(?P<repository>[a-z0-9.-]+(?::[0-9]+)?/[^:@\s]+):(?P<tag>[A-Za-z0-9_.-]+)"
    r"(?:@(?P<digest>sha256:[0-9a-f]{64}))?$"
)


@dataclass(frozen=True)
class UpstreamParam:
    """One param of the upstream Pipeline (ours declares every one)."""

    name: str
    type: str
    default: Any = None  # None: the param has no default (a PipelineRun must set it)


@dataclass(frozen=True)
class UpstreamTask:
    """One task of the upstream Pipeline: its name there, the catalog task and its bundle."""

    name: str
    task: str
    version: str
    bundle: str
    origin: str  # the file of build-definitions the bundle reference was read from


@dataclass(frozen=True)
class UpstreamPipeline:
    source: dict[str, str]
    labels: dict[str, str]
    params: tuple[UpstreamParam, ...]
    tasks: tuple[UpstreamTask, ...]


@dataclass(frozen=True)
class Bundle:
    """A task bundle reference, `repository:tag@sha256:digest` (the digest may be unknown)."""

    repository: str
    tag: str
    digest: str | None

    @property
    def task(self) -> str:
        return self.repository.rsplit("/", 1)[-1].removeprefix("task-")

    @property
    def version(self) -> Version | None:
        """The task version the tag names: 0.4.2, 0.3, or 0.2 of 0.2-<commit>."""
        try:
            return Version(self.tag.split("-", 1)[0])
        except InvalidVersion:
            return None

    def __str__(self) -> str:
        return f"{self.repository}:{self.tag}" + (f"@{self.digest}" if self.digest else "")


def parse_bundle(reference: str) -> Bundle | None:
    match = _REFERENCE.match(reference.strip())
    if not match:
        return None
    return Bundle(match["repository"], match["tag"], match["digest"])


@dataclass(frozen=True)
class DenyRule:
    """Versions of a catalog task the trusted-task rules deny, from a date on."""

    versions: str  # a specifier such as "<0.10", or "any"
    effective_on: str | None

    def denies(self, version: Version | None) -> bool | None:
        """True or False; None when a tag's version is too coarse to tell ("0.7" against
        "<0.7.1": Conforma reads the bundle's own version annotation, 0.7.x)."""
        if self.versions == ANY_VERSION or version is None:
            return True  # Conforma denies a bundle whose version it cannot read
        try:
            specifiers = SpecifierSet(self.versions)
        except InvalidSpecifier:
            return True
        finer = max(len(Version(spec.version).release) for spec in specifiers) > len(
            version.release
        )
        if not finer:
            return version in specifiers
        # a tag of 0.7 stands for any 0.7.x: decided only when its first and last agree
        pad = max(len(Version(spec.version).release) for spec in specifiers) - len(version.release)
        first = Version(".".join(map(str, [*version.release, *[0] * pad])))
        last = Version(".".join(map(str, [*version.release, *[9999] * pad])))
        if (first in specifiers) == (last in specifiers):
            return first in specifiers
        return None


@dataclass(frozen=True)
class ParamRule:
    """A Conforma rule on one param of some tasks (hermetic builds, the registry proxy...)."""

    rule: str
    tasks: tuple[str, ...]
    param: str
    equals: str | None
    not_equals: str | None
    effective_on: str | None
    source: str
    denied_patterns: tuple[str, ...] = ()  # regular expressions a value must not match


@dataclass(frozen=True)
class RequiredTasks:
    effective_on: str
    groups: tuple[tuple[str, ...], ...]  # each group: any one of these catalog tasks


@dataclass(frozen=True)
class ReleasePolicy:
    sources: dict[str, dict[str, str]]
    build_type: str
    required: tuple[RequiredTasks, ...]
    allow: tuple[str, ...]  # trusted task locations, oci://...* patterns
    deny: dict[str, tuple[DenyRule, ...]]
    params: tuple[ParamRule, ...]

    def required_now(self, now: datetime | None = None) -> RequiredTasks | None:
        """The newest required-task list in effect."""
        moment = now or datetime.now(UTC)
        current = [item for item in self.required if in_effect(item.effective_on, moment)]
        return max(current, key=lambda item: item.effective_on) if current else None


def in_effect(effective_on: str | None, now: datetime | None = None) -> bool:
    if not effective_on:
        return True
    when = datetime.fromisoformat(str(effective_on).replace("Z", "+00:00"))
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when <= (now or datetime.now(UTC))


def _load(name: str) -> dict[str, Any]:
    display = f"scripts/tcibsrc/{name}"
    resource = resources.files("tcibsrc").joinpath(name)
    if not resource.is_file():
        raise ToolkitError(display, "missing", "run `make update-bundles`")
    try:
        data = yaml.safe_load(resource.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ToolkitError(
            display, f"malformed YAML ({str(exc).splitlines()[0]})", "run `make update-bundles`"
        ) from exc
    if not isinstance(data, dict):
        raise ToolkitError(display, "not a mapping", "run `make update-bundles`")
    return data


@cache
def upstream_pipeline() -> UpstreamPipeline:
    data = _load(PIPELINE_DATA)
    return UpstreamPipeline(
        source=dict(data["source"]),
        labels=dict(data.get("labels") or {}),
        params=tuple(
            UpstreamParam(item["name"], item.get("type", "string"), item.get("default"))
            for item in data["params"]
        ),
        tasks=tuple(
            UpstreamTask(
                item["name"], item["task"], str(item["version"]), item["bundle"], item["from"]
            )
            for item in data["tasks"]
        ),
    )


@cache
def release_policy() -> ReleasePolicy:
    data = _load(POLICY_DATA)
    return ReleasePolicy(
        sources={key: dict(value) for key, value in data["sources"].items()},
        build_type=data["build_type"],
        required=tuple(
            RequiredTasks(
                str(item["effective_on"]),
                tuple(
                    tuple(group) if isinstance(group, list) else (group,) for group in item["tasks"]
                ),
            )
            for item in data["required_tasks"]
        ),
        allow=tuple(data["trusted_tasks"]["allow"]),
        deny={
            task: tuple(DenyRule(rule["versions"], rule.get("effective_on")) for rule in rules)
            for task, rules in data["trusted_tasks"]["deny"].items()
        },
        params=tuple(
            ParamRule(
                rule=item["rule"],
                tasks=tuple(item["tasks"]),
                param=item["param"],
                equals=item.get("equals"),
                not_equals=item.get("not_equals"),
                effective_on=item.get("effective_on"),
                source=item["source"],
                denied_patterns=tuple(item.get("denied_patterns", ())),
            )
            for item in data["params"]
        ),
    )

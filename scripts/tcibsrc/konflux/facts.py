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
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version
from pydantic import ConfigDict, Field, field_validator

from tcibsrc.common.datafiles import load_data
from tcibsrc.common.models import StrictModel

PIPELINE_DATA = "konflux_pipeline.yaml"
POLICY_DATA = "konflux_policy.yaml"
TASK_BUNDLE_PREFIX = "quay.io/konflux-ci/tekton-catalog/task-"
ANY_VERSION = "any"  # a deny rule without versions: every version
_REFERENCE = re.compile(
    r"^(?P<repository>[a-z0-9.-]+(?::[0-9]+)?/[^:@\s]+):(?P<tag>[A-Za-z0-9_.-]+)"
    r"(?:@(?P<digest>sha256:[0-9a-f]{64}))?$"
)


class UpstreamParam(StrictModel):
    """One param of the upstream Pipeline (ours declares every one)."""

    name: str
    type: str = "string"
    default: Any = None  # None: the param has no default (a PipelineRun must set it)


class UpstreamTask(StrictModel):
    """One task of the upstream Pipeline: its name there, the catalog task and its bundle."""

    model_config = ConfigDict(populate_by_name=True)

    name: str
    task: str
    version: str
    bundle: str
    origin: str = Field(alias="from")  # the file (or clone) the bundle reference was read from


class HermetoImage(StrictModel):
    """The hermeto image the pinned prefetch task runs: what `make prefetch` runs locally."""

    model_config = ConfigDict(populate_by_name=True)

    image: str = Field(pattern=r"^[^\s@]+(:[^\s@]+)?(@sha256:[0-9a-f]{64})?$")
    origin: str = Field(alias="from")


class UpstreamPipeline(StrictModel):
    """data/konflux_pipeline.yaml."""

    source: dict[str, str]
    labels: dict[str, str] = Field(default_factory=dict)
    params: tuple[UpstreamParam, ...]
    tasks: tuple[UpstreamTask, ...]
    hermeto: HermetoImage | None = None


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


class DenyRule(StrictModel):
    """Versions of a catalog task the trusted-task rules deny, from a date on."""

    versions: str  # a specifier such as "<0.10", or "any"
    effective_on: str | None = None

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


class ParamRule(StrictModel):
    """A Conforma rule on one param of some tasks (hermetic builds, the registry proxy...)."""

    rule: str
    tasks: tuple[str, ...]
    param: str
    equals: str | None = None
    not_equals: str | None = None
    effective_on: str | None = None
    source: str
    denied_patterns: tuple[str, ...] = ()  # regular expressions a value must not match


class RequiredTasks(StrictModel):
    """A required-task list from a date on; each group: any one of these catalog tasks."""

    model_config = ConfigDict(populate_by_name=True)

    effective_on: str
    groups: tuple[tuple[str, ...], ...] = Field(alias="tasks")

    @field_validator("groups", mode="before")
    @classmethod
    def _single_tasks_are_groups(cls, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return [item if isinstance(item, list | tuple) else [item] for item in value]
        return value


class TrustedTasks(StrictModel):
    allow: tuple[str, ...]  # trusted task locations, oci://...* patterns
    deny: dict[str, tuple[DenyRule, ...]] = Field(default_factory=dict)


class ReleasePolicy(StrictModel):
    """data/konflux_policy.yaml."""

    model_config = ConfigDict(populate_by_name=True)

    sources: dict[str, dict[str, str]]
    build_type: str
    required: tuple[RequiredTasks, ...] = Field(alias="required_tasks")
    trusted_tasks: TrustedTasks
    params: tuple[ParamRule, ...] = ()

    @property
    def allow(self) -> tuple[str, ...]:
        return self.trusted_tasks.allow

    @property
    def deny(self) -> dict[str, tuple[DenyRule, ...]]:
        return self.trusted_tasks.deny

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


def upstream_pipeline() -> UpstreamPipeline:
    return load_data(PIPELINE_DATA, UpstreamPipeline, "run `make update-bundles`")


def release_policy() -> ReleasePolicy:
    return load_data(POLICY_DATA, ReleasePolicy, "run `make update-bundles`")

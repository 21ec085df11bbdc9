"""The Python inputs of each image: requirements/<image>.in from the catalog, plus additions.

An image's environment is its own projects plus those of its ancestors (a child image is built
FROM its parent, whose wheels are already installed), plus the lines of the hand-maintained
requirements/additions.in that apply to it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name

from tcibsrc.common.config import Config, PackagePolicy
from tcibsrc.common.errors import ToolkitError
from tcibsrc.python.upper_constraints import target_environment
from tcibsrc.tcib.catalog import Catalog

ADDITIONS_FILE = "additions.in"
_IMAGES_COMMENT = re.compile(r"#\s*images:\s*(?P<images>.*)$")


class InputsError(ToolkitError):
    """requirements/additions.in or a policy is malformed."""


@dataclass(frozen=True)
class Addition:
    requirement: Requirement
    images: tuple[str, ...]  # empty: every Python image
    where: str = ""  # file:line, for messages


@dataclass(frozen=True)
class ImageInputs:
    """One image's Python roots: own lines, and the Python parent it extends."""

    image: str
    own: tuple[str, ...]
    parent: str | None
    roots: frozenset[NormalizedName]
    # of `own`, the lines derived from what RDO's RPMs required (rpm_parity.yaml), not
    # from the catalog or additions.in
    derived: tuple[str, ...] = ()

    def requested(self, derived: bool = True) -> dict[str, set[str]]:
        """name -> extras its own lines ask for (with or without the derived lines)."""
        found: dict[str, set[str]] = {}
        for line in self.own if derived else [x for x in self.own if x not in self.derived]:
            requirement = Requirement(line)
            found.setdefault(str(canonicalize_name(requirement.name)), set()).update(
                requirement.extras
            )
        return found


def _requirement(text: str, where: str) -> Requirement:
    """A PEP 508 line that a resolver accepts; `===` (arbitrary equality) is refused.

    `foo====` parses as `foo === "="`: valid PEP 508, but no resolver can use it, and the
    resolver's error would name a scratch file instead of the user's line.
    """
    fix = "write one PEP 508 requirement a line, such as 'foo>=1.2' or 'foo==1.2.3'"
    try:
        requirement = Requirement(text)
    except InvalidRequirement as exc:
        raise InputsError(where, f"invalid requirement {text!r}", fix) from exc
    if requirement.url:
        raise InputsError(
            where, f"invalid requirement {text!r}: direct URLs are not locked by hash here", fix
        )
    if any(spec.operator == "===" for spec in requirement.specifier):
        raise InputsError(where, f"invalid requirement {text!r}: '===' is not supported", fix)
    return requirement


def read_additions(path: Path, known_images: set[str], display: str) -> list[Addition]:
    """Requirement lines, each optionally limited with a trailing `# images: a, b`."""
    if not path.exists():
        return []
    additions = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        text, _hash, comment = raw.partition("#")
        text = text.strip()
        if not text:
            continue
        requirement = _requirement(text, f"{display}:{number}")
        match = _IMAGES_COMMENT.search("#" + comment) if comment else None
        images = (
            tuple(i.strip() for i in match.group("images").split(",") if i.strip()) if match else ()
        )
        for image in images:
            if image not in known_images:
                raise InputsError(
                    f"{display}:{number}",
                    f"unknown image '{image}'",
                    "name images in scope (make images)",
                )
        additions.append(Addition(requirement, images, f"{display}:{number}"))
    return additions


def _with_policy(project: str, config: Config) -> str:
    policy = config.policy_for(project)
    if policy and policy.version:
        try:
            SpecifierSet(policy.version)
        except ValueError as exc:
            raise InputsError(
                f"{config.path}: packages.{project}.version",
                f"not a PEP 440 specifier: {policy.version!r}",
                "write e.g. '>=27,<28' or '==27.0.2'",
            ) from exc
        return f"{project}{policy.version}"
    return project


def _for_target(addition: Addition, config: Config) -> str | None:
    """The line as the images need it: its marker evaluated for the target Python on every
    arch; None when the marker excludes them (`tomli; python_version < "3.11"` on 3.12)."""
    requirement = addition.requirement
    if requirement.marker is None:
        return str(requirement)
    holds = {
        arch: requirement.marker.evaluate(target_environment(config.python_version, arch))
        for arch in config.arches
    }
    if not any(holds.values()):
        return None
    if not all(holds.values()):
        chosen = ", ".join(arch for arch, ok in holds.items() if ok)
        raise InputsError(
            addition.where,
            f"the marker of {str(requirement)!r} holds on {chosen} only",
            "every arch builds the same image: drop the marker or make it hold on all arches",
        )
    without = Requirement(str(requirement))
    without.marker = None
    return str(without)


def policy_requirements(
    catalog: Catalog,
    policy_for: Callable[[str], PackagePolicy | None],
    locked: Mapping[str, Sequence[str]],
) -> dict[str, list[str]]:
    """image -> what its locked packages import at run time without declaring it (the
    package policies' extra_requires), where no parent already asks for it."""
    result: dict[str, list[str]] = {}
    given: dict[str, set[str]] = {}
    for image in catalog.ordered():
        have = set(given.get(image.parent, set())) if image.parent else set()
        wanted = [
            line
            for project in locked.get(image.name, ())
            if (policy := policy_for(project)) is not None
            for line in policy.extra_requires
            if line not in have
        ]
        wanted = sorted(dict.fromkeys(wanted), key=str.lower)
        if wanted:
            result[image.name] = wanted
        given[image.name] = have | set(wanted)
    return result


def image_inputs(
    catalog: Catalog,
    config: Config,
    additions: list[Addition],
    derived: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, ImageInputs]:
    """For every image in scope whose own environment adds Python packages; `derived`:
    image -> lines what RDO's RPMs required adds (see rpm.parity.derived_requirements)."""
    own: dict[str, list[str]] = {}
    wanted = [(addition, _for_target(addition, config)) for addition in additions]
    derived = derived or {}
    for image in catalog.ordered():
        lines = [_with_policy(project, config) for project in image.python_projects]
        for addition, line in wanted:
            if line is None:
                continue  # its marker excludes the images' Python and platform
            if image.name in addition.images or (not addition.images and image.python_projects):
                lines.append(line)
        lines += derived.get(image.name, ())
        own[image.name] = sorted(dict.fromkeys(lines), key=lambda line: line.lower())
    result: dict[str, ImageInputs] = {}
    for image in catalog.ordered():
        if not own[image.name]:
            continue
        parent = next((p for p in catalog.chain(image.name)[1:] if p in result), None)
        roots = {canonicalize_name(Requirement(line).name) for line in own[image.name]}
        if parent is not None:
            roots |= result[parent].roots
        result[image.name] = ImageInputs(
            image.name,
            tuple(own[image.name]),
            parent,
            frozenset(roots),
            tuple(line for line in derived.get(image.name, ()) if line in own[image.name]),
        )
    return result


def union_requirements(inputs: dict[str, ImageInputs]) -> list[str]:
    """One line per project for the single resolution; specifiers of the same name combined."""
    merged: dict[NormalizedName, tuple[str, set[str], SpecifierSet]] = {}
    for item in inputs.values():
        for line in item.own:
            requirement = Requirement(line)
            key = canonicalize_name(requirement.name)
            name, extras, spec = merged.get(key, (requirement.name, set(), SpecifierSet()))
            merged[key] = (name, extras | requirement.extras, spec & requirement.specifier)
    return [
        f"{name}{'[' + ','.join(sorted(extras)) + ']' if extras else ''}{spec}"
        for _key, (name, extras, spec) in sorted(merged.items())
    ]

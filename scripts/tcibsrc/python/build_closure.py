"""The complete PEP 517/518 build-dependency closure of a set of pinned sdists.

Hermeto needs every build requirement of every sdist, and of those requirements' own sdists,
transitively, pinned with hashes. This module finds them through the Simple API only:

1. download each sdist (cache by sha256, hashes verified) and read its `[build-system]`;
2. resolve all build requirements together for the target Python (one version per package,
   preferring the runtime pins so nothing is fetched twice);
3. where the static list may be incomplete (setuptools with setup.py / setup_requires,
   hatchling plugins, unknown backends), ask the PEP 517 `get_requires_for_build_wheel` hook
   in an environment made of the pinned static requirements;
4. repeat with every newly pinned package until nothing new appears.

Conflicting ranges (one consumer needs `setuptools<70`, another `>=75`) are reconciled: when no
single version satisfies every consumer, the version that satisfies most consumers goes into
the main build lock and each other group gets its own version in an *extra* build lock. Both
files go to hermeto (`requirements_build_files`), which fetches all of them; pip's isolated
build of each package then picks, from the same directory, the version its own range allows.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from tcibsrc.common.config import PackagePolicy
from tcibsrc.common.errors import ToolkitError
from tcibsrc.common.progress import Progress
from tcibsrc.python.build_hooks import HookError, dynamic_requires
from tcibsrc.python.build_system import BuildSystem, cached_build_system
from tcibsrc.python.index import SimpleIndex
from tcibsrc.python.lockfile import Pin
from tcibsrc.python.resolvers.base import Backend, Resolution, ResolveRequest
from tcibsrc.python.sdists import Sdist, fetch_all
from tcibsrc.python.upper_constraints import target_environment

HOOK_WORKERS = 4
MAX_ROUNDS = 20


class BuildClosureError(ToolkitError):
    """The build closure cannot be completed."""


@dataclass
class PackageBuild:
    """What one sdist needs to build."""

    name: NormalizedName
    version: str
    sdist: Sdist
    system: BuildSystem
    dynamic: list[str] = field(default_factory=list)
    hooked: bool = False
    hook_problem: str | None = None

    @property
    def requirements(self) -> list[str]:
        return list(
            dict.fromkeys([*self.system.requires, *self.system.static_extra, *self.dynamic])
        )


@dataclass
class BuildClosure:
    """Pins of the build closure: the main lock and alternative versions for conflicts."""

    main: dict[NormalizedName, Pin]
    extra: dict[NormalizedName, Pin]
    packages: dict[tuple[str, str], PackageBuild]
    # consumer (name, version) -> [(requirement name, chosen version)]
    needs: dict[tuple[str, str], list[tuple[NormalizedName, str]]]
    main_edges: dict[NormalizedName, set[NormalizedName]]
    extra_edges: dict[NormalizedName, set[NormalizedName]]


def _requirement(text: str, consumer: str) -> Requirement:
    try:
        return Requirement(text)
    except InvalidRequirement as exc:
        raise BuildClosureError(
            consumer,
            f"invalid build requirement {text!r}",
            "report it upstream; override with a package policy",
        ) from exc


@dataclass
class _Group:
    specifier: SpecifierSet
    consumers: list[str]
    version: str = ""


def reconcile(
    wanted: dict[NormalizedName, list[tuple[SpecifierSet, str]]],
    available: Callable[[str], list[Version]],
    preferred: dict[NormalizedName, str],
) -> dict[NormalizedName, list[_Group]]:
    """Group each package's consumers so that every group has a version satisfying all of it.

    Greedy: the newest version (or the preferred one) that satisfies the most consumers forms
    the first group; the rest are grouped again. The first group is the main lock's.
    """
    groups: dict[NormalizedName, list[_Group]] = {}
    for name, demands in sorted(wanted.items()):
        combined = SpecifierSet()
        for specifier, _consumer in demands:
            combined &= specifier
        versions = available(name)
        if any(combined.contains(v, prereleases=False) for v in versions) or not versions:
            groups[name] = [_Group(combined, sorted({c for _s, c in demands}))]
            continue
        remaining = list(demands)
        found: list[_Group] = []
        while remaining:

            def score(
                version: Version, pending: list = remaining, key: str = name
            ) -> tuple[int, bool, Version]:
                count = sum(1 for spec, _c in pending if spec.contains(version, prereleases=True))
                return count, str(version) == preferred.get(key), version

            best = max(versions, key=score)
            covered = [(s, c) for s, c in remaining if s.contains(best, prereleases=True)]
            if not covered:
                consumers = ", ".join(sorted({c for _s, c in remaining}))
                specs = " and ".join(sorted({str(s) for s, _c in remaining}))
                raise BuildClosureError(
                    str(name),
                    f"no version with an sdist satisfies {specs} (needed by {consumers})",
                    f"set packages.{name} in config.yaml",
                )
            spec = SpecifierSet()
            for item, _consumer in covered:
                spec &= item
            found.append(_Group(spec, sorted({c for _s, c in covered}), str(best)))
            remaining = [item for item in remaining if item not in covered]
        groups[name] = found
    return groups


PolicyLookup = Callable[[str], PackagePolicy | None]


def no_policies(_name: str) -> PackagePolicy | None:
    return None


def package_build(name: str, version: str, sdist: Sdist, policy_for: PolicyLookup) -> PackageBuild:
    """What the sdist declares, with the requirements a policy adds
    (packages.<name>.extra_build_requires)."""
    system = cached_build_system(sdist.path, sdist.sha256)
    policy = policy_for(name)
    extra = policy.extra_build_requires if policy else ()
    if extra:
        system = dataclasses.replace(system, requires=(*system.requires, *extra))
    return PackageBuild(canonicalize_name(name), version, sdist, system)


def hook_pins(package: PackageBuild, versions: dict[NormalizedName, str]) -> list[str]:
    """The environment a package's hook runs in: its static build requirements, at the
    versions of the main build lock where it has them."""
    pins = []
    for text in package.system.requires:
        key = canonicalize_name(_requirement(text, package.name).name)
        pins.append(f"{key}=={versions[key]}" if key in versions else text)
    return pins


@dataclass(frozen=True)
class HookSettings:
    """Where a hook's environment is installed from: the real index (the resolvers may be
    given the run's local one), as of the cutoff (RFC 3339 text, or None)."""

    index_url: str
    exclude_newer: str | None = None


class ClosureFinder:
    """Runs the fixpoint; one instance per pinning run."""

    def __init__(
        self,
        index: SimpleIndex,
        resolve: Backend,
        request: ResolveRequest,
        policy_for: PolicyLookup = no_policies,
        preferred: dict[NormalizedName, str] | None = None,
        hooks: HookSettings | None = None,
        hashes_for: Callable[[str, str, str], list[str]] | None = None,
    ) -> None:
        self.index = index
        # what a build lock lists for name, version, sdist sha256 (the wheels of a build tool
        # a policy installs from wheels)
        self.hashes_for = hashes_for or (lambda _name, _version, sha256: [sha256])
        self.resolve = resolve
        self.request = request
        self.hooks = hooks or HookSettings(request.index_url)
        # packages.<name>: extra_build_requires, build_requires_with (what joins every build
        # environment holding it), version (holds in every build environment too)
        self.policy_for = policy_for
        self.packages: dict[tuple[str, str], PackageBuild] = {}
        # upper-constraints versions are preferred for build tools too: the release's own
        # choice, and older sdists whose build requirements the index still has.
        self.preferred = dict(preferred or {})
        self.environment = target_environment(request.python_version, request.arch)

    def _companions(self, name: str) -> tuple[str, ...]:
        policy = self.policy_for(name)
        return policy.build_requires_with if policy else ()

    def build_variables(self, name: str) -> dict[str, str]:
        """The environment of its build (packages.<name>.build_environment)."""
        policy = self.policy_for(name)
        return dict(policy.build_environment) if policy else {}

    def built_from_sdist(self, name: str) -> bool:
        """False for a package a policy installs from wheels or an RPM: nothing builds it."""
        policy = self.policy_for(name)
        return policy is None or policy.install == "sdist"

    def requirements_of(self, package: PackageBuild) -> list[str]:
        """The package's build requirements plus the companions policies attach to them; none
        for a package that is not built here (install: wheel or rpm)."""
        if not self.built_from_sdist(package.name):
            return []
        found = package.requirements
        extra = [
            companion
            for text in found
            for companion in self._companions(_requirement(text, package.name).name)
        ]
        return list(dict.fromkeys([*found, *extra]))

    def _analyze(self, wanted: dict[tuple[str, str], str | None]) -> None:
        todo = {key: sha for key, sha in wanted.items() if key not in self.packages}
        if not todo:
            return
        fetched = fetch_all(
            self.index,
            [(n, v, sha) for (n, v), sha in todo.items()],
            label="build closure: sdists",
            then=lambda sdist: package_build(sdist.name, sdist.version, sdist, self.policy_for),
        )
        for key, package in fetched.items():
            self.packages[key] = package

    def _demands(self) -> dict[NormalizedName, list[tuple[SpecifierSet, str]]]:
        demands: dict[NormalizedName, list[tuple[SpecifierSet, str]]] = defaultdict(list)
        for (name, _version), package in sorted(self.packages.items()):
            for text in self.requirements_of(package):
                requirement = _requirement(text, f"{name}")
                if requirement.marker and not requirement.marker.evaluate(self.environment):
                    continue
                demands[canonicalize_name(requirement.name)].append(
                    (requirement.specifier, str(name))
                )
        for name in demands:
            policy = self.policy_for(name)
            if policy and policy.version:
                specifier = SpecifierSet(policy.version)
                demands[name] = [(spec & specifier, consumer) for spec, consumer in demands[name]]
        # one entry per consumer: all of its ranges for a package must hold together
        merged: dict[NormalizedName, list[tuple[SpecifierSet, str]]] = {}
        for name, entries in demands.items():
            by_consumer: dict[str, SpecifierSet] = {}
            for spec, consumer in entries:
                by_consumer[consumer] = by_consumer.get(consumer, SpecifierSet()) & spec
            merged[name] = [(spec, consumer) for consumer, spec in sorted(by_consumer.items())]
        return merged

    def _versions(self, name: str) -> list[Version]:
        try:
            return self.index.sdist_versions(name)
        except ToolkitError as error:
            consumers = sorted(
                {
                    f"{n}=={v}"
                    for (n, v), package in self.packages.items()
                    if any(
                        canonicalize_name(_requirement(t, n).name) == name
                        for t in self.requirements_of(package)
                    )
                }
            )
            raise BuildClosureError(
                name,
                f"{error.problem}; it is a build requirement of {', '.join(consumers)}",
                "pin an older version of the consumer with packages.<name>.version, or add "
                "the missing project to the index",
            ) from error

    def _resolve(self, lines: list[str], preferences: dict[str, str]) -> Resolution:
        request = dataclasses.replace(
            self.request,
            requirements=lines,
            constraint_files=[],
            preferences=preferences,
            input_name="<build requirements of the locked sdists>",
        )
        return self.resolve(request)

    def _ready_for_hook(self, package: PackageBuild, main: Resolution) -> bool:
        """A hook runs once the main build lock pins every static requirement of the package
        (for the target): its environment is then the one the build will have, not whatever
        the index's newest versions are in the round that found the package."""
        for text in package.system.requires:
            requirement = _requirement(text, package.name)
            if requirement.marker and not requirement.marker.evaluate(self.environment):
                continue
            if canonicalize_name(requirement.name) not in main.pins:
                return False
        return True

    def _run_hooks(self, main: Resolution) -> bool:
        """Ask the hooks that are ready; True when one added a requirement or one waits for
        the next round (its static requirements are not all pinned yet)."""
        waiting = [
            p
            for p in self.packages.values()
            if p.system.needs_hook and not p.hooked and self.built_from_sdist(p.name)
        ]
        pending = [package for package in waiting if self._ready_for_hook(package, main)]
        changed = len(pending) < len(waiting)
        if not pending:
            return changed

        versions = {name: pin.version for name, pin in main.pins.items()}

        def one(package: PackageBuild) -> None:
            nonlocal changed
            pins = hook_pins(package, versions)
            label = f"{package.name}=={package.version}"
            try:
                found = dynamic_requires(
                    package.sdist.path,
                    package.sdist.sha256,
                    package.system.backend,
                    list(package.system.backend_path),
                    pins,
                    list(package.system.requires),
                    self.hooks.index_url,
                    label,
                    self.request.python_version,
                    self.hooks.exclude_newer,
                    variables=self.build_variables(package.name),
                )
            except HookError as error:
                # Typically setup.py needing system tools (krb5-config, apxs) on this host:
                # keep the static requirements and say so in the report and build-info.json.
                package.hook_problem = error.problem
                found = []
            new = [item for item in found if item not in package.requirements]
            package.dynamic.extend(new)
            package.hooked = True
            if new:
                changed = True
            progress.advance(label, ok=package.hook_problem is None)

        with (
            Progress("build closure: PEP 517 hooks", len(pending)) as progress,
            ThreadPoolExecutor(HOOK_WORKERS) as pool,
        ):
            list(pool.map(one, pending))
        return changed

    def _resolve_extras(
        self, extras: dict[NormalizedName, list[_Group]], main: Resolution
    ) -> Resolution:
        """Each alternative version with what it needs that the main lock pins differently."""
        preferences = {name: pin.version for name, pin in main.pins.items()}
        merged = Resolution(pins={})
        for name, alternatives in sorted(extras.items()):
            for group in alternatives:
                result = self._resolve([f"{name}=={group.version}"], preferences)
                for dep, pin in result.pins.items():
                    if dep in main.pins and main.pins[dep].version == pin.version:
                        continue
                    present = merged.pins.get(dep)
                    if present and present.version != pin.version:
                        raise BuildClosureError(
                            str(dep),
                            f"needs three versions ({main.pins[dep].version}, "
                            f"{present.version}, {pin.version}) across build environments",
                            f"set packages.{dep}.version in config.yaml to settle on one",
                        )
                    merged.pins[dep] = pin
        return merged

    def run(self, runtime: dict[NormalizedName, Pin]) -> BuildClosure:
        preferences = {**self.preferred, **{name: pin.version for name, pin in runtime.items()}}
        self._analyze(
            {
                (name, pin.version): (
                    pin.hashes[0] if pin.hashes and self.built_from_sdist(name) else None
                )
                for name, pin in runtime.items()
            }
        )
        main = Resolution(pins={})
        extra = Resolution(pins={})
        groups: dict[NormalizedName, list[_Group]] = {}
        for _round in range(MAX_ROUNDS):
            groups = reconcile(self._demands(), self._versions, preferences)
            lines = [f"{name}{group[0].specifier}" for name, group in groups.items()]
            main = self._resolve(lines, preferences) if lines else Resolution(pins={})
            extra = self._resolve_extras(
                {name: group[1:] for name, group in groups.items() if len(group) > 1}, main
            )
            before = len(self.packages)
            self._analyze(
                {(n, p.version): None for n, p in [*main.pins.items(), *extra.pins.items()]}
            )
            hooks_changed = self._run_hooks(main)
            if len(self.packages) == before and not hooks_changed:
                break
        else:
            raise BuildClosureError(
                "build closure",
                f"did not settle in {MAX_ROUNDS} rounds",
                "report this with the requirements that caused it",
            )
        return self._closure(main, extra, groups)

    def _closure(
        self, main: Resolution, extra: Resolution, groups: dict[NormalizedName, list[_Group]]
    ) -> BuildClosure:
        main_pins = {
            name: Pin(name, pin.version, via=set(pin.via)) for name, pin in main.pins.items()
        }
        extra_pins = {
            name: Pin(name, pin.version, via=set(pin.via)) for name, pin in extra.pins.items()
        }
        chosen_for: dict[tuple[NormalizedName, str], str] = {}
        for name, alternatives in groups.items():
            for group in alternatives[1:]:
                for consumer in group.consumers:
                    chosen_for[(name, consumer)] = group.version
        needs: dict[tuple[str, str], list[tuple[NormalizedName, str]]] = {}
        for key, package in sorted(self.packages.items()):
            items: list[tuple[NormalizedName, str]] = []
            for text in self.requirements_of(package):
                requirement = _requirement(text, package.name)
                if requirement.marker and not requirement.marker.evaluate(self.environment):
                    continue
                dep = canonicalize_name(requirement.name)
                alternative = chosen_for.get((dep, str(package.name)))
                target = extra_pins[dep] if alternative else main_pins[dep]
                items.append((dep, target.version))
                target.via.add(str(package.name))
            needs[key] = items
        for pin in [*main_pins.values(), *extra_pins.values()]:
            pin.hashes = self.hashes_for(
                pin.name, pin.version, self.packages[(pin.name, pin.version)].sdist.sha256
            )
        return BuildClosure(
            main=main_pins,
            extra=extra_pins,
            packages=self.packages,
            needs=needs,
            main_edges=main.dependencies(),
            extra_edges=extra.dependencies(),
        )

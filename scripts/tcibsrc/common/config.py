"""The deployment config: one YAML file, validated by its model (ConfigFile), read into the
Config the rest of the toolkit uses.

ConfigFile is the one definition of the file's shape: it validates, and it writes the JSON
schema editors use (schemas/config.schema.json, `make config-schema`). Unknown keys and wrong
types are errors that name the file and the key path, so a typo never silently falls back to a
default.
"""

from __future__ import annotations

import fnmatch
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from pydantic import (
    AfterValidator,
    ConfigDict,
    Field,
    StrictBool,
    ValidationError,
    model_validator,
)

from tcibsrc.common.atomic import write_text_atomic
from tcibsrc.common.datafiles import load_data, shown
from tcibsrc.common.errors import ConfigError
from tcibsrc.common.models import StrictModel, describe
from tcibsrc.common.rdo_repository import rdo_repository
from tcibsrc.common.yamlio import load_yaml

DEFAULT_CONFIG_FILE = "config.yaml"


@dataclass(frozen=True)
class PackagePolicy:
    """How one PyPI project is obtained and built when the defaults do not fit."""

    name: str
    version: str | None = None
    extra_build_requires: tuple[str, ...] = ()
    build_requires_with: tuple[str, ...] = ()
    # what it imports at run time without declaring: joins every image whose lock holds it
    extra_requires: tuple[str, ...] = ()
    # how it enters the image: sdist (built from source), wheel (the project's own wheels,
    # prefetched by hermeto's binary filter), rpm (the distro's RPM, `rpm` names it)
    install: str = "sdist"
    rpm: str | None = None
    # environment of its sdist build (dulwich's PURE), and whether that build needs no Rust
    build_environment: tuple[tuple[str, str], ...] = ()
    without_rust: bool = False
    # where its source comes from: pypi (its sdist), or git at a pinned commit
    source: str = "pypi"
    git_url: str | None = None
    git_ref: str | None = None
    reason: str | None = None

    @property
    def rpm_name(self) -> str:
        """The RPM an `install: rpm` package comes from (python3-<name> unless named)."""
        return self.rpm or f"python3-{self.name.lower()}"


@dataclass(frozen=True)
class ImageBuild:
    """How one image is built unlike the others (images.builds), with the reason."""

    hermetic: bool
    platforms: tuple[str, ...] | None
    reason: str


@dataclass(frozen=True)
class RpmRepository:
    """One dnf repository of rpms.repo; always gpg-checked."""

    id: str  # the section id of rpms.repo, after rpm.repository_id; may hold $basearch
    name: str
    baseurl: str
    gpgkey: str
    enabled: bool = True
    # the RPM that installs gpgkey's file, where the base image lacks it (epel-release)
    key_package: str | None = None
    # what only RDO builds that this repository provides in its absence (gdisk from EPEL)
    instead_of_rdo: tuple[str, ...] = ()

    def id_for(self, arch: str) -> str:
        """The repoid dnf (and so the lock, hermeto and the SBOM) uses on `arch`."""
        return self.id.replace("$basearch", arch)


@dataclass(frozen=True)
class TenantPolicy:
    """The tenant's Conforma rule data this deployment must satisfy (konflux.policy)."""

    rpm_signing_keys: dict[str, str | None]  # key file name -> long key id (None: not recorded)
    base_image_registries: tuple[str, ...]  # allowed_registry_prefixes


@dataclass(frozen=True)
class Config:
    """Everything specific to this deployment; the rest of the toolkit derives from it."""

    path: Path
    series: str
    release_version: str
    distro: str
    distro_major: str
    base_image: str
    python_version: str
    arches: tuple[str, ...]
    registry_host: str
    registry_namespace: str
    image_name_template: str
    konflux_application: str
    konflux_tenant_namespace: str
    konflux_build_platforms: tuple[str, ...]
    konflux_branch: str
    scope: tuple[str, ...]
    scope_from_containers_yaml: bool
    exclude: tuple[str, ...]
    tcib_extras: dict[str, str]
    upper_constraints_url: str
    upper_constraints_sha256: str
    packages: dict[str, PackagePolicy] = field(default_factory=dict)
    # data/package_policies.yaml's globs (`xstatic-*`), tried after the exact names
    package_patterns: dict[str, PackagePolicy] = field(default_factory=dict)
    rpm_repositories: tuple[RpmRepository, ...] = ()
    # RDO's Cloud SIG OpenStack repository is used: else what only it builds is replaced
    rdo_repository: bool = False
    tenant_policy: TenantPolicy | None = None
    git_url: str | None = None  # konflux.git_url: the repository Konflux builds from
    # make prefetch: hermeto's image (run with podman when hermeto is not on PATH) and whether
    # its cargo vendoring of Rust sdists runs (off where crates.io is out of reach)
    # None: the one the pinned prefetch task runs (data/konflux_pipeline.yaml's hermeto)
    hermeto_image: str | None = None
    trunk: TrunkSection | None = None  # release.series: master
    prefetch_rust_crates: bool = True
    # the pins' view of the index: files uploaded before `exclude_newer` (None: no cutoff), and
    # the cooldown UPDATE=1 keeps between now and the new cutoff
    exclude_newer: datetime | None = None
    minimum_release_age: timedelta = timedelta(days=7)
    # images.builds: the images built unlike the others, and why
    image_builds: dict[str, ImageBuild] = field(default_factory=dict)
    # images.subsets, and the one this run is narrowed to (SCOPE=<name>), if any
    subsets: dict[str, tuple[str, ...]] = field(default_factory=dict)
    subset: str | None = None

    def image_repository(self, image: str) -> str:
        """The full repository (no tag or digest) where `image` is pushed."""
        name = self.image_name_template.format(
            image=image,
            distro=self.distro,
            major=self.distro_major,
            series=self.series,
            version=self.release_version,
        )
        return f"{self.registry_host}/{self.registry_namespace}/{name}"

    def policy_for(self, name: str) -> PackagePolicy | None:
        """The package policy of project `name`: by name, else the first glob it matches."""
        key = canonicalize_name(name)
        for policy_name, policy in self.packages.items():
            if canonicalize_name(policy_name) == key:
                return policy
        for pattern, policy in self.package_patterns.items():
            if fnmatch.fnmatchcase(key, pattern):
                return policy
        return None

    def hermetic(self, image: str) -> bool:
        build = self.image_builds.get(image)
        return build.hermetic if build else True

    def build_platforms(self, image: str) -> tuple[str, ...]:
        build = self.image_builds.get(image)
        return build.platforms if build and build.platforms else self.konflux_build_platforms

    def component_name(self, image: str) -> str:
        """The Konflux Component (and local tag) of `image`: its repository's last part."""
        return self.image_repository(image).rsplit("/", 1)[-1]

    def tcib_variables(self) -> dict[str, str]:
        """The variables TCIB's CLI adds to every image (its --distro, --release, extras)."""
        variables = {
            "tcib_distro": self.distro,
            "tcib_release": self.distro_major,
            "tcib_python_version": self.python_version,
            # The python-tcib-containers RPM is not used: the helper files come from the
            # tcib submodule, exactly as ci-framework's install-from-source mode blanks it.
            "tcib_package": "",
        }
        variables.update(self.tcib_extras)
        return variables


# --- the file's shape: one model, which also emits schemas/config.schema.json for editors ---

Hex40 = r"[0-9a-f]{40}"
Series = Annotated[str, Field(pattern=r"^[a-z]+$", description="OpenStack series name, e.g. epoxy")]
Arch = Literal["x86_64", "aarch64"]


def _unique(items: tuple[str, ...]) -> tuple[str, ...]:
    duplicates = sorted({item for item in items if items.count(item) > 1})
    if duplicates:
        raise ValueError(f"{duplicates[0]!r} is listed twice")
    return items


UniqueNames = Annotated[tuple[Annotated[str, Field(min_length=1)], ...], AfterValidator(_unique)]
SubsetName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]*$")]
RpmName = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")]


class ReleaseSection(StrictModel):
    series: Series
    version: str = Field(
        pattern=r"^20[0-9]{2}\.[12]$", description="OpenStack release number, e.g. 2025.1"
    )


TRUNK_SERIES = "master"  # release.series of the trunk mode: services from their branches


class TrunkSection(StrictModel):
    """The trunk mode (release.series: master), like RDO Trunk: the OpenStack services come
    from their development branches at commits the pin records; the libraries from
    upper-constraints of master."""

    git_url: str = Field(
        default="https://opendev.org/{repo}",
        pattern=r"^(https|file)://\S*\{repo\}\S*$",
        description="each service's repository; {repo} is openstack/releases' repository "
        "name (openstack/nova)",
    )
    ref: str = Field(
        default="master",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]*$",
        description="the branch the services follow",
    )
    services_from: Series = Field(
        description="the newest series whose data names the services (their type and "
        "repository in openstack/releases)"
    )


class DistroSection(StrictModel):
    name: Literal["centos", "rhel"] = Field(description="tcib_distro")
    major: str = Field(pattern=r"^[0-9]+$", description="tcib_release: the distro's major version")
    base_image: str = Field(min_length=1, description="FROM of TCIB's top image (TCIB's --base)")


UTC_TIME = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$"
AGE = re.compile(r"^(?P<count>[0-9]+) (?P<unit>day|days|hour|hours)$")
DEFAULT_RELEASE_AGE = "7 days"


def _age(text: str) -> str:
    if not AGE.match(text):
        raise ValueError(f"{text!r} is not an age (write e.g. '7 days' or '12 hours')")
    return text


class PythonSection(StrictModel):
    version: str = Field(
        pattern=r"^3\.[0-9]+$",
        description="the target interpreter of the images (tcib_python_version)",
    )
    exclude_newer: str | None = Field(
        default=None,
        pattern=UTC_TIME,
        description="the pins see only files uploaded before this time (RFC 3339, UTC): "
        "re-pinning gives the same locks on any day; `make pin-python-deps UPDATE=1` moves it",
    )
    minimum_release_age: Annotated[str, AfterValidator(_age)] = Field(
        default=DEFAULT_RELEASE_AGE,
        description="how old a release must be before UPDATE=1 lets the pins see it (a "
        "cooldown: a bad upload is usually found and yanked within days)",
    )


class RegistrySection(StrictModel):
    host: str = Field(pattern=r"^[a-z0-9.-]+(:[0-9]+)?$")
    namespace: str = Field(pattern=r"^[a-z0-9._-]+(/[a-z0-9._-]+)*$")
    image_name: str = Field(
        pattern=r"\{image\}",
        description="repository name of an image; placeholders {image}, {distro}, {major}, "
        "{series}, {version}",
    )


KeyId = Annotated[str, Field(pattern=r"^[0-9a-fA-F]{16}$")]


class TenantPolicySection(StrictModel):
    """The tenant's release policy rule data this deployment must satisfy."""

    rpm_signing_keys: dict[str, KeyId | None] = Field(
        default_factory=dict,
        description="key file name (as in a repository's gpgkey) -> its long key id (16 hex, "
        "allowed_rpm_signature_keys), or null while not recorded",
    )
    base_image_registries: tuple[Annotated[str, Field(min_length=1)], ...] = Field(
        default=(), description="allowed_registry_prefixes: where base images may come from"
    )


Platform = Annotated[str, Field(pattern=r"^linux(-[a-z0-9]+)?/[a-z0-9_]+$")]


class KonfluxSection(StrictModel):
    application: str = Field(pattern=r"^[a-z0-9-]+$")
    tenant_namespace: str = Field(pattern=r"^[a-z0-9-]+$")
    branch: str = Field(
        default="main", min_length=1, description="the branch PipelineRuns build (default main)"
    )
    build_platforms: Annotated[tuple[Platform, ...], Field(min_length=1), AfterValidator(_unique)]
    git_url: str | None = Field(
        default=None,
        pattern=r"^https://",
        description="the repository Konflux builds from (the Components' source)",
    )
    policy: TenantPolicySection | None = None


class ImageBuildSection(StrictModel):
    hermetic: StrictBool = Field(
        default=True,
        description="false: its PipelineRun builds with the network on (the release policy's "
        "hermetic rule fails for it); only where a RUN step fetches what cannot be prefetched",
    )
    platforms: tuple[Platform, ...] | None = Field(
        default=None,
        min_length=1,
        description="build for these of konflux.build_platforms only (an image that downloads "
        "one arch's binaries)",
    )
    reason: str = Field(min_length=1)


class ImagesSection(StrictModel):
    scope: UniqueNames = Field(
        description="image names or TCIB image references; parents are added automatically"
    )
    from_containers_yaml: StrictBool = Field(
        default=False, description="also take every image listed in TCIB's containers.yaml"
    )
    exclude: UniqueNames = ()
    builds: dict[Annotated[str, Field(min_length=1)], ImageBuildSection] = Field(
        default_factory=dict,
        description="images built unlike the others (not hermetic, fewer platforms), each "
        "with its reason",
    )
    subsets: dict[SubsetName, UniqueNames] = Field(
        default_factory=dict,
        description="named subsets of the images (SCOPE=<name> narrows a command to one); "
        "`minimal` is the minimal control plane the deploy manifests start",
    )


class UpperConstraintsSection(StrictModel):
    url: str = Field(
        pattern=rf"^https://.*/{Hex40}/",
        description="a URL that names the commit (40 hex digits) of the file",
    )
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class RepositorySection(StrictModel):
    id: str = Field(pattern=r"^[A-Za-z0-9_.{}-]+$")
    name: str = Field(min_length=1)
    baseurl: str = Field(pattern=r"^(https?|file)://")
    gpgkey: str = Field(pattern=r"^(file://|https://[A-Za-z0-9.-]+)/[A-Za-z0-9._/+-]+$")
    enabled: StrictBool | Literal["auto"] = Field(
        default=True,
        description="auto: RDO's repository (rdo: true) is used for the series RDO publishes it "
        "for; a repository with instead_of_rdo exactly when RDO's is not",
    )
    rdo: StrictBool = Field(
        default=False,
        description="RDO's Cloud SIG OpenStack repository: without it, the RPMs only it builds "
        "are replaced (data/rdo_repository.yaml)",
    )
    instead_of_rdo: tuple[RpmName, ...] = Field(
        default=(),
        description="RPMs only RDO's repository builds that this one provides when RDO's is "
        "not used (gdisk and inotify-tools from EPEL)",
    )
    key_package: RpmName | None = Field(
        default=None,
        description="the RPM that installs gpgkey's file when the base image lacks it "
        "(epel-release, from CentOS Extras): installed before the first package from here",
    )

    @model_validator(mode="after")
    def _auto_is_rdos(self) -> RepositorySection:
        if self.enabled == "auto" and not (self.rdo or self.instead_of_rdo):
            raise ValueError(
                "enabled: auto follows what RDO publishes: it needs rdo: true, or "
                "instead_of_rdo naming what this repository provides without RDO's"
            )
        if self.rdo and self.instead_of_rdo:
            raise ValueError("rdo: true and instead_of_rdo exclude each other")
        if self.key_package and not self.gpgkey.startswith("file://"):
            raise ValueError("key_package installs a key file: gpgkey must be file://<its path>")
        if self.key_package and not self.instead_of_rdo:
            raise ValueError(
                "key_package is installed before what instead_of_rdo names: list those RPMs"
            )
        known = {  # what only RDO builds and nothing else replaces (no PyPI, no release)
            rpm
            for rpm, entry in rdo_repository().rpms.items()
            if entry.pypi is None and entry.artifact is None
        }
        unknown = [rpm for rpm in self.instead_of_rdo if rpm not in known]
        if unknown:
            raise ValueError(
                f"instead_of_rdo: {', '.join(unknown)} is not an RPM only RDO builds that "
                f"another repository must give (those are: {', '.join(sorted(known))})"
            )
        return self


class RpmSection(StrictModel):
    repository_id: str = Field(
        default="{id}",
        pattern=r"^[A-Za-z0-9_.{}$-]+$",
        description="the section id of each repository in rpms.repo; placeholders {id} "
        "{distro} {major} {series}; $basearch makes it archful, as Konflux's known repository "
        "ids are",
    )
    repositories: Annotated[tuple[RepositorySection, ...], Field(min_length=1)]


class PrefetchSection(StrictModel):
    """make prefetch: hermeto as Konflux runs it."""

    hermeto_image: str | None = Field(
        default=None,
        pattern=r"^[^\s@]+(:[^\s@]+)?(@sha256:[0-9a-f]{64})?$",
        description="hermeto's container image, run with podman when hermeto is not on PATH "
        "(default: the one the pinned prefetch task runs, written by make update-bundles)",
    )
    rust_crates: StrictBool = Field(
        default=True, description="hermeto vendors the crates of Rust sdists (needs crates.io)"
    )


def _specifier(text: str) -> str:
    try:
        SpecifierSet(text)
    except InvalidSpecifier as exc:
        raise ValueError(
            f"not a PEP 440 specifier: {text!r} (write e.g. '>=27,<28' or '==27.0.2')"
        ) from exc
    return text


def _requirement(text: str) -> str:
    try:
        requirement = Requirement(text)
    except InvalidRequirement as exc:
        raise ValueError(
            f"not a PEP 508 requirement: {text!r} (write e.g. 'setuptools<82' or 'six')"
        ) from exc
    if requirement.url:
        raise ValueError(f"{text!r}: a direct URL is not locked by hash; name a version")
    return text


Requirements = tuple[Annotated[str, Field(min_length=1), AfterValidator(_requirement)], ...]


class PackagePolicySection(StrictModel):
    version: Annotated[str, AfterValidator(_specifier)] | None = Field(
        default=None,
        min_length=1,
        description="a PEP 440 specifier that overrides the release restriction",
    )
    extra_build_requires: Requirements = Field(
        default=(), description="build requirements this package needs but does not declare"
    )
    build_requires_with: Requirements = Field(
        default=(),
        description="requirements that join every build environment this package is installed into",
    )
    extra_requires: Requirements = Field(
        default=(),
        description="requirements it imports at run time without declaring them: they join "
        "every image whose lock holds it",
    )
    install: Literal["sdist", "wheel", "rpm"] = Field(
        default="sdist",
        description="how it enters the image: sdist (built from source in the wheels stage), "
        "wheel (the project's wheels for every arch, prefetched by hermeto's binary filter), "
        "rpm (the distro's RPM; the pin is held to the RPM lock's version)",
    )
    rpm: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")] | None = Field(
        default=None, description="the RPM of an `install: rpm` package (python3-<name>)"
    )
    build_environment: dict[Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")], str] = (
        Field(default_factory=dict, description="environment variables of its sdist build")
    )
    without_rust: StrictBool = Field(
        default=False,
        description="with build_environment, its build needs no Rust (no crates, no cargo)",
    )
    source: Literal["pypi", "git"] = Field(
        default="pypi",
        description="pypi (its sdist) or git (its repository at a commit the pin records)",
    )
    git_url: Annotated[str, Field(pattern=r"^(https|file)://[^\s@]+$")] | None = Field(
        default=None, description="the repository of a `source: git` package (https://)"
    )
    git_ref: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")] | None = Field(
        default=None,
        description="a branch, tag or full commit (default HEAD); the pin records the commit",
    )
    reason: str | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> PackagePolicySection:
        if self.rpm and self.install != "rpm":
            raise ValueError("rpm names the RPM of an `install: rpm` package; set install: rpm")
        if self.without_rust and self.install != "sdist":
            raise ValueError("without_rust is about an sdist build; it needs install: sdist")
        if self.source == "git" and not self.git_url:
            raise ValueError("source: git needs git_url, the repository")
        if self.source != "git" and (self.git_url or self.git_ref):
            raise ValueError("git_url and git_ref are for source: git")
        if self.source == "git" and self.install != "sdist":
            raise ValueError("a git source is built from its tree: install: sdist")
        if self.install != "sdist" and (self.extra_build_requires or self.build_environment):
            raise ValueError(
                f"install: {self.install} builds nothing: drop extra_build_requires and "
                "build_environment"
            )
        return self


class DataPolicy(PackagePolicySection):
    reason: str = Field(min_length=1)


class PackagePolicies(StrictModel):
    """data/package_policies.yaml: how upstream projects must be built (names or globs)."""

    packages: dict[
        Annotated[str, Field(pattern=r"^[A-Za-z0-9*?\[\]][A-Za-z0-9._*?\[\]-]*$")], DataPolicy
    ] = Field(default_factory=dict)


POLICIES_DATA = "package_policies.yaml"


def _is_pattern(name: str) -> bool:
    return any(character in name for character in "*?[")


def data_policies() -> PackagePolicies:
    found = load_data(POLICIES_DATA, PackagePolicies, "fix the entry (kept by hand)")
    for name, policy in found.packages.items():
        if _is_pattern(name) and policy.version:
            raise ConfigError(
                f"{shown(POLICIES_DATA)}: packages.{name}.version",
                "a glob of names cannot hold a version",
                "name each project for a version",
            )
    return found


TcibVariable = Annotated[str, Field(pattern=r"^tcib_[a-z0-9_]+$")]
ProjectName = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]


class ConfigFile(StrictModel):
    """What is specific to one deployment of the toolkit: release, distro, target, registry,
    Konflux, scope, policies."""

    model_config = ConfigDict(title="tcibsrc deployment config")

    release: ReleaseSection
    distro: DistroSection
    python: PythonSection
    arches: Annotated[tuple[Arch, ...], Field(min_length=1), AfterValidator(_unique)]
    registry: RegistrySection
    konflux: KonfluxSection
    images: ImagesSection
    tcib_extras: dict[TcibVariable, str] = Field(
        default_factory=dict, description="extra tcib_* variables, as TCIB's --tcib-extras"
    )
    upper_constraints: UpperConstraintsSection
    rpm: RpmSection | None = None
    prefetch: PrefetchSection = PrefetchSection()
    trunk: TrunkSection | None = Field(
        default=None, description="the trunk mode's services (with release.series: master)"
    )
    packages: dict[ProjectName, PackagePolicySection] = Field(
        default_factory=dict, description="per-package policies, keyed by PyPI project name"
    )


def config_schema() -> str:
    """The JSON schema of the config file, for editors (schemas/config.schema.json)."""
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **ConfigFile.model_json_schema(),
    }
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def validate_config_data(data: Any, display: str) -> ConfigFile:
    """The config as its model; the first problem (ordered by key path) as a ConfigError."""
    try:
        return ConfigFile.model_validate(data)
    except ValidationError as error:
        key, problem = describe(error, ConfigFile)
        raise ConfigError(
            f"{display}: {key}",
            problem,
            "see the comments in the default config.yaml for every key",
        ) from error


IMAGE_NAME_PLACEHOLDERS = ("image", "distro", "major", "series", "version")


REPOSITORY_ID_PLACEHOLDERS = ("id", "distro", "major", "series")


def _check_template(
    template: str, placeholders: tuple[str, ...], display: str, key_path: str
) -> None:
    try:
        template.format(**{key: key for key in placeholders})
    except KeyError as exc:
        raise ConfigError(
            f"{display}: {key_path}",
            f"unknown placeholder {{{exc.args[0]}}}",
            f"use {', '.join('{' + p + '}' for p in placeholders)}",
        ) from exc
    except (ValueError, IndexError) as exc:
        raise ConfigError(
            f"{display}: {key_path}",
            f"not a valid template: {exc}",
            f"write placeholders as {{{placeholders[0]}}}",
        ) from exc


def _check_image_name(template: str, display: str) -> None:
    _check_template(template, IMAGE_NAME_PLACEHOLDERS, display, "registry.image_name")


# An OCI repository path: components of lower-case letters and digits, joined by . _ __ or -.
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REPOSITORY_PATH = re.compile(rf"^{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*$")
SAMPLE_IMAGE = "nova-api"  # TCIB's image names are lower-case words joined by dashes


def _check_image_reference(model: ConfigFile, display: str) -> None:
    """registry.image_name must make image references a registry accepts."""
    name = model.registry.image_name.format(
        image=SAMPLE_IMAGE,
        distro=model.distro.name,
        major=model.distro.major,
        series=model.release.series,
        version=model.release.version,
    )
    if not _REPOSITORY_PATH.match(f"{model.registry.namespace}/{name}"):
        raise ConfigError(
            f"{display}: registry.image_name",
            f"{model.registry.image_name!r} makes {name!r} for {SAMPLE_IMAGE}, not a valid image "
            "name",
            "use lower-case letters and digits, with . _ or - between them",
        )


PLATFORM_ARCHES = {"x86_64": "x86_64", "amd64": "x86_64", "arm64": "aarch64", "aarch64": "aarch64"}


def _check_platforms(model: ConfigFile, display: str) -> None:
    """Konflux builds only on platforms whose arch the locks cover (the RPM lock and the
    hermeto options name the arches of `arches`)."""
    for platform in model.konflux.build_platforms:
        arch = PLATFORM_ARCHES.get(platform.rsplit("/", 1)[-1])
        if arch is None or arch not in model.arches:
            raise ConfigError(
                f"{display}: konflux.build_platforms",
                f"{platform} builds {arch or 'an arch'} that `arches` does not list "
                f"({', '.join(model.arches)})",
                "the locks cover only the arches listed: add it to arches, or drop the platform",
            )


def _check_image_builds(model: ConfigFile, display: str) -> None:
    for name, build in model.images.builds.items():
        for platform in build.platforms or ():
            if platform not in model.konflux.build_platforms:
                raise ConfigError(
                    f"{display}: images.builds.{name}.platforms",
                    f"{platform} is not one of konflux.build_platforms",
                    f"use some of: {', '.join(model.konflux.build_platforms)}",
                )


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def release_age(text: str) -> timedelta:
    """'7 days' -> timedelta(days=7)."""
    match = AGE.match(text)
    assert match is not None  # the model checked it
    count = int(match["count"])
    return timedelta(days=count) if match["unit"].startswith("day") else timedelta(hours=count)


def utc_text(moment: datetime) -> str:
    """The config's form of a time: RFC 3339, UTC, to the second."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


_EXCLUDE_NEWER = re.compile(r"^(?P<indent>[ \t]+)exclude_newer:[^\n]*$", re.M)
_PYTHON_VERSION = re.compile(r"^python:[ \t]*\n(?P<indent>[ \t]+)version:[^\n]*\n", re.M)


def set_exclude_newer(path: Path, moment: datetime) -> bool:
    """Write the cutoff into the config file, keeping every other line and comment; True when
    the file changed."""
    text = path.read_text(encoding="utf-8")
    value = f'"{utc_text(moment)}"'
    if _EXCLUDE_NEWER.search(text):
        updated = _EXCLUDE_NEWER.sub(
            lambda m: f"{m['indent']}exclude_newer: {value}", text, count=1
        )
    else:
        found = _PYTHON_VERSION.search(text)
        if found is None:
            raise ConfigError(
                f"{path}: python", "no `version:` line to put exclude_newer under", "add it by hand"
            )
        line = f"{found['indent']}exclude_newer: {value}\n"
        updated = text[: found.end()] + line + text[found.end() :]
    return write_text_atomic(path, updated)


def _repository_id(model: ConfigFile, template: str, short: str) -> str:
    """rpm.repository_id applied to a repository's short id (default: the short id)."""
    series = model.release.series
    return template.format(
        id=short.format(series=series),
        distro=model.distro.name,
        major=model.distro.major,
        series=series,
    )


def _tenant_policy(section: TenantPolicySection | None) -> TenantPolicy | None:
    if section is None:
        return None
    return TenantPolicy(
        rpm_signing_keys={
            name: (key.lower() if key else None) for name, key in section.rpm_signing_keys.items()
        },
        base_image_registries=section.base_image_registries,
    )


def _policy(name: str, policy: PackagePolicySection) -> PackagePolicy:
    return PackagePolicy(
        name=name,
        version=policy.version,
        extra_build_requires=policy.extra_build_requires,
        build_requires_with=policy.build_requires_with,
        extra_requires=policy.extra_requires,
        install=policy.install,
        rpm=policy.rpm,
        build_environment=tuple(sorted(policy.build_environment.items())),
        without_rust=policy.without_rust,
        source=policy.source,
        git_url=policy.git_url,
        git_ref=policy.git_ref,
        reason=policy.reason,
    )


def _policies(model: ConfigFile) -> dict[str, Any]:
    """packages (exact names) and package_patterns: the data's entries, then the config's
    (which replace an entry of the same name)."""
    merged: dict[str, PackagePolicySection] = dict(data_policies().packages)
    if not _rdo_used(model):
        # an RPM only RDO builds, replaced by a project taken from its wheels (pyeclib for
        # liberasurecode): the project's policy says so
        for rpm, entry in sorted(rdo_repository().rpms.items()):
            if entry.pypi and entry.install == "wheel" and entry.pypi not in merged:
                merged[entry.pypi] = PackagePolicySection(
                    install="wheel", reason=f"replaces {rpm}, which only RDO builds: {entry.reason}"
                )
    given = {canonicalize_name(name) for name in model.packages}
    merged = {n: p for n, p in merged.items() if canonicalize_name(n) not in given}
    merged.update(model.packages)
    return {
        "packages": {
            name: _policy(name, policy)
            for name, policy in sorted(merged.items())
            if not _is_pattern(name)
        },
        "package_patterns": {
            name: _policy(name, policy)
            for name, policy in sorted(merged.items())
            if _is_pattern(name)
        },
    }


def _check_trunk(model: ConfigFile, display: str) -> None:
    """The trunk section goes with release.series: master, and only with it."""
    trunk_mode = model.release.series == TRUNK_SERIES
    if trunk_mode and model.trunk is None:
        raise ConfigError(
            f"{display}: trunk",
            "release.series: master (the trunk mode) needs a trunk section",
            "add trunk: {services_from: <the newest series with data>} (see the README)",
        )
    if not trunk_mode and model.trunk is not None:
        raise ConfigError(
            f"{display}: trunk",
            f"the trunk section is for release.series: master, not {model.release.series}",
            "remove it, or set release.series: master",
        )


def load_config(path: Path, display: str | None = None, subset: str | None = None) -> Config:
    """Read, validate and model the config file at `path` (named `display` in messages);
    `subset` (SCOPE=) narrows the images to one of images.subsets."""
    display = display or str(path)
    data = load_yaml(path, display=display)
    if data is None:
        raise ConfigError(display, "the config file is empty", "start from the default config.yaml")
    model = validate_config_data(data, display)
    _check_image_name(model.registry.image_name, display)
    _check_image_reference(model, display)
    _check_platforms(model, display)
    _check_image_builds(model, display)
    _check_trunk(model, display)
    rpm = model.rpm
    repository_id = rpm.repository_id if rpm else "{id}"
    _check_template(repository_id, REPOSITORY_ID_PLACEHOLDERS, display, "rpm.repository_id")
    if subset is not None and subset not in model.images.subsets:
        known = ", ".join(sorted(model.images.subsets)) or "none defined"
        raise ConfigError(
            f"SCOPE={subset}",
            f"no such subset in {display}'s images.subsets ({known})",
            "use one of those, or leave SCOPE unset for every image in scope",
        )
    series = model.release.series
    return Config(
        path=path,
        series=series,
        release_version=model.release.version,
        distro=model.distro.name,
        distro_major=model.distro.major,
        base_image=model.distro.base_image,
        python_version=model.python.version,
        arches=model.arches,
        registry_host=model.registry.host,
        registry_namespace=model.registry.namespace,
        image_name_template=model.registry.image_name,
        konflux_application=model.konflux.application,
        konflux_tenant_namespace=model.konflux.tenant_namespace,
        konflux_build_platforms=model.konflux.build_platforms,
        konflux_branch=model.konflux.branch,
        scope=model.images.subsets[subset] if subset else model.images.scope,
        scope_from_containers_yaml=False if subset else model.images.from_containers_yaml,
        exclude=model.images.exclude,
        subsets=dict(model.images.subsets),
        image_builds={
            name: ImageBuild(build.hermetic, build.platforms, build.reason)
            for name, build in sorted(model.images.builds.items())
        },
        subset=subset,
        tcib_extras=dict(model.tcib_extras),
        upper_constraints_url=model.upper_constraints.url,
        upper_constraints_sha256=model.upper_constraints.sha256,
        **_policies(model),
        hermeto_image=model.prefetch.hermeto_image,
        trunk=model.trunk,
        prefetch_rust_crates=model.prefetch.rust_crates,
        exclude_newer=_utc(model.python.exclude_newer) if model.python.exclude_newer else None,
        minimum_release_age=release_age(model.python.minimum_release_age),
        tenant_policy=_tenant_policy(model.konflux.policy),
        git_url=model.konflux.git_url,
        rpm_repositories=tuple(
            RpmRepository(
                id=_repository_id(model, repository_id, repo.id),
                name=repo.name.format(series=series),
                baseurl=repo.baseurl.format(series=series),
                gpgkey=repo.gpgkey,
                enabled=bool(repo.enabled),
                key_package=repo.key_package,
                instead_of_rdo=repo.instead_of_rdo,
            )
            for repo in (rpm.repositories if rpm else ())
            if _used(repo, model)
        ),
        rdo_repository=_rdo_used(model),
    )


def _used(repo: RepositorySection, model: ConfigFile) -> bool:
    """A repository of rpms.repo: `enabled: auto` on RDO's follows what RDO publishes; on one
    that stands in for it, the opposite."""
    if repo.enabled != "auto":
        return True
    if repo.rdo:
        return model.release.series in rdo_repository().published
    return not _rdo_used(model)


def _rdo_used(model: ConfigFile) -> bool:
    """Whether the images may install what only RDO's Cloud SIG OpenStack repository builds."""
    repositories = model.rpm.repositories if model.rpm else ()
    return any(
        repo.rdo and repo.enabled is not False and _used(repo, model) for repo in repositories
    )

"""OpenStack release series facts: which versions of each deliverable belong to a series.

upper-constraints pins libraries and clients but not services; a naive resolution then picks
the newest keystone (30.x) instead of epoxy's 27.x. The series data, kept in
data/series/<series>.yaml and regenerated from an openstack/releases checkout, restricts every
deliverable that upper-constraints does not pin to the versions released in the series.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version
from pydantic import AfterValidator, Field

from tcibsrc.common.datafiles import data_path, load_data
from tcibsrc.common.errors import ToolkitError
from tcibsrc.common.models import StrictModel
from tcibsrc.common.yamlio import load_yaml

SERIES_DATA = "data/series"
# Repositories whose PyPI name is neither the repository name nor its `tarball-base`.
PYPI_NAME_OF_REPOSITORY = {"openstack/heat": "openstack-heat"}


class SeriesError(ToolkitError):
    """Series data is missing or malformed."""


@dataclass(frozen=True)
class Deliverable:
    name: str
    kind: str
    versions: tuple[str, ...]
    repository: str = ""  # openstack/heat: where its code lives (opendev, GitHub mirrors)
    commits: tuple[str, ...] = ()  # the commit each version was released from, in order

    def version_at(self, commit: str) -> str | None:
        """The version released from `commit`, if one was."""
        for version, released in zip(self.versions, self.commits, strict=False):
            if released == commit:
                return version
        return None

    def specifier(self) -> str:
        ordered = sorted(self.versions, key=Version)
        return f">={ordered[0]},<={ordered[-1]}"


@dataclass(frozen=True)
class Series:
    name: str
    source: str
    deliverables: dict[NormalizedName, Deliverable]
    release: str = ""  # its release id, 2025.1
    status: str = ""  # openstack/releases' data/series_status.yaml: maintained, development...


def series_mismatches(series: Series, pins: dict[NormalizedName, str]) -> list[tuple[str, str]]:
    """(deliverable, version) that upper-constraints pins at a version the series did not
    release: a file of another branch."""
    return sorted(
        (deliverable.name, pins[name])
        for name, deliverable in series.deliverables.items()
        if name in pins
        and Version(pins[name]) not in {Version(version) for version in deliverable.versions}
    )


def known_series() -> list[str]:
    """The series the toolkit ships data for."""
    return sorted(path.stem for path in data_path("series").glob("*.yaml"))


def series_file(series: str) -> str:
    return f"scripts/tcibsrc/{SERIES_DATA}/{series}.yaml"


def _version(text: str) -> str:
    Version(text)  # InvalidVersion is a ValueError: the model names the entry
    return text


class DeliverableEntry(StrictModel):
    """One deliverable's line: its type in openstack/releases, its repository, its final
    versions and the commit each was released from."""

    type: str
    repo: str = ""
    versions: Annotated[tuple[Annotated[str, AfterValidator(_version)], ...], Field(min_length=1)]
    commits: tuple[Annotated[str, Field(pattern=r"^[0-9a-f]{40}$")], ...] = ()


class SeriesFile(StrictModel):
    """data/series/<series>.yaml, as `make update-series` writes it."""

    series: str
    release: str
    status: str
    source: str
    deliverables: dict[str, DeliverableEntry]


TRUNK = "master"  # the trunk mode: no release restricts the services, git pins them


def load_series(series: str) -> Series:
    """The packaged series data; a missing series says how to generate it. The trunk mode
    (master) has no series data: its services come from git, its libraries from master's
    upper-constraints."""
    if series == TRUNK:
        return Series(
            name=TRUNK,
            source="development branches (trunk mode)",
            deliverables={},
            status="development",
        )
    fix = "run `make update-series RELEASES_DIR=<openstack/releases checkout>`"
    if not data_path(f"series/{series}.yaml").is_file():
        raise SeriesError(series_file(series), "no series data for this release", fix)
    data = load_data(f"series/{series}.yaml", SeriesFile, fix)
    deliverables = {
        canonicalize_name(name): Deliverable(
            name=name,
            kind=entry.type,
            versions=entry.versions,
            repository=entry.repo,
            commits=entry.commits,
        )
        for name, entry in data.deliverables.items()
    }
    return Series(
        name=data.series,
        source=data.source,
        deliverables=deliverables,
        release=data.release,
        status=data.status,
    )


def _release_commits(releases: list[dict], repository: str) -> dict[str, str]:
    """version -> the commit of `repository` it was released from."""
    found = {}
    for release in releases or []:
        for project in release.get("projects") or []:
            if project.get("repo") == repository and project.get("hash"):
                found[str(release.get("version"))] = str(project["hash"])
    return found


def _final_versions(releases: list[dict]) -> list[str]:
    versions = []
    for release in releases or []:
        try:
            version = Version(str(release["version"]))
        except (InvalidVersion, KeyError):
            continue
        if not version.is_prerelease:
            versions.append(str(version))
    return sorted(set(versions), key=Version)


def read_releases(releases_dir: Path, series: str) -> dict[str, Deliverable]:
    """Deliverables of `series` from an openstack/releases checkout, keyed by PyPI name."""
    directory = releases_dir / "deliverables" / series
    if not directory.is_dir():
        raise SeriesError(
            str(directory), "not a directory", "RELEASES_DIR must be an openstack/releases checkout"
        )
    found: dict[str, Deliverable] = {}
    for path in sorted(directory.glob("*.yaml")):
        data = load_yaml(path, strict_keys=False) or {}
        versions = _final_versions(data.get("releases", []))
        if not versions:
            continue
        for repository, settings in (data.get("repository-settings") or {}).items():
            name = PYPI_NAME_OF_REPOSITORY.get(repository) or (
                (settings or {}).get("tarball-base") or repository.split("/")[-1]
            )
            commits = _release_commits(data.get("releases", []), repository)
            found[name] = Deliverable(
                name=name,
                kind=str(data.get("type", "other")),
                versions=tuple(versions),
                repository=repository,
                commits=tuple(commits[v] for v in versions)
                if all(v in commits for v in versions)
                else (),
            )
    return dict(sorted(found.items()))


# The statuses whose deliverables are final releases: a series in development has only
# pre-releases of many (hibiscus, 2026.2: keystone and nova none), so it is built from git.
BUILT_FROM_RELEASES = ("maintained", "unmaintained", "extended maintenance")


@dataclass(frozen=True)
class SeriesStatus:
    """One series of openstack/releases' data/series_status.yaml."""

    name: str
    release: str
    status: str


def read_series_status(releases_dir: Path) -> dict[str, SeriesStatus]:
    """Every series of an openstack/releases checkout with its release id and status."""
    path = releases_dir / "data" / "series_status.yaml"
    if not path.is_file():
        raise SeriesError(
            str(path), "missing", "RELEASES_DIR must be an openstack/releases checkout"
        )
    data = load_yaml(path, display=str(path), strict_keys=False)
    if not isinstance(data, list):
        raise SeriesError(str(path), "not a list of series", "give an openstack/releases checkout")
    found = {}
    for entry in data:
        if isinstance(entry, dict) and "name" in entry:
            release = entry.get("release-id")
            found[str(entry["name"])] = SeriesStatus(
                name=str(entry["name"]),
                release=str(release) if release is not None else "",
                status=str(entry.get("status", "")),
            )
    return found


STATUS_DATA = "series_status.yaml"


class StatusEntry(StrictModel):
    release: str
    status: str


class StatusFile(StrictModel):
    """data/series_status.yaml: every series openstack/releases lists, with its status."""

    source: str
    series: dict[str, StatusEntry]


def render_status(statuses: dict[str, SeriesStatus], source: str) -> str:
    lines = [
        "# Every series of openstack/releases' data/series_status.yaml: release id and status.",
        "# Generated by `make update-series RELEASES_DIR=...`; do not edit by hand.",
        f"source: {source}",
        "series:",
    ]
    for name, item in statuses.items():
        lines.append(f"  {name}: {{release: '{item.release}', status: {item.status}}}")
    return "\n".join(lines) + "\n"


def series_status(series: str) -> SeriesStatus | None:
    """What openstack/releases said of `series` (the shipped status data), or None."""
    if not data_path(STATUS_DATA).is_file():
        return None
    data = load_data(STATUS_DATA, StatusFile, "run `make update-series RELEASES_DIR=...`")
    entry = data.series.get(series)
    return SeriesStatus(series, entry.release, entry.status) if entry else None


def render_series(status: SeriesStatus, deliverables: dict[str, Deliverable], source: str) -> str:
    """The data file's text: stable order, one deliverable per line."""
    lines = [
        "# Versions released in this OpenStack series, per PyPI project (final releases only),",
        "# with the repository and the commit each version was released from.",
        "# Generated by `make update-series RELEASES_DIR=...`; do not edit by hand.",
        f"series: {status.name}",
        f"release: '{status.release}'",
        f"status: {status.status}",
        f"source: {source}",
        "deliverables:",
    ]
    for name, item in deliverables.items():
        versions = ", ".join(item.versions)
        repo = f"repo: {item.repository}, " if item.repository else ""
        commits = f", commits: [{', '.join(item.commits)}]" if item.commits else ""
        lines.append(f"  {name}: {{type: {item.kind}, {repo}versions: [{versions}]{commits}}}")
    return "\n".join(lines) + "\n"

"""What moving the deployment to another OpenStack series changes in its config.

`make new-series SERIES=gazpacho` takes five values that must agree with each other (the
series, its release number, upper-constraints at the stable branch's commit with its sha256,
the Konflux application and the branch its PipelineRuns build) from one name and the data the
toolkit ships: the series data of openstack/releases, and the heads of openstack/requirements'
branches. The RPM repositories follow `{series}` in the config; whether RDO's Cloud SIG
OpenStack repository is used is the config's `enabled: auto`, from what RDO publishes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pydantic import Field

from tcibsrc.common.checksum import sha256_file, sha256_text
from tcibsrc.common.config import Config
from tcibsrc.common.datafiles import load_data, shown
from tcibsrc.common.errors import ToolkitError
from tcibsrc.common.git import GitError, git, show_file
from tcibsrc.common.models import StrictModel
from tcibsrc.python.series import (
    BUILT_FROM_RELEASES,
    TRUNK,
    known_series,
    load_series,
    series_status,
)

BRANCHES_DATA = "requirements_branches.yaml"
UC_URL = "https://opendev.org/openstack/requirements/raw/commit/{commit}/upper-constraints.txt"


class SeriesSwitchError(ToolkitError):
    """The series cannot be switched to as asked."""


class Branch(StrictModel):
    commit: str = Field(pattern=r"^[0-9a-f]{40}$")
    upper_constraints_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class Branches(StrictModel):
    """data/requirements_branches.yaml: openstack/requirements' branch heads, as facts."""

    source: str
    branches: dict[str, Branch]


@dataclass
class SeriesSwitch:
    series: str
    version: str
    branch: str  # openstack/requirements' branch, and this repository's for the series
    uc_commit: str
    uc_sha256: str
    uc_file: Path  # the file the pin reads (a local copy; opendev may be out of reach)
    application: str
    notes: list[str] = field(default_factory=list)

    @property
    def uc_url(self) -> str:
        return UC_URL.format(commit=self.uc_commit)

    def values(self) -> dict[tuple[str, str], str]:
        """(section, key) -> value, the config's lines the switch owns."""
        return {
            ("release", "series"): self.series,
            ("release", "version"): self.version,
            ("upper_constraints", "url"): self.uc_url,
            ("upper_constraints", "sha256"): self.uc_sha256,
            ("konflux", "application"): self.application,
            ("konflux", "branch"): self.branch,
        }


def _series_checked(series: str) -> tuple[str, str]:
    """(series, its release number) of a series that can be built from its releases."""
    if series == TRUNK:
        raise SeriesSwitchError(
            f"SERIES={series}",
            "master is the trunk mode, not a series",
            "set release.series: master and a trunk section by hand (see the README)",
        )
    status = series_status(series)
    if status is not None and status.status not in BUILT_FROM_RELEASES:
        raise SeriesSwitchError(
            f"SERIES={series}",
            f"{series} ({status.release}) is {status.status} in openstack/releases: its "
            "services are not all released",
            "build it from git in the trunk mode (release.series: master; see the README)",
        )
    if series not in known_series():
        raise SeriesSwitchError(
            f"SERIES={series}",
            "no release-series data for it",
            f"known: {', '.join(known_series())}; make update-series RELEASES_DIR=<checkout> "
            "writes more",
        )
    data = load_series(series)
    return series, data.release


def _branches() -> Branches:
    return load_data(BRANCHES_DATA, Branches, "fix the entry (kept by hand)")


def _from_checkout(checkout: Path, branch: str, scratch: Path) -> tuple[str, str, Path]:
    """(commit, sha256, local file) of upper-constraints at `branch` in a requirements clone."""
    for ref in (f"origin/{branch}", branch):
        try:
            commit = git(checkout, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
        except GitError:
            continue  # no such ref: the next one
        text = show_file(checkout, commit, "upper-constraints.txt")
        if text is None:
            raise SeriesSwitchError(
                f"{checkout}: {branch}",
                "has no upper-constraints.txt",
                "give a clone of openstack/requirements",
            )
        copy = scratch / "upper-constraints.txt"
        copy.write_text(text, encoding="utf-8")
        return commit, sha256_text(text), copy
    raise SeriesSwitchError(
        str(checkout), f"no branch {branch}", "give a clone of openstack/requirements"
    )


def plan_switch(
    config: Config,
    series: str,
    *,
    uc_file: Path | None,
    uc_commit: str | None,
    requirements_dir: Path | None,
    scratch: Path,
) -> SeriesSwitch:
    """The config values for `series`; every input checked before anything is written."""
    series, version = _series_checked(series)
    branch = f"stable/{version}"
    notes: list[str] = []
    if requirements_dir is not None:
        commit, sha256, local = _from_checkout(requirements_dir, branch, scratch)
        notes.append(f"upper-constraints: {branch} of {requirements_dir} at {commit[:12]}")
    elif uc_file is not None:
        if not uc_file.is_file():
            raise SeriesSwitchError(
                str(uc_file), "not a file", "UPPER_CONSTRAINTS= names a local copy"
            )
        sha256, local = sha256_file(uc_file), uc_file
        known = _branches()
        if uc_commit:
            commit = uc_commit
        else:
            matches = [
                (name, item)
                for name, item in known.branches.items()
                if item.upper_constraints_sha256 == sha256
            ]
            if not matches:
                raise SeriesSwitchError(
                    str(uc_file),
                    f"its sha256 {sha256[:12]}… is not a branch head the toolkit knows "
                    f"({shown(BRANCHES_DATA)})",
                    f"name the commit of {branch} it was read at with UC_COMMIT=, or give "
                    "REQUIREMENTS_DIR= a clone of openstack/requirements",
                )
            # a freshly cut branch shares master's file: the series' own branch first
            name, item = next(((n, i) for n, i in matches if n == branch), matches[0])
            if name != branch:
                raise SeriesSwitchError(
                    str(uc_file),
                    f"is upper-constraints of {name}, not of {branch} ({series})",
                    f"give the file of {branch}",
                )
            commit = item.commit
            notes.append(f"upper-constraints: {branch} at {commit[:12]} ({known.source})")
    else:
        raise SeriesSwitchError(
            "new-series",
            "needs upper-constraints of the series",
            f"give UPPER_CONSTRAINTS=<a copy of {branch}'s file> (and UC_COMMIT= unless the "
            "toolkit knows it), or REQUIREMENTS_DIR=<openstack/requirements clone>",
        )
    if len(commit) != 40 or any(c not in "0123456789abcdef" for c in commit):
        raise SeriesSwitchError(f"UC_COMMIT={commit}", "not a full commit", "give 40 hex digits")
    application = f"openstack-{series}-{config.distro}{config.distro_major}"
    return SeriesSwitch(series, version, branch, commit, sha256, local, application, notes)

"""Python projects taken from git at a pinned commit (packages.<name>.source: git).

A project with no usable sdist, an unreleased fix, or a development series is built from its
repository. The pin turns the policy's `git_ref` (a branch, tag or commit) into a full commit,
kept in requirements/git-sources.json and moved only by `UPDATE=1` or a changed ref. The lock
names it the way hermeto prefetches pip VCS requirements, `name @ git+<url>@<commit>`, in a
file of its own (`<image>-git.txt`): hermeto refuses VCS lines in a hash-locked file.

The PBR trap: hermeto's tarball of a clone carries no tags a build could count from (and the
Konflux clone of this repository is shallow anyway), so PBR cannot compute the version. The
version is computed here, at pin time, from the full history: the release tag on the commit,
else the next patch version as a PEP 440 dev release, `<next>.dev<commits since the tag>`, as
PBR does. The build is given it (PBR_VERSION, SETUPTOOLS_SCM_PRETEND_VERSION_FOR_<NAME>), and
the resolvers read it from the PKG-INFO of the sdist made here from `git archive`.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import re
import shutil
import tarfile
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

from tcibsrc.common.cache import cache_dir
from tcibsrc.common.config import Config
from tcibsrc.common.errors import ToolkitError
from tcibsrc.common.git import GitError, git
from tcibsrc.python.index import DistFile
from tcibsrc.python.sdists import cached_path
from tcibsrc.python.series import Series, load_series

GIT_SOURCES_FILE = "git-sources.json"
COMMIT = re.compile(r"^[0-9a-f]{40}$")


class GitSourceError(ToolkitError):
    """A git source cannot be fetched, resolved or versioned."""


@dataclass(frozen=True)
class GitSource:
    name: str
    url: str  # the repository (https://..., or file:// for a local mirror)
    ref: str  # as the policy names it
    commit: str
    version: str
    version_from: str  # how the version was found: the tag, or the tag and commit count

    @property
    def requirement(self) -> str:
        """The lock line hermeto prefetches: a git+ URL at the full commit."""
        return f"{self.name} @ git+{self.url}@{self.commit}"

    @property
    def tarball(self) -> str:
        """The file hermeto writes into deps/pip/ for it (`<repo>-gitcommit-<commit>.tar.gz`)."""
        return tarball_name(self.url, self.commit)

    @property
    def build_environment(self) -> dict[str, str]:
        """What its build needs to know its version without git history."""
        env_name = re.sub(r"[^A-Z0-9]", "_", self.name.upper())
        return {
            "PBR_VERSION": self.version,
            f"SETUPTOOLS_SCM_PRETEND_VERSION_FOR_{env_name}": self.version,
        }


def tarball_name(url: str, commit: str) -> str:
    repo = url.rstrip("/").rsplit("/", 1)[-1].removesuffix(".git")
    return f"{repo}-gitcommit-{commit}.tar.gz"


def mirror_of(url: str, fetch: bool) -> Path:
    """A bare mirror of `url` in the cache; fetched again when asked (a moving ref)."""
    path = cache_dir() / "git" / hashlib.sha256(url.encode()).hexdigest()[:24]
    if not (path / "HEAD").is_file():
        if path.exists():
            shutil.rmtree(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".clone-", dir=path.parent))
        try:
            git(
                path.parent,
                "clone",
                "--quiet",
                "--mirror",
                url,
                str(staging / "repo"),
                timeout=None,
            )
            (staging / "repo").rename(path)
        except GitError as error:
            raise GitSourceError(
                url, f"cannot be cloned ({error.problem})", "check git_url"
            ) from error
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    elif fetch:
        try:
            git(
                path,
                "fetch",
                "--quiet",
                "--prune",
                "--tags",
                "origin",
                "+refs/*:refs/*",
                timeout=None,
            )
        except GitError as error:
            raise GitSourceError(
                url, f"cannot be fetched ({error.problem})", "check git_url"
            ) from error
    return path


def mirror_with(url: str, commit: str) -> Path:
    """The mirror of `url`, fetched again when it does not hold `commit` yet."""
    mirror = mirror_of(url, fetch=False)
    try:
        git(mirror, "cat-file", "-e", f"{commit}^{{commit}}")
    except GitError:
        mirror = mirror_of(url, fetch=True)
        try:
            git(mirror, "cat-file", "-e", f"{commit}^{{commit}}")
        except GitError as error:
            raise GitSourceError(
                f"{url}@{commit[:12]}",
                "the repository does not have this commit",
                "run make pin-python-deps UPDATE=1 to pin its ref again",
            ) from error
    return mirror


def resolve_commit(mirror: Path, ref: str, url: str) -> str:
    try:
        return git(mirror, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    except GitError as error:
        raise GitSourceError(
            f"{url}@{ref}", "no such branch, tag or commit", "fix packages.<name>.git_ref"
        ) from error


def _tag_version(tag: str) -> Version | None:
    try:
        version = Version(tag)
    except InvalidVersion:
        return None
    return None if version.is_devrelease or version.local else version


def _nearest_version_tag(mirror: Path, commit: str) -> tuple[str, Version] | None:
    """The nearest tag in the commit's history that is a version (git describe, skipping
    tags like `xena-eom`): the one PBR counts from, not the highest (nova's 2015.1.0)."""
    skipped: list[str] = []
    for _attempt in range(50):
        excludes = [f"--exclude={tag}" for tag in skipped]
        try:
            tag = git(mirror, "describe", "--tags", "--abbrev=0", *excludes, commit)
        except GitError:
            return None
        version = _tag_version(tag)
        if version is not None:
            return tag, version
        skipped.append(tag)
    return None


def version_at(mirror: Path, commit: str) -> tuple[str, str]:
    """(version, how) as PBR computes it from history: the highest version tag on the commit;
    else, N commits after the nearest version tag, `<next>.devN`, where next is the tag's next
    patch release (1.0.0 -> 1.0.1.devN) or, after a pre-release tag, the next pre-release
    (29.0.0.0b1 -> 29.0.0.0b2.devN)."""
    on_commit = [
        v for tag in git(mirror, "tag", "--points-at", commit).split() if (v := _tag_version(tag))
    ]
    if on_commit:
        best = max(on_commit)
        return str(best), f"tag {best} on the commit"
    found = _nearest_version_tag(mirror, commit)
    if found is None:
        count = git(mirror, "rev-list", "--count", commit)
        return f"0.0.1.dev{count}", f"no version tag: 0.0.1.dev{count}"
    tag, last = found
    count = git(mirror, "rev-list", "--count", f"{tag}..{commit}")
    release = ".".join(str(part) for part in last.release)
    if last.pre is not None:
        letter, number = last.pre
        following = f"{release}{letter}{number + 1}"
    else:
        parts = list(last.release) + [0] * (3 - len(last.release))
        parts[2] += 1
        following = ".".join(str(part) for part in parts[:3])
    return f"{following}.dev{count}", f"{count} commits after tag {tag}"


def _deterministic_gzip(data: bytes) -> bytes:
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as handle:
        handle.write(data)
    return buffer.getvalue()


def sdist_for_resolution(mirror: Path, source: GitSource) -> DistFile:
    """An sdist of the commit (git archive plus a PKG-INFO naming the version, which PBR and
    setuptools-scm read when there is no git), put into the sdist cache by its sha256 and
    described as an index file, so the resolvers and the build closure see it as any sdist."""
    top = f"{source.name}-{source.version}"
    with tempfile.TemporaryDirectory(prefix="tcibsrc-git-") as scratch:
        archive = Path(scratch) / "archive.tar"
        git(
            mirror, "archive", "--format=tar", f"--prefix={top}/", "-o", str(archive), source.commit
        )
        info = (f"Metadata-Version: 1.1\nName: {source.name}\nVersion: {source.version}\n").encode()
        with tarfile.open(archive, "a") as tar:
            entry = tarfile.TarInfo(f"{top}/PKG-INFO")
            entry.size, entry.mtime = len(info), 0
            tar.addfile(entry, io.BytesIO(info))
        data = _deterministic_gzip(archive.read_bytes())
    sha256 = hashlib.sha256(data).hexdigest()
    filename = f"{top}.tar.gz"
    target = cached_path(sha256, filename)
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".part")
        partial.write_bytes(data)
        partial.replace(target)
    return DistFile(filename, target.as_uri(), sha256, None, False)


def hermeto_tarball(url: str, commit: str, target_dir: Path) -> Path:
    """The file hermeto would prefetch for `url@commit` (the tree under app/), made from the
    cached mirror: the local stand-in for hermeto's fetch. No .git inside, so no build can
    read a version from history: the PBR trap, closed only by the pinned version."""
    mirror = mirror_with(url, commit)
    target = target_dir / tarball_name(url, commit)
    target_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="tcibsrc-git-") as scratch:
        archive = Path(scratch) / "archive.tar"
        git(mirror, "archive", "--format=tar", "--prefix=app/", "-o", str(archive), commit)
        target.write_bytes(_deterministic_gzip(archive.read_bytes()))
    return target


def recorded_from_text(text: str, display: str) -> dict[str, dict[str, Any]]:
    """git-sources.json's sources; a broken file (a merge conflict, say) is one error."""
    if not text:
        return {}
    try:
        sources = json.loads(text)["sources"]
        for source in sources.values():
            str(source["commit"]), str(source["version"]), str(source["url"])
        return dict(sources)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise GitSourceError(
            display,
            f"unreadable ({type(exc).__name__})",
            "delete it and run make pin-python-deps: the refs are resolved again",
        ) from exc


def read_recorded(path: Path) -> dict[str, dict[str, Any]]:
    if not path.is_file():
        return {}
    return recorded_from_text(path.read_text(encoding="utf-8"), f"requirements/{path.name}")


def render_recorded(sources: dict[str, GitSource]) -> str:
    body = {
        "generated": "by `make pin-python-deps`; the commit each git source is pinned to",
        "sources": {name: asdict(source) for name, source in sorted(sources.items())},
    }
    return json.dumps(body, indent=1, sort_keys=True) + "\n"


def git_policies(config: Config) -> dict[NormalizedName, tuple[str, str]]:
    """name -> (repository, ref) of every `source: git` policy."""
    return {
        canonicalize_name(name): (policy.git_url, policy.git_ref or "HEAD")
        for name, policy in sorted(config.packages.items())
        if policy.source == "git" and policy.git_url
    }


def trunk_policies(
    config: Config, wanted: set[NormalizedName]
) -> dict[NormalizedName, tuple[str, str]]:
    """The trunk mode: each OpenStack service the images install (type `service` in the
    series data trunk.services_from names), from its repository's development branch."""
    trunk = config.trunk
    if trunk is None:
        return {}
    series = load_series(trunk.services_from)
    return {
        name: (trunk.git_url.format(repo=deliverable.repository), trunk.ref)
        for name, deliverable in sorted(series.deliverables.items())
        if deliverable.kind == "service" and deliverable.repository and name in wanted
    }


def git_sources(
    wanted: dict[NormalizedName, tuple[str, str]],
    recorded_path: Path,
    *,
    update: bool,
    series: Series | None = None,
) -> dict[NormalizedName, GitSource]:
    """Every git source pinned: the recorded commit while the url and ref stay the same and
    no update is asked, else the ref resolved now (the mirror fetched again). Its version:
    the series' release from that commit (openstack/releases), else as PBR computes it."""
    recorded = read_recorded(recorded_path)
    found: dict[NormalizedName, GitSource] = {}
    for key, (url, ref) in sorted(wanted.items()):
        kept = recorded.get(str(key)) or {}
        same = kept.get("url") == url and kept.get("ref") == ref
        if same and not update and COMMIT.match(str(kept.get("commit"))) and kept.get("version"):
            # the recorded pin: no repository is read (a no-op pin stays offline)
            found[key] = GitSource(
                str(key), url, ref, str(kept["commit"]), str(kept["version"]),
                str(kept.get("version_from", "")),
            )  # fmt: skip
            continue
        # a new or changed ref, or an update: the mirror fetched, the ref resolved now
        mirror = mirror_of(url, fetch=not COMMIT.match(ref))
        commit = resolve_commit(mirror, ref, url)
        deliverable = series.deliverables.get(key) if series else None
        released = deliverable.version_at(commit) if deliverable else None
        if released and series is not None:
            version, how = released, f"released from this commit in {series.name}"
        else:
            version, how = version_at(mirror, commit)
        found[key] = GitSource(str(key), url, ref, commit, version, how)
    return found

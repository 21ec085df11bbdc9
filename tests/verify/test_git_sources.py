"""packages.<name>.source: git — a repository the test makes, pinned by commit, built offline.

The repository is a real git repository with release tags; the pin resolves its ref, computes
the version PBR would, and the offline build gets the tarball hermeto's pip VCS fetch writes
(the tree under app/, no history) from a local stand-in of that fetch, nothing else.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml
from test_hermetic import statuses, verify

from pinfixtures import options
from pyindex import BACKEND, Package, PackageIndex
from tcibsrc.common.context import Context
from tcibsrc.common.errors import ToolkitError
from tcibsrc.konflux.prefetch_input import pip_input
from tcibsrc.python.lock_rules import check_text
from tcibsrc.python.pinning import PinOptions, pin_python_deps
from tcibsrc.python.preflight import lock_problems

GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.invalid",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.invalid",
    "GIT_AUTHOR_DATE": "2026-01-01T00:00:00Z",
    "GIT_COMMITTER_DATE": "2026-01-01T00:00:00Z",
    "PATH": "/usr/bin:/bin",
}


def run_git(repo: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, env=GIT_ENV, check=True
    )
    return result.stdout.strip()


def make_project(
    root: Path, name: str = "gitproj", tag: str = "1.0.0", after: int = 1, requires: str = ""
) -> Path:
    """A pbr-like project: tagged `tag`, then `after` more commits on main."""
    repo = root / name
    module = name.replace("-", "_")
    (repo / "src" / module).mkdir(parents=True)
    (repo / "pyproject.toml").write_text(
        '[build-system]\nrequires = []\nbuild-backend = "fixture_backend"\nbackend-path = ["."]\n'
    )
    (repo / "fixture_backend.py").write_text(BACKEND)
    (repo / "NAME").write_text(f"{name}\n")
    if requires:
        (repo / "requires.txt").write_text(requires + "\n")
    (repo / "src" / module / "__init__.py").write_text("")
    run_git(repo.parent, "init", "-q", "-b", "main", str(repo))
    run_git(repo, "add", ".")
    run_git(repo, "commit", "-qm", "first")
    run_git(repo, "tag", tag)
    for number in range(after):
        (repo / "src" / module / f"change{number}.py").write_text("")
        run_git(repo, "add", ".")
        run_git(repo, "commit", "-qm", f"a change merged after {tag}")
    return repo


def use_git_source(ctx: Context, repo: Path, ref: str = "main") -> None:
    config = yaml.safe_load(ctx.config_file.read_text())
    config["packages"] = {
        "gitproj": {
            "source": "git",
            "git_url": repo.as_uri(),
            "git_ref": ref,
            "reason": "the fix is merged, not released",
        }
    }
    ctx.config_file.write_text(yaml.safe_dump(config))
    ctx.__dict__.pop("config", None)
    requirements = ctx.repo_root / "requirements"
    requirements.mkdir(exist_ok=True)
    (requirements / "additions.in").write_text("gitproj  # images: keystone\n")


def test_a_git_source_is_pinned_by_commit_versioned_and_built_offline(
    pin_repo: Context, index: PackageIndex, tmp_path: Path
) -> None:
    repo = make_project(tmp_path)
    head = run_git(repo, "rev-parse", "HEAD")
    use_git_source(pin_repo, repo)
    pin_python_deps(pin_repo, options(pin_repo, index))
    requirements = pin_repo.repo_root / "requirements"
    # the lock names it as hermeto prefetches it, in a file of its own, at the full commit
    git_lock = (requirements / "keystone-git.txt").read_text()
    assert f"gitproj @ git+{repo.as_uri()}@{head}" in git_lock
    assert "--hash" not in git_lock
    assert "gitproj" not in (requirements / "keystone.txt").read_text()
    # the version PBR would give: one commit after the 1.0.0 tag
    recorded = json.loads((requirements / "git-sources.json").read_text())["sources"]
    assert recorded["gitproj"]["commit"] == head
    assert recorded["gitproj"]["version"] == "1.0.1.dev1"
    assert "gitproj==1.0.1.dev1" in (requirements / "constraints.txt").read_text()
    info = json.loads((requirements / "build-info.json").read_text())["packages"]
    entry = info["gitproj==1.0.1.dev1"]
    assert entry["git"] == {"url": repo.as_uri(), "commit": head}
    assert entry["build_environment"]["PBR_VERSION"] == "1.0.1.dev1"
    assert entry["sdist"] == f"gitproj-gitcommit-{head}.tar.gz"
    # hermeto's rules hold (a file:// repository is only a warning: Konflux cannot clone it)
    problems = [p for p in lock_problems(pin_repo) if "git" in p.where]
    assert sorted(p.where for p in problems) == [
        "requirements/all-git.txt: gitproj",
        "requirements/keystone-git.txt: gitproj",
    ]
    assert {p.severity.name for p in problems} == {"WARNING"}
    pip = pip_input(pin_repo, "keystone")
    assert pip is not None and "requirements/keystone-git.txt" in pip["requirements_files"]
    # offline, from a tarball with no history: PBR_VERSION gives the version
    report = verify(pin_repo, index, "keystone", tmp_path)
    assert statuses(report)["gitproj==1.0.1.dev1"] == "proven"


def test_the_recorded_commit_stays_until_an_update_moves_it(
    pin_repo: Context, index: PackageIndex, tmp_path: Path
) -> None:
    repo = make_project(tmp_path)
    first = run_git(repo, "rev-parse", "HEAD")
    use_git_source(pin_repo, repo)
    pin_python_deps(pin_repo, options(pin_repo, index))
    (repo / "src" / "gitproj" / "more.py").write_text("")
    run_git(repo, "add", ".")
    run_git(repo, "commit", "-qm", "another")
    second = run_git(repo, "rev-parse", "HEAD")
    sources = pin_repo.repo_root / "requirements" / "git-sources.json"
    # a re-pin keeps the recorded commit: the branch moving is not an input
    result = pin_python_deps(pin_repo, options(pin_repo, index))
    assert result.up_to_date
    assert json.loads(sources.read_text())["sources"]["gitproj"]["commit"] == first
    # UPDATE=1 moves it to the branch head, and the version follows
    moved = pin_python_deps(
        pin_repo, PinOptions(**{**options(pin_repo, index).__dict__, "update_git": True})
    )
    recorded = json.loads(sources.read_text())["sources"]["gitproj"]
    assert (recorded["commit"], recorded["version"]) == (second, "1.0.1.dev2")
    assert any("gitproj" in line for line in moved.moves)


def test_a_release_tag_on_the_commit_is_its_version(
    pin_repo: Context, index: PackageIndex, tmp_path: Path
) -> None:
    repo = make_project(tmp_path)
    use_git_source(pin_repo, repo, ref="1.0.0")
    pin_python_deps(pin_repo, options(pin_repo, index))
    recorded = json.loads((pin_repo.repo_root / "requirements" / "git-sources.json").read_text())
    assert recorded["sources"]["gitproj"]["version"] == "1.0.0"
    assert recorded["sources"]["gitproj"]["commit"] == run_git(repo, "rev-parse", "1.0.0")


def test_hermetos_rules_for_vcs_lines() -> None:
    commit = "a" * 40
    ok = f"x @ git+https://example.org/x@{commit}\n"
    assert list(check_text(ok, "x-git.txt")) == []
    short = check_text("x @ git+https://example.org/x@main\n", "x-git.txt")
    assert "full 40-hex commit" in short[0].message
    mixed = check_text(ok + "y==1.0 \\\n    --hash=sha256:" + "b" * 64 + "\n", "x.txt")
    assert any("hash-locked file" in p.message for p in mixed)


def test_the_trunk_mode_takes_the_services_from_their_branches(
    pin_repo: Context, index: PackageIndex, tmp_path: Path
) -> None:
    """release.series: master: keystone and nova (services in the series data, with their
    openstack/releases repositories) come from git; the libraries from upper-constraints."""
    mirrors = tmp_path / "mirrors"
    keystone = make_project(mirrors / "openstack", "keystone", "28.0.0", 1, "oslo-lite")
    make_project(mirrors / "openstack", "nova", "32.0.0.0b1", 2, "oslo-lite")
    config = yaml.safe_load(pin_repo.config_file.read_text())
    config["release"] = {"series": "master", "version": "2026.2"}
    config["trunk"] = {
        "git_url": mirrors.as_uri() + "/{repo}",
        "ref": "main",
        "services_from": "epoxy",
    }
    pin_repo.config_file.write_text(yaml.safe_dump(config))
    pin_repo.__dict__.pop("config", None)
    pin_python_deps(pin_repo, options(pin_repo, index))
    requirements = pin_repo.repo_root / "requirements"
    sources = json.loads((requirements / "git-sources.json").read_text())["sources"]
    assert {name: source["version"] for name, source in sources.items()} == {
        "keystone": "28.0.1.dev1",  # one commit after the 28.0.0 release tag
        "nova": "32.0.0.0b2.dev2",  # after a milestone tag: its next pre-release
    }
    assert sources["keystone"]["url"] == keystone.as_uri()
    assert "keystone @ git+" in (requirements / "keystone-git.txt").read_text()
    constraints = (requirements / "constraints.txt").read_text()
    assert "keystone>=" not in constraints  # no series holds a trunk service back
    report = verify(pin_repo, index, "keystone", tmp_path)
    assert statuses(report)["keystone==28.0.1.dev1"] == "proven"
    assert statuses(report)["oslo-lite==1.0"] == "proven"


def test_the_trunk_mode_needs_its_section(pin_repo: Context) -> None:
    config = yaml.safe_load(pin_repo.config_file.read_text())
    config["release"] = {"series": "master", "version": "2026.2"}
    pin_repo.config_file.write_text(yaml.safe_dump(config))
    pin_repo.__dict__.pop("config", None)
    with pytest.raises(ToolkitError) as caught:
        _ = pin_repo.config
    assert caught.value.where.endswith(": trunk")
    assert "needs a trunk section" in caught.value.problem


def test_dropping_the_git_source_drops_its_record_and_a_broken_record_is_one_error(
    pin_repo: Context, index: PackageIndex, tmp_path: Path
) -> None:
    repo = make_project(tmp_path)
    use_git_source(pin_repo, repo)
    pin_python_deps(pin_repo, options(pin_repo, index))
    sources = pin_repo.repo_root / "requirements" / "git-sources.json"
    # a merge conflict in the record: one line, naming the file and the way out
    good = sources.read_text()
    sources.write_text("<<<<<<< HEAD\n" + good)
    with pytest.raises(ToolkitError) as caught:
        pin_python_deps(pin_repo, options(pin_repo, index))
    assert caught.value.where == "requirements/git-sources.json"
    assert "delete it" in caught.value.fix
    sources.write_text(good)
    # the policy removed: the package comes from its sdist again, the record goes
    index.add(Package("gitproj", "1.0.0"))
    config = yaml.safe_load(pin_repo.config_file.read_text())
    config["packages"] = {}
    pin_repo.config_file.write_text(yaml.safe_dump(config))
    pin_repo.__dict__.pop("config", None)
    pin_python_deps(pin_repo, options(pin_repo, index))
    assert not sources.exists()
    assert not (pin_repo.repo_root / "requirements" / "keystone-git.txt").exists()
    assert "gitproj==1.0.0" in (pin_repo.repo_root / "requirements" / "keystone.txt").read_text()


def test_a_package_moved_to_git_is_a_version_move_not_a_removal(
    pin_repo: Context, index: PackageIndex, tmp_path: Path
) -> None:
    index.add(Package("gitproj", "1.0.0"))
    requirements = pin_repo.repo_root / "requirements"
    requirements.mkdir(exist_ok=True)
    (requirements / "additions.in").write_text("gitproj  # images: keystone\n")
    pin_python_deps(pin_repo, options(pin_repo, index))
    use_git_source(pin_repo, make_project(tmp_path))
    result = pin_python_deps(pin_repo, options(pin_repo, index))
    assert "gitproj 1.0.0 → 1.0.1.dev1" in result.moves
    assert not [line for line in result.moves if line.endswith("(removed)")]

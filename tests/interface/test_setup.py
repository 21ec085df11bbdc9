"""`make` sets itself up on a fresh clone: an empty tcib submodule is fetched at its pinned
commit, and a submodule whose host is out of reach is one line with the other ways."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import FIXTURE_TREE, ConfigWriter, write_tree
from tcibsrc.interface.cli import main

# git refuses file:// submodules unless told; the test's repositories are local ones
LOCAL_SUBMODULES = {
    "GIT_CONFIG_COUNT": "1",
    "GIT_CONFIG_KEY_0": "protocol.file.allow",
    "GIT_CONFIG_VALUE_0": "always",
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@t",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@t",
}


def git(cwd: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", *args],
        cwd=cwd,
        env={**os.environ, **LOCAL_SUBMODULES},
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


@pytest.fixture
def fresh_clone(
    tmp_path: Path, write_config: ConfigWriter, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """A repository with TCIB as a submodule, cloned without --recurse-submodules."""
    for key, value in LOCAL_SUBMODULES.items():
        monkeypatch.setenv(key, value)
    tcib = tmp_path / "tcib-upstream"
    write_tree(tcib / "container-images", FIXTURE_TREE)
    git(tcib, "init", "-q", "-b", "main")
    git(tcib, "add", ".")
    git(tcib, "commit", "-q", "-m", "images")
    origin = tmp_path / "origin"
    origin.mkdir()
    git(origin, "init", "-q", "-b", "main")
    git(origin, "submodule", "add", "-q", str(tcib), "tcib")
    shutil.copy(write_config(), origin / "config.yaml")
    git(origin, "add", ".")
    git(origin, "commit", "-q", "-m", "toolkit")
    git(tmp_path, "clone", "-q", str(origin), "clone")
    clone = tmp_path / "clone"
    assert not any((clone / "tcib").iterdir())  # the submodule is empty
    monkeypatch.chdir(clone)
    monkeypatch.delenv("TCIB_DIR", raising=False)
    return clone


def test_an_empty_submodule_is_fetched_at_its_pinned_commit(
    fresh_clone: Path, capsys: pytest.CaptureFixture
) -> None:
    assert main(["summary"]) == 0
    captured = capsys.readouterr()
    assert "tcib: the submodule is empty; fetching it at its pinned commit" in captured.err
    assert "5 images: 2 requested" in captured.out
    pinned = git(fresh_clone, "ls-tree", "HEAD", "tcib").split()[2]
    assert git(fresh_clone / "tcib", "rev-parse", "HEAD") == pinned
    assert main(["summary"]) == 0  # the second run fetches nothing
    assert "fetching" not in capsys.readouterr().err


def test_a_submodule_out_of_reach_is_one_line_with_the_other_ways(
    fresh_clone: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    git(fresh_clone, "config", "submodule.tcib.url", str(tmp_path / "unreachable"))
    git(fresh_clone, "submodule", "init", "tcib")
    git(fresh_clone, "config", "submodule.tcib.url", str(tmp_path / "unreachable"))
    assert main(["summary"]) == 1
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(err) == 1
    assert err[0].startswith("error: tcib: the submodule could not be fetched (")
    assert err[0].endswith(
        "(reach its host, or point it at a mirror (git config submodule.tcib.url <url>), or set "
        "TCIB_DIR to a TCIB container-images directory)"
    )


def test_a_tcib_dir_given_is_never_fetched_over(
    fresh_clone: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TCIB_DIR", str(tmp_path / "elsewhere"))
    assert main(["summary"]) == 1
    err = capsys.readouterr().err
    assert "fetching" not in err and "TCIB directory not found" in err
    assert not any((fresh_clone / "tcib").iterdir())

"""Sets of generated files are written all or nothing: a failure while writing changes nothing,
a run killed while replacing is completed by the next one, and `make check` names what a killed
run left."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO_ROOT, shown
from tcibsrc.common.atomic import STAGING_DIR, WriteError, recover, replace_files
from tcibsrc.common.context import Context
from tcibsrc.interface.cli import main
from tcibsrc.interface.commands.check import check_leftovers


def tree(root: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and ".git" not in path.parts
    }


def start(root: Path) -> dict[str, str]:
    (root / "a").mkdir(parents=True)
    for name in ("a/one", "a/two", "three", "stale"):
        (root / name).write_text(f"old {name}\n")
    return {"a/one": "new one\n", "a/two": "new two\n", "three": "new three\n", "b/four": "4\n"}


def test_every_file_is_written_and_the_stale_ones_removed(tmp_path: Path) -> None:
    files = start(tmp_path)
    changed = replace_files(tmp_path, files, [tmp_path / "stale"])
    assert changed == ["a/one", "a/two", "b/four", "three", "stale (removed)"]
    assert tree(tmp_path) == {name: text.encode() for name, text in files.items()}
    assert replace_files(tmp_path, files, []) == []  # unchanged: nothing to do


def test_a_write_that_fails_midway_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = start(tmp_path)
    before = tree(tmp_path)
    real = os.replace
    calls = []

    def failing(source: object, target: object) -> None:
        calls.append(target)
        if len(calls) == 4:  # the journal, two files done, then a read-only filesystem
            raise OSError(errno.EROFS, "Read-only file system", str(target))
        real(source, target)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "replace", failing)
    with pytest.raises(WriteError) as caught:
        replace_files(tmp_path, files, [tmp_path / "stale"])
    assert caught.value.line().endswith(
        "cannot be written (Read-only file system) (nothing was changed)"
    )
    assert tree(tmp_path) == before
    assert not (tmp_path / STAGING_DIR).exists()


KILLED = """
import os, sys
from pathlib import Path
from tcibsrc.common.atomic import replace_files
real, calls = os.replace, []
def kill(source, target):
    calls.append(target)
    if len(calls) == 4:
        os._exit(9)  # killed: no cleanup, no rollback
    real(source, target)
os.replace = kill
root = Path(sys.argv[1])
files = {"a/one": "new one\\n", "a/two": "new two\\n", "three": "new three\\n", "b/four": "4\\n"}
replace_files(root, files, [root / "stale"])
"""


def test_a_run_killed_while_replacing_is_completed_by_the_next(tmp_path: Path) -> None:
    files = start(tmp_path)
    result = subprocess.run(
        [sys.executable, "-c", KILLED, str(tmp_path)],
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT / "scripts")},
        check=False,
    )
    assert result.returncode == 9
    assert (tmp_path / STAGING_DIR / "journal.json").is_file()
    assert tree(tmp_path)["a/one"] == b"new one\n"  # half done
    assert recover(tmp_path) == f"{STAGING_DIR}: an interrupted run's 5 changes were completed"
    assert tree(tmp_path) == {name: text.encode() for name, text in files.items()}


def test_check_names_what_a_killed_run_left(repo: Context) -> None:
    (repo.repo_root / STAGING_DIR).mkdir()
    (repo.repo_root / "containerfiles").mkdir()
    (repo.repo_root / "containerfiles" / ".Containerfile.abc.tmp").write_text("x")
    assert shown(check_leftovers(repo, {})) == [
        f"{STAGING_DIR}: left by an interrupted run (the next `make` completes or drops it)",
        "containerfiles/.Containerfile.abc.tmp: a temporary file left by an interrupted run "
        "(remove it)",
    ]


def test_a_render_that_fails_midway_leaves_the_tree_as_it_was(
    pinned_repo: Context, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    root = pinned_repo.repo_root
    monkeypatch.chdir(root)
    args = ["--config", str(pinned_repo.config_file), "--tcib-dir", str(pinned_repo.tcib_dir)]
    assert main([*args, "render"]) == 0
    # the next render changes every Containerfile (a new base image); the disk fills midway
    config = pinned_repo.config_file.read_text().replace("stream10", "stream10-new")
    pinned_repo.config_file.write_text(config)
    before = tree(root)
    real = os.replace
    calls = []

    def failing(source: object, target: object) -> None:
        calls.append(target)
        if len(calls) == 3:
            raise OSError(errno.ENOSPC, "No space left on device", str(target))
        real(source, target)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "replace", failing)
    capsys.readouterr()
    assert main([*args, "render"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "No space left on device" in err[0], err
    assert tree(root) == before

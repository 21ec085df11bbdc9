"""Reproducible pins: the index as of a cutoff (python.exclude_newer), moved by UPDATE=1 with a
cooldown; upper-constraints' own pins stand; a yanked locked release is named."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from pinfixtures import lock, options, snapshot
from pyindex import Package, PackageIndex
from tcibsrc.common.context import Context
from tcibsrc.common.errors import ToolkitError
from tcibsrc.interface.cli import main
from tcibsrc.python.pinning import pin_python_deps

CUTOFF = "2026-06-01T00:00:00Z"
BEFORE, AFTER = "2026-05-01T00:00:00Z", "2026-07-01T00:00:00Z"


def set_python(ctx: Context, **settings: str) -> None:
    """The config's python section, with the cutoff settings given."""
    config = yaml.safe_load(ctx.config_file.read_text())
    config["python"] = {"version": "3.12", **settings}
    ctx.config_file.write_text(yaml.safe_dump(config, sort_keys=False))
    ctx.__dict__.pop("config", None)


def want(ctx: Context, line: str) -> None:
    additions = ctx.repo_root / "requirements" / "additions.in"
    additions.parent.mkdir(parents=True, exist_ok=True)
    additions.write_text(f"{line}  # images: keystone\n")


@pytest.fixture
def late_lib(pin_repo: Context, index: PackageIndex) -> Context:
    """late-lib 1.0 and 1.1 before the cutoff, 2.0 after it."""
    index.add(Package("late-lib", "1.0"), Package("late-lib", "1.1"), Package("late-lib", "2.0"))
    index.upload_times.update(
        {"late_lib-1.0.tar.gz": BEFORE, "late_lib-1.1.tar.gz": BEFORE, "late_lib-2.0.tar.gz": AFTER}
    )
    want(pin_repo, "late-lib")
    return pin_repo


def test_the_pins_see_the_index_as_of_the_cutoff(late_lib: Context, index: PackageIndex) -> None:
    pin_python_deps(late_lib, options(late_lib, index))
    assert lock(late_lib, "keystone.txt")["late-lib"].version == "2.0"  # no cutoff: the newest
    set_python(late_lib, exclude_newer=CUTOFF)
    result = pin_python_deps(late_lib, options(late_lib, index))  # the cutoff is an input
    assert not result.up_to_date
    assert lock(late_lib, "keystone.txt")["late-lib"].version == "1.1"
    assert result.moves == ["late-lib 2.0 → 1.1"]


def test_a_forced_re_pin_from_empty_caches_gives_the_same_bytes_after_new_uploads(
    late_lib: Context, index: PackageIndex, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_python(late_lib, exclude_newer=CUTOFF)
    pin_python_deps(late_lib, options(late_lib, index))
    before = snapshot(late_lib.repo_root / "requirements")
    # days later: new releases of a runtime package and of a build tool
    index.add(Package("late-lib", "1.2"), Package("flit-lite", "1.1"))
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    index.upload_times.update({"late_lib-1.2.tar.gz": now, "flit_lite-1.1.tar.gz": now})
    for cache in ("uv-cache", "tcibsrc-cache"):  # every cache empty
        shutil.rmtree(tmp_path / cache, ignore_errors=True)
    monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path / "uv-cache"))
    monkeypatch.setenv("TCIBSRC_CACHE", str(tmp_path / "tcibsrc-cache"))
    result = pin_python_deps(late_lib, options(late_lib, index, force=True))
    assert result.changed == [] and result.moves == []
    assert snapshot(late_lib.repo_root / "requirements") == before


def test_pip_compile_sees_the_same_index_as_of_the_cutoff(
    late_lib: Context, index: PackageIndex
) -> None:
    set_python(late_lib, exclude_newer=CUTOFF)
    pin_python_deps(late_lib, options(late_lib, index))
    with_uv = snapshot(late_lib.repo_root / "requirements")
    result = pin_python_deps(late_lib, options(late_lib, index, resolver="pip-compile", force=True))
    assert result.changed == []
    assert snapshot(late_lib.repo_root / "requirements") == with_uv


def test_a_version_upper_constraints_pins_stands_after_the_cutoff_and_is_said(
    pin_repo: Context, index: PackageIndex
) -> None:
    set_python(pin_repo, exclude_newer=CUTOFF)
    index.upload_times["pymemcache-4.0.0.tar.gz"] = AFTER  # upper-constraints pins 4.0.0
    result = pin_python_deps(pin_repo, options(pin_repo, index))
    assert lock(pin_repo, "os.txt")["pymemcache"].version == "4.0.0"
    assert result.notes == [
        "1 versions that upper-constraints pins were uploaded after the cutoff "
        "(pymemcache==4.0.0): kept, upper-constraints is itself a pin"
    ]


def test_an_index_without_upload_times_is_one_line(late_lib: Context, index: PackageIndex) -> None:
    set_python(late_lib, exclude_newer=CUTOFF)
    index.serve_json = False  # PEP 503 HTML has no upload times
    with pytest.raises(ToolkitError) as caught:
        pin_python_deps(late_lib, options(late_lib, index, resolver="pip-compile"))
    line = caught.value.line()
    assert "gives no upload time (PEP 700)" in line, line
    assert "set python.exclude_newer: null" in line
    assert not (late_lib.repo_root / "requirements" / "all.txt").exists()


def test_a_yanked_locked_release_is_named_with_its_reason(
    late_lib: Context, index: PackageIndex
) -> None:
    set_python(late_lib, exclude_newer=CUTOFF)
    pin_python_deps(late_lib, options(late_lib, index))
    index.yanked["late_lib-1.1.tar.gz"] = "breaks the token cache"
    result = pin_python_deps(late_lib, options(late_lib, index, force=True))
    assert lock(late_lib, "keystone.txt")["late-lib"].version == "1.0"
    assert result.notes == [
        "late-lib==1.1 was yanked since it was locked: breaks the token cache; the pins moved to "
        "1.0 (hold it with packages.late-lib.version: '==1.1' in config.yaml: a yanked release "
        "stays installable when pinned exactly)"
    ]


def test_update_moves_the_cutoff_to_now_less_the_cooldown_and_says_what_moved(
    late_lib: Context,
    index: PackageIndex,
    capsys: pytest.CaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    set_python(late_lib, exclude_newer=CUTOFF, minimum_release_age="3 days")
    pin_python_deps(late_lib, options(late_lib, index))
    index.add(Package("late-lib", "2.1"))
    fresh = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    index.upload_times["late_lib-2.1.tar.gz"] = fresh  # younger than the cooldown
    monkeypatch.chdir(late_lib.repo_root)
    monkeypatch.setenv("UPPER_CONSTRAINTS", str(late_lib.repo_root / "upper-constraints.txt"))
    monkeypatch.setenv("INDEX_URL", index.url)
    started = datetime.now(UTC)
    args = ["--config", str(late_lib.config_file), "--tcib-dir", str(late_lib.tcib_dir)]
    assert main([*args, "pin-python-deps", "--update"]) == 0
    out = capsys.readouterr().out
    assert "what moved (1 packages):\n  late-lib 1.1 → 2.0\n" in out  # 2.1 waits its 3 days
    written = yaml.safe_load(late_lib.config_file.read_text())["python"]["exclude_newer"]
    moved_to = datetime.fromisoformat(written.replace("Z", "+00:00"))
    assert (
        started - timedelta(days=3, seconds=5)
        <= moved_to
        <= started - timedelta(days=3) + (timedelta(seconds=60))
    )
    assert f"python.exclude_newer set to {written}" in out
    assert main([*args, "pin-python-deps"]) == 0  # the config and the locks agree
    assert "up to date" in capsys.readouterr().out

"""Bad inputs never spread: every input is validated before render, pipelines or pin write."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pinfixtures import options
from pyindex import PackageIndex
from tcibsrc.common.context import Context
from tcibsrc.common.errors import ToolkitError
from tcibsrc.interface.cli import main
from tcibsrc.python.pinning import pin_python_deps


def tree(root: Path) -> dict[str, bytes]:
    """Every file under `root` (the whole scratch repository), to prove nothing changed."""
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def cli(ctx: Context, *args: str) -> int:
    return main(["--config", "config.yaml", "--tcib-dir", "container-images", *args])


@pytest.fixture
def generated(
    pinned_repo: Context, index: PackageIndex, monkeypatch: pytest.MonkeyPatch
) -> Context:
    """A scratch repository with locks, Containerfiles and .tekton/ written by the toolkit."""
    monkeypatch.chdir(pinned_repo.repo_root)
    monkeypatch.setenv("INDEX_URL", index.url)  # the locks record the index they came from
    for command in ("render", "pipelines", "graph"):
        assert cli(pinned_repo, command) == 0
    return pinned_repo


def set_series(ctx: Context, series: str) -> None:
    data = yaml.safe_load(ctx.config_file.read_text())
    data["release"]["series"] = series
    ctx.config_file.write_text(yaml.safe_dump(data, sort_keys=False))


@pytest.mark.parametrize("command", ["render", "pipelines", "pin-python-deps"])
def test_an_unknown_series_stops_before_any_file_is_written(
    generated: Context, capsys: pytest.CaptureFixture, command: str
) -> None:
    set_series(generated, "zzz")
    before = tree(generated.repo_root)
    capsys.readouterr()
    assert cli(generated, command) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "error: config.yaml: release.series: no release-series data for 'zzz' (known: epoxy, "
        "flamingo, gazpacho) "
        "(fix the name, or generate the data with `make update-series RELEASES_DIR=<openstack/"
        "releases checkout>`; nothing was written)"
    ]
    assert tree(generated.repo_root) == before


def test_check_reports_an_unknown_series_once(
    generated: Context, capsys: pytest.CaptureFixture
) -> None:
    set_series(generated, "zzz")
    capsys.readouterr()
    assert cli(generated, "check") == 1
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error")]
    assert len(errors) == 1 and "release.series: no release-series data for 'zzz'" in errors[0]


def remove_first_hash(lock: Path) -> None:
    """Hand-edit a lock as a packager might: drop the --hash of its first entry."""
    lines = lock.read_text().splitlines()
    first = next(i for i, line in enumerate(lines) if line.endswith(" \\"))
    lines[first] = lines[first].removesuffix(" \\")
    del lines[first + 1]
    lock.write_text("\n".join(lines) + "\n")


def test_a_hand_edited_lock_is_never_copied_into_a_build_context(
    generated: Context, capsys: pytest.CaptureFixture
) -> None:
    lock = generated.repo_root / "requirements" / "keystone.txt"
    remove_first_hash(lock)
    before = tree(generated.repo_root)
    capsys.readouterr()
    for command in ("render", "pipelines"):
        assert cli(generated, command) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1, err
        assert err[0].startswith("error: requirements/keystone.txt:")
        assert "run `make pin-python-deps FORCE=1`" in err[0]
        assert "nothing was written" in err[0]
    assert tree(generated.repo_root) == before
    # check names the lock, and no hint points at a command that would copy it
    assert cli(generated, "check") == 1
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error")]
    assert errors, "check must fail on a hashless lock"
    assert all("requirements/keystone.txt" in line for line in errors), errors
    assert not any("run `make`" in line or "(run `make render`)" in line for line in errors)
    assert any("FORCE=1" in line for line in errors)


def test_pin_notices_a_hand_edit_and_force_replaces_it(
    generated: Context, index: PackageIndex, capsys: pytest.CaptureFixture
) -> None:
    lock = generated.repo_root / "requirements" / "keystone.txt"
    made = lock.read_text()
    lock.write_text(made.replace("ldappool==3.0.0", "ldappool==3.0.1"))
    with pytest.raises(ToolkitError) as caught:
        pin_python_deps(generated, options(generated, index))
    assert caught.value.line().startswith("requirements/keystone.txt: edited by hand")
    assert "FORCE=1" in caught.value.line()
    pin_python_deps(generated, options(generated, index, force=True))
    assert lock.read_text() == made


def test_an_invalid_addition_names_the_users_file_and_line(
    generated: Context, capsys: pytest.CaptureFixture
) -> None:
    additions = generated.repo_root / "requirements" / "additions.in"
    additions.write_text("# extras\npymemcache\n\nfoo====\n")
    before = tree(generated.repo_root)
    capsys.readouterr()
    for command in ("render", "pin-python-deps"):
        assert cli(generated, command) == 1
        err = capsys.readouterr().err.strip()
        assert err.startswith(
            "error: requirements/additions.in:4: invalid requirement 'foo====': "
            "'===' is not supported"
        ), err
        assert "tcibsrc-pin-" not in err and "named above" not in err
    assert tree(generated.repo_root) == before

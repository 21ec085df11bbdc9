"""make new-series: the config moved to another series in one step, re-pinned, or left as it was."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import yaml

from pinfixtures import UPPER_CONSTRAINTS
from pyindex import Package, PackageIndex
from tcibsrc.common.context import Context
from tcibsrc.interface.cli import main

COMMIT = "0e88245f541e4c82e3b0cf4b63cf50d7b7322d46"


def flamingo_constraints(tmp_path: Path) -> Path:
    """The fixture's upper-constraints as flamingo's branch has it (its client release)."""
    path = tmp_path / "flamingo-uc.txt"
    path.write_text(
        UPPER_CONSTRAINTS.replace("python-keystoneclient===5.6.0", "python-keystoneclient===5.7.0")
    )
    return path


def new_series(ctx: Context, *arguments: str) -> int:
    return main(
        [
            "--config",
            str(ctx.config_file),
            "--tcib-dir",
            str(ctx.tcib_dir),
            "new-series",
            *arguments,
        ]
    )


def test_the_config_moves_to_the_series_and_the_locks_follow(
    pin_repo: Context,
    index: PackageIndex,
    tmp_path: Path,
    capsys: pytest.CaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("INDEX_URL", index.url)
    monkeypatch.chdir(pin_repo.repo_root)
    index.add(
        Package("keystone", "28.0.2", requires=["oslo-lite"], build_requires=["pbr-lite"]),
        Package("nova", "32.2.1", requires=["oslo-lite"], build_requires=["pbr-lite"]),
        Package(
            "python-keystoneclient",
            "5.7.0",
            requires=["oslo-lite"],
            dynamic_requires=["hook-helper"],
        ),
    )
    uc = flamingo_constraints(tmp_path)
    before = pin_repo.config_file.read_text()
    assert (
        new_series(pin_repo, "flamingo", "--upper-constraints", str(uc), "--uc-commit", COMMIT) == 0
    )
    out = capsys.readouterr().out
    config = yaml.safe_load(pin_repo.config_file.read_text())
    assert config["release"] == {"series": "flamingo", "version": "2025.2"}
    assert config["upper_constraints"] == {
        "url": f"https://opendev.org/openstack/requirements/raw/commit/{COMMIT}/upper-constraints.txt",
        "sha256": hashlib.sha256(uc.read_bytes()).hexdigest(),
    }
    assert config["konflux"]["application"] == "openstack-flamingo-centos10"
    assert config["konflux"]["branch"] == "stable/2025.2"
    assert "release.series: epoxy → flamingo" in out
    lock = (pin_repo.repo_root / "requirements" / "keystone.txt").read_text()
    assert "keystone==28.0.2" in lock and "python-keystoneclient==5.7.0" in lock
    assert pin_repo.config_file.read_text() != before


def test_a_failed_pin_leaves_the_config_as_it_was(
    pin_repo: Context,
    index: PackageIndex,
    tmp_path: Path,
    capsys: pytest.CaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("INDEX_URL", index.url)
    monkeypatch.chdir(pin_repo.repo_root)
    before = pin_repo.config_file.read_text()
    # epoxy's client in flamingo's file: the series check refuses it after the config moved
    uc = tmp_path / "wrong.txt"
    uc.write_text(UPPER_CONSTRAINTS)
    assert (
        new_series(pin_repo, "flamingo", "--upper-constraints", str(uc), "--uc-commit", COMMIT) == 1
    )
    assert "python-keystoneclient 5.6.0" in capsys.readouterr().err
    assert pin_repo.config_file.read_text() == before


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["hibiscus"], "hibiscus (2026.2) is development in openstack/releases"),
        (["zed"], "no release-series data for it"),
        (["flamingo"], "needs upper-constraints of the series"),
        (["flamingo", "--upper-constraints", "/nonexistent"], "not a file"),
    ],
)
def test_a_series_that_cannot_be_built_is_one_line(
    pin_repo: Context, capsys: pytest.CaptureFixture, arguments: list[str], message: str
) -> None:
    before = pin_repo.config_file.read_text()
    assert new_series(pin_repo, *arguments) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert pin_repo.config_file.read_text() == before


def test_a_local_copy_is_matched_to_its_branch_head(
    pin_repo: Context, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """The toolkit knows openstack/requirements' branch heads by the sha256 of their file."""
    uc = tmp_path / "not-a-known-head.txt"
    uc.write_text("pbr===7.0.0\n")
    assert new_series(pin_repo, "flamingo", "--upper-constraints", str(uc)) == 1
    assert "UC_COMMIT=" in capsys.readouterr().err


def test_hostile_uc_commit(
    pin_repo: Context, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    uc = flamingo_constraints(tmp_path)
    assert (
        new_series(
            pin_repo, "flamingo", "--upper-constraints", str(uc), "--uc-commit", "main; rm -rf /"
        )
        == 1
    )
    assert "not a full commit" in capsys.readouterr().err

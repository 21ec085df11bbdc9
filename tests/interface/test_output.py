"""Output fit for a terminal and for pipes; counts that add up; the tools check of make test."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REFERENCE_TCIB, REPO_ROOT
from tcibsrc.common.context import Context
from tcibsrc.common.errors import warning
from tcibsrc.interface.cli import main
from tcibsrc.interface.commands.check import warning_lines

reference = pytest.mark.skipif(
    not REFERENCE_TCIB.is_dir(), reason="the reference TCIB tree is not beside the repository"
)


def run(ctx: Context, *args: str) -> int:
    return main(["--config", str(ctx.config_file), "--tcib-dir", str(ctx.tcib_dir), *args])


def test_all_images_say_what_the_distro_leaves_out(
    repo: Context, capsys: pytest.CaptureFixture
) -> None:
    assert run(repo, "images", "--all", "--format", "json") == 0
    captured = capsys.readouterr()
    names = [entry["name"] for entry in json.loads(captured.out)]  # stdout stays JSON
    assert "redis" not in names and "valkey" in names
    tcib_total = len(list((repo.tcib_dir / "tcib").rglob("*.y*ml"))) - 1  # horizon has two
    assert captured.err.splitlines() == [
        f"{len(names)} of the {tcib_total} TCIB images",
        "note: redis is not built on release 10: TCIB excludes it there and builds valkey instead",
    ]
    assert len(names) == tcib_total - 1


def test_the_default_table_fits_100_columns_and_wide_has_every_column(
    repo: Context, capsys: pytest.CaptureFixture
) -> None:
    assert run(repo, "images") == 0
    narrow = capsys.readouterr().out
    assert max(len(line) for line in narrow.splitlines()) <= 100
    assert narrow.splitlines()[0].split() == [
        "image",
        "parent",
        "user",
        "(uid)",
        "Python",
        "projects",
    ]
    assert run(repo, "images", "--wide") == 0
    wide = capsys.readouterr().out.splitlines()[0]
    for header in ("service users", "kept RPMs", "customContainerImages"):
        assert header in wide


@reference
@pytest.mark.parametrize("args", [[], ["--all"]])
def test_the_reference_tables_fit_100_columns(
    capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    monkeypatch.chdir(REPO_ROOT)
    assert main(["--tcib-dir", str(REFERENCE_TCIB), "images", *args]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert max(len(line) for line in lines) <= 100
    # every Python project of openstackclient is listed, wrapped over several lines
    start = next(i for i, line in enumerate(lines) if line.startswith("openstackclient"))
    end = next(i for i in range(start + 1, len(lines)) if not lines[i].startswith(" "))
    column = lines[0].index("Python projects")
    block = " ".join(line[column:] for line in lines[start:end])
    assert "python-ironic-inspector-client," in block and "python-watcherclient" in block


def test_check_prints_errors_first_then_serious_warnings_then_groups() -> None:
    warnings = [
        warning(
            f"containerfiles/{name}/Containerfile:3",
            f"quay.io/x/{name} has a placeholder digest (the image has not been built yet)",
        )
        for name in ("a", "b", "c")
    ]
    warnings.insert(1, warning("x/Containerfile", "hadolint: DL3008 pin versions"))
    warnings.append(
        warning(
            "rpms.lock.yaml",
            "missing: every PipelineRun prefetches it, so Konflux builds fail until "
            "`make lock-rpms` has made it",
        )
    )
    lines = warning_lines(warnings, verbose=False)
    assert lines == [
        f"warning: {warnings[-1]}",  # a build will fail: first
        "warning: x/Containerfile: hadolint: DL3008 pin versions",
        "warning: 3 FROM lines wait for their parent's first build (placeholder digests; "
        "Konflux nudges write the digests) (VERBOSE=1 lists them)",
    ]
    assert len(warning_lines(warnings, verbose=True)) == 5


@reference
def test_make_check_on_the_repository_puts_the_missing_rpm_lock_first(
    capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch, repository_data: None
) -> None:
    monkeypatch.chdir(REPO_ROOT)
    assert main(["--tcib-dir", str(REFERENCE_TCIB), "check"]) == 0
    err = capsys.readouterr().err.splitlines()
    if (REPO_ROOT / "rpms.lock.yaml").is_file():
        assert not any("rpms.lock.yaml: missing" in line for line in err)
    else:
        assert err[0].startswith("warning: rpms.lock.yaml: missing")
    assert not any("has a placeholder digest" in line for line in err)
    grouped = [line for line in err if "FROM lines wait for their parent's first build" in line]
    assert len(grouped) == 1
    # the images the config builds with the network on: reported by the policy check, each
    # with the config's reason, as warnings
    open_network = [line for line in err if "the config builds" in line]
    assert len(open_network) == 4 and all(line.startswith("warning: ") for line in open_network)
    assert len(err) - len(open_network) <= 5


@reference
@pytest.mark.parametrize(("scope", "count", "requested"), [(None, 103, 85), ("minimal", 21, 16)])
def test_make_images_json_is_json_through_make(
    scope: str | None, count: int, requested: int
) -> None:
    """Every image of the config, or a subset of it with SCOPE= given to make."""
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "SCOPE")}
    result = subprocess.run(
        [
            "make",
            "-s",
            "images",
            "FORMAT=json",
            f"TCIB_DIR={REFERENCE_TCIB}",
            *([f"SCOPE={scope}"] if scope else []),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)) == count
    note = f"{count} images ({requested} requested); * = added as the parent of an image in scope"
    assert note in result.stderr.splitlines()


def test_make_help_rows_are_aligned() -> None:
    result = subprocess.run(
        ["make", "-s", "help", "TCIB_DIR=tcib/container-images"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    rows = [line for line in result.stdout.splitlines() if not line.startswith("  variables")]
    targets = {line.split()[0] for line in rows}
    assert {"test", "test-tools", "verify-hermetic", "pin-python-deps", "images"} <= targets
    columns = {re.match(r"  \S+\s+", line).end() for line in rows}  # type: ignore[union-attr]
    assert len(columns) == 1, rows


def test_the_tools_check_lists_what_is_missing_with_both_install_commands(
    tmp_path: Path,
) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "tcibsrc.interface.tools_check", "test"],
        env={"PATH": str(empty), "PYTHONPATH": str(REPO_ROOT / "scripts")},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 1
    err = result.stderr
    assert err.startswith("make test needs system tools that are not installed:")
    for tool in ("rpmbuild", "createrepo_c", "gpg", "dot", "unshare", "cargo", "memcached"):
        assert f"  {tool} " in err
    assert "Debian/Ubuntu:  sudo apt-get install rpm createrepo-c gnupg" in err
    assert "Fedora/CentOS:  sudo dnf install rpm-build createrepo_c gnupg2" in err
    present = subprocess.run(
        [sys.executable, "-m", "tcibsrc.interface.tools_check", "test"],
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT / "scripts")},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert present.returncode == 0, present.stderr  # this machine has them all (make test ran)


def test_a_dynamically_linked_busybox_counts_as_missing(tmp_path: Path) -> None:
    """The tests' empty images have no dynamic loader: only a static busybox runs there."""
    dynamic = tmp_path / "bin"
    dynamic.mkdir()
    (dynamic / "busybox").symlink_to(shutil.which("ls") or "/bin/ls")  # any dynamic executable
    result = subprocess.run(
        [sys.executable, "-m", "tcibsrc.interface.tools_check", "test"],
        env={"PATH": f"{dynamic}:{os.environ['PATH']}", "PYTHONPATH": str(REPO_ROOT / "scripts")},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 1
    assert "  busybox " in result.stderr and "(statically linked)" in result.stderr
    assert "sudo apt-get install busybox-static" in result.stderr

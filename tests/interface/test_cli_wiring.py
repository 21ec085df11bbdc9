"""The documented commands through the CLI, with the documented variables (not arguments)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from pyindex import PackageIndex
from tcibsrc.common.context import Context
from tcibsrc.interface.cli import main


@pytest.fixture
def in_repo(pin_repo: Context, index: PackageIndex, monkeypatch: pytest.MonkeyPatch) -> Context:
    """The scratch repository as the Makefile runs the CLI: cwd, and every knob exported."""
    monkeypatch.chdir(pin_repo.repo_root)
    monkeypatch.setenv("CONFIG", "config.yaml")
    monkeypatch.setenv("TCIB_DIR", "container-images")
    monkeypatch.setenv("INDEX_URL", index.url)
    monkeypatch.setenv("UPPER_CONSTRAINTS", "upper-constraints.txt")
    return pin_repo


def test_pin_render_pipelines_affected_and_check_through_the_cli(
    in_repo: Context, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    root = in_repo.repo_root
    monkeypatch.setenv("RESOLVER", "no-such-resolver")
    assert main(["pin-python-deps"]) == 1
    assert capsys.readouterr().err.strip() == (
        "error: RESOLVER=no-such-resolver: unknown resolver (use one of: uv, pip-compile)"
    )
    monkeypatch.setenv("RESOLVER", "uv")
    assert main(["pin-python-deps"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("requirements/: 6 runtime pins, 4 build pins (+1 alternative versions)")
    # the locks record the index given by INDEX_URL
    assert main(["pin-python-deps"]) == 0
    assert capsys.readouterr().out.startswith("requirements/: up to date")
    for command in ("render", "pipelines", "graph"):
        assert main([command, *(["--no-svg"] if command == "graph" else [])]) == 0
    assert (root / "containerfiles" / "keystone" / "Containerfile").is_file()
    assert (root / ".tekton" / "keystone-centos10-epoxy-push.yaml").is_file()
    capsys.readouterr()
    assert main(["affected", "requirements/keystone.txt"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "1 changed file(s)",
        "pull_request:",
        "  keystone-centos10-epoxy-on-pull-request",
        "push:",
        "  keystone-centos10-epoxy-on-push",
    ]
    # placeholder digests are warnings; STRICT=1 makes them errors
    main(["check"])
    err = capsys.readouterr().err.splitlines()
    assert any("FROM lines wait for their parent's first build" in line for line in err)
    assert not any(line.startswith("error") and "placeholder" in line for line in err)
    monkeypatch.setenv("STRICT", "1")
    assert main(["check"]) == 1
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error")]
    assert any("has a placeholder digest" in line for line in errors)


def test_images_as_markdown(repo: Context, capsys: pytest.CaptureFixture) -> None:
    args = ["--config", str(repo.config_file), "--tcib-dir", str(repo.tcib_dir)]
    assert main([*args, "images", "--format", "markdown"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == (
        "| image | parent | user (uid) | service users | kept RPMs | Python projects "
        "| customContainerImages |"
    )
    assert lines[1] == "|---|---|---|---|---|---|---|"
    keystone = next(line for line in lines if line.startswith("| keystone |"))
    assert keystone == (
        "| keystone | os | root (0) | keystone (42425) | httpd, python3-mod_wsgi "
        "| keystone, ldappool | keystoneAPIImage |"
    )


def test_the_graph_is_also_an_svg(
    repo: Context, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(repo.repo_root)
    if shutil.which("dot") is None:
        pytest.fail("graphviz (dot) is not installed: make test-tools", pytrace=False)
    args = ["--config", str(repo.config_file), "--tcib-dir", str(repo.tcib_dir)]
    assert main([*args, "graph"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "wrote docs/image-graph.svg"
    svg = (repo.repo_root / "docs" / "image-graph.svg").read_text()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    for image in ("base", "os", "keystone", "nova-base", "nova-api"):
        assert f">{image.replace('-', '&#45;')}" in svg, image


def test_update_series_reads_an_openstack_releases_checkout(
    repo: Context, capsys: pytest.CaptureFixture, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(repo.repo_root)
    releases = tmp_path / "releases"
    deliverables = releases / "deliverables" / "epoxy"
    deliverables.mkdir(parents=True)
    (deliverables / "keystone.yaml").write_text(
        yaml.safe_dump(
            {
                "type": "service",
                "releases": [
                    {"version": "27.0.0.0rc1"},
                    {"version": "27.0.0"},
                    {"version": "27.0.1"},
                ],
                "repository-settings": {"openstack/keystone": {}},
            }
        )
    )
    (deliverables / "heat.yaml").write_text(
        yaml.safe_dump(
            {
                "type": "service",
                "releases": [{"version": "24.0.0"}],
                "repository-settings": {"openstack/heat": {}},
            }
        )
    )
    (deliverables / "oslo.db.yaml").write_text(
        yaml.safe_dump(
            {
                "type": "library",
                "releases": [{"version": "17.2.0"}],
                "repository-settings": {"openstack/oslo.db": {"tarball-base": "oslo.db"}},
            }
        )
    )
    (deliverables / "unreleased.yaml").write_text(yaml.safe_dump({"type": "other"}))
    (releases / "COMMIT").write_text("openstack/releases 0123abcd\n")
    (releases / "data").mkdir()
    (releases / "data" / "series_status.yaml").write_text(
        "- {name: hibiscus, release-id: 2026.2, status: development}\n"
        "- {name: epoxy, release-id: 2025.1, status: maintained}\n"
    )
    args = ["--config", str(repo.config_file), "--tcib-dir", str(repo.tcib_dir)]
    assert main([*args, "update-series", str(releases)]) == 0
    written = repo.repo_root / "scripts/tcibsrc/data/series/epoxy.yaml"
    assert capsys.readouterr().out.strip() == (
        "scripts/tcibsrc/data/series/epoxy.yaml: 3 deliverables, updated"
    )
    data = yaml.safe_load(written.read_text())
    assert data["series"] == "epoxy" and data["source"] == "openstack/releases 0123abcd"
    assert (data["release"], data["status"]) == ("2025.1", "maintained")
    assert data["deliverables"] == {
        "keystone": {
            "type": "service",
            "repo": "openstack/keystone",
            "versions": ["27.0.0", "27.0.1"],
        },
        # the PyPI name differs from the repository's
        "openstack-heat": {"type": "service", "repo": "openstack/heat", "versions": ["24.0.0"]},
        "oslo.db": {"type": "library", "repo": "openstack/oslo.db", "versions": ["17.2.0"]},
    }
    assert main([*args, "update-series", str(tmp_path / "nowhere")]) == 1
    assert "RELEASES_DIR must be an openstack/releases checkout" in capsys.readouterr().err
    # a series still in development has pre-releases only: refused, never half-built
    assert main([*args, "update-series", str(releases), "--series", "hibiscus"]) == 1
    assert "hibiscus: is development in openstack/releases" in capsys.readouterr().err


def test_rpms_additions_join_the_rpm_inputs(pinned_repo: Context) -> None:
    from tcibsrc.containers.render import render_files

    rpms_in = yaml.safe_load(render_files(pinned_repo)["rpms.in.yaml"])
    assert "tmux" not in rpms_in["packages"]
    additions = "# tools for debugging\ntmux\nstrace\n"
    (pinned_repo.repo_root / "rpms.additions.txt").write_text(additions)
    rpms_in = yaml.safe_load(render_files(pinned_repo)["rpms.in.yaml"])
    assert {"tmux", "strace"} <= set(rpms_in["packages"])
    assert "# tools for debugging" not in rpms_in["packages"]


def test_verify_hermetic_through_the_cli(in_repo: Context, capsys: pytest.CaptureFixture) -> None:
    assert main(["pin-python-deps"]) == 0
    assert main(["render"]) == 0
    capsys.readouterr()
    assert main(["verify-hermetic", "--image", "nova-api", "--no-install", "--jobs", "2"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["package", "role", "backend", "seconds", "status", "note"]
    rows = {line.split()[0]: line.split() for line in out[2:] if "==" in line.split("  ")[0]}
    assert set(rows) == {
        "nova==31.3.1",
        "oslo-lite==1.0",
        "pymemcache==4.0.0",
        "python-keystoneclient==5.6.0",
        "pbr-lite==1.0",
        "flit-lite==1.0",
        "setuptools-lite==3.0",
        "hook-helper==1.0",
    }
    assert all(row[4] == "proven" for row in rows.values())
    summary = out[-1]
    assert summary.startswith(
        "nova-api: 8 proven, 0 from their prefetched wheels (install: wheel), 0 failed, "
        "0 not provable here; network off"
    )
    assert summary.endswith("report build/verify-hermetic/nova-api.json")
    report = json.loads((in_repo.repo_root / "build/verify-hermetic/nova-api.json").read_text())
    assert report["image"] == "nova-api"
    assert {row["package"]: row["status"] for row in report["packages"]} == dict.fromkeys(
        rows, "proven"
    )
    assert report["system_packages"] == {"debian": [], "missing": []}  # all pure Python
    assert not list((in_repo.repo_root / "build" / "hermetic").glob("nova-api-*"))  # cleaned

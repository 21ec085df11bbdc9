"""The CLI end to end on a scratch repository: summary, images, graph, check, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import ConfigWriter, write_tree
from tcibsrc.common.context import Context
from tcibsrc.interface.cli import main
from tcibsrc.tcib.catalog import build_catalog


def run(ctx: Context, *args: str) -> int:
    return main(["--config", str(ctx.config_file), "--tcib-dir", str(ctx.tcib_dir), *args])


@pytest.fixture(autouse=True)
def _in_repo(repo: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(repo.repo_root)


def test_catalog_of_the_fixture(repo: Context) -> None:
    catalog = build_catalog(repo)
    keystone = catalog.images["keystone"]
    assert keystone.kept_rpms == ("httpd", "python3-mod_wsgi")
    assert keystone.source_rpms == ("openstack-keystone", "python3-ldappool")
    assert keystone.python_projects == ("keystone", "ldappool")
    assert keystone.user == "root" and keystone.user_uid == 0
    assert [(u.name, u.uid) for u in keystone.service_users] == [("keystone", 42425)]
    assert keystone.operator_keys == ("keystoneAPIImage",)
    assert keystone.repository == "quay.io/example/sig/keystone-centos10-epoxy"
    assert keystone.from_reference == "quay.io/example/sig/os-centos10-epoxy"
    nova_api = catalog.images["nova-api"]
    assert (nova_api.user, nova_api.user_uid) == ("nova", 42436)
    assert catalog.images["os"].python_projects == ("pymemcache", "python-keystoneclient")
    assert not catalog.images["os"].requested


def test_summary_reports_scope_and_projects(repo: Context, capsys: pytest.CaptureFixture) -> None:
    assert run(repo, "summary") == 0
    out = capsys.readouterr().out
    assert "5 images: 2 requested, 3 parents added (base, os, nova-base)" in out
    assert "5 projects built from source in 4 images" in out


def test_images_table_and_json(repo: Context, capsys: pytest.CaptureFixture) -> None:
    assert run(repo, "images") == 0
    table = capsys.readouterr().out
    assert "nova-base *" in table
    assert "keystone (42425)" not in table  # service users: only with --wide
    assert run(repo, "images", "--wide") == 0
    assert "keystone (42425)" in capsys.readouterr().out
    assert run(repo, "images", "--format", "json") == 0
    payload = json.loads(capsys.readouterr().out)
    assert [entry["name"] for entry in payload] == [
        "base",
        "os",
        "keystone",
        "nova-base",
        "nova-api",
    ]
    assert run(repo, "images", "--all", "--format", "json") == 0
    names = {entry["name"] for entry in json.loads(capsys.readouterr().out)}
    assert "valkey" in names and "redis" not in names  # release 10


def test_graph_writes_the_readme_and_check_sees_drift(
    repo: Context, capsys: pytest.CaptureFixture
) -> None:
    readme = repo.repo_root / "README.md"
    assert run(repo, "check") == 1
    assert "image graph is out of date (run `make graph`)" in capsys.readouterr().err
    assert run(repo, "graph", "--no-svg") == 0
    text = readme.read_text()
    assert "img_os --> img_keystone" in text
    assert "img_nova_base --> img_nova_api" in text
    assert 'distro_base[("quay.io/centos/centos:stream10")]' in text
    assert run(repo, "graph", "--no-svg") == 0
    assert "already up to date" in capsys.readouterr().out
    assert readme.read_text() == text  # deterministic
    run(repo, "check")
    err = capsys.readouterr().err
    assert "image graph" not in err
    # what remains is only that this scratch repository was never pinned
    assert [line for line in err.splitlines() if line.startswith("error")] == [
        "error: requirements/constraints.txt: missing (run `make pin-python-deps`)"
    ]


def test_check_reports_every_unclassified_name_in_the_whole_tree(
    repo: Context, capsys: pytest.CaptureFixture
) -> None:
    run(repo, "graph", "--no-svg")
    write_tree(
        repo.tcib_dir,
        {
            "tcib/base/extra/extra.yaml": """
            tcib_actions: []
            tcib_packages:
              common: [python3-shiny-new, openstack-zaqar, httpd]
            tcib_user: zaqar
        """,
        },
    )
    capsys.readouterr()
    assert run(repo, "check") == 1
    err = [line for line in capsys.readouterr().err.splitlines() if not line.startswith("warning:")]
    # the TCIB directory was given as an absolute path: its files are shown that way
    assert err[0].startswith(
        f"error: {repo.tcib_dir}/tcib/base/extra/extra.yaml: tcib_packages: "
        "python3-shiny-new: unknown Python RPM: not classified"
    )
    assert "openstack-zaqar" in err[1]
    assert "tcib_user zaqar: no kolla UID known" in err[2]
    assert "requirements/constraints.txt: missing" in err[3]
    assert err[-1] == "check: 4 problem(s)"


def test_bad_input_gives_one_line_and_exit_1(
    repo: Context, write_config: ConfigWriter, capsys: pytest.CaptureFixture
) -> None:
    write_config(images={"scope": ["keystone", "nova-apii"]})
    assert run(repo, "summary") == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("error: ")
    assert "images.scope: unknown image 'nova-apii' (did you mean 'nova-api'?)" in err


def test_missing_tcib_dir(repo: Context, capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    code = main(
        ["--config", str(repo.config_file), "--tcib-dir", str(tmp_path / "nope"), "summary"]
    )
    assert code == 1
    assert "git submodule update --init tcib" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("files", "config", "expected"),
    [
        (
            {"tcib/base/os/os.yaml": "tcib_actions: [\n"},
            None,
            "container-images/tcib/base/os/os.yaml:line 2: malformed YAML",
        ),
        (
            {"tcib/base/os/keystone/keystone.yaml": "tcib_actions:\n- run: echo {{ nope }}\n"},
            None,
            "container-images/tcib/base/os/keystone/keystone.yaml: tcib_actions[0].run: "
            "undefined variable: 'nope' is undefined",
        ),
        ({}, {"images": {"scope": ["ghost"]}}, "images.scope: unknown image 'ghost'"),
        ({}, {"konflux": {"application": "a", "tenant": "t"}}, "konflux.tenant: unknown key"),
    ],
    ids=["malformed-yaml", "undefined-variable", "unknown-image", "unknown-config-key"],
)
def test_each_bad_input_is_one_error_line(
    repo: Context,
    write_config: ConfigWriter,
    capsys: pytest.CaptureFixture,
    files: dict[str, str],
    config: dict | None,
    expected: str,
) -> None:
    write_tree(repo.tcib_dir, files)
    if config:
        write_config(**config)
    for command in ("summary", "images", "check"):
        assert run(repo, command) == 1
        errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error")]
        assert len(errors) == 1, errors
        assert expected in errors[0]

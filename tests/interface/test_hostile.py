"""Every entry point, driven with hostile values: one line naming the value and the fix, never a
traceback, and an environment variable read only by the command that uses it."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from tcibsrc.common.context import Context
from tcibsrc.interface import cli
from tcibsrc.interface.cli import INTERNAL_ERROR, main


@pytest.fixture(autouse=True)
def _in_repo(repo: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(repo.repo_root)


def run(ctx: Context, *args: str) -> int:
    return main(["--config", str(ctx.config_file), "--tcib-dir", str(ctx.tcib_dir), *args])


def written(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


CASES = [
    # (environment, arguments, what the one error line says)
    (
        {"TIMEOUT": "abc"},
        ["deploy"],
        "TIMEOUT=abc: not a number of seconds (write e.g. TIMEOUT=1800)",
    ),
    ({"TIMEOUT": "-5"}, ["deploy"], "TIMEOUT=-5: not a number of seconds"),
    (
        {"INDEX_URL": "ftp://mirror/simple"},
        ["pin-python-deps"],
        "INDEX_URL=ftp://mirror/simple: not an http(s) URL",
    ),
    (
        {"INDEX_URL": "not a url"},
        ["verify-hermetic", "--image", "keystone"],
        "INDEX_URL=not a url: not an http(s) URL",
    ),
    (
        {"RESOLVER": "poetry"},
        ["pin-python-deps"],
        "RESOLVER=poetry: unknown resolver (use one of: uv, pip-compile)",
    ),
    (
        {},
        ["deploy-manifests", "--snapshot", "{tmp}/list.json"],
        "list.json: (top level): a list, a mapping is expected",
    ),
    (
        {},
        ["deploy-manifests", "--snapshot", "{tmp}/no-image.json"],
        "no-image.json: spec.components[0]: missing required key(s): containerImage",
    ),
    ({}, ["deploy-manifests", "--snapshot", "{tmp}/broken.json"], "broken.json: not JSON"),
    ({}, ["deploy-manifests", "--snapshot", "{tmp}/absent.json"], "absent.json: file not found"),
    ({}, ["prefetch", "nosuch"], "nosuch: not an image in scope"),
    ({}, ["verify-runtime", "--image", "nosuch"], "no runtime checks for image 'nosuch'"),
    ({}, ["update-parity", "{tmp}/nowhere"], "no *.spec file here"),
    ({}, ["update-series", "{tmp}/nowhere"], "RELEASES_DIR must be an openstack/releases checkout"),
    ({}, ["affected", "--base", "no-such-revision"], "BASE=no-such-revision: git"),
    (
        {"GIT_URL": "git@example.invalid:x/y.git"},
        ["konflux-manifests", "--git-url", "ftp://x"],
        "no https git URL",
    ),
    (
        {"OPENSTACK_OPERATOR": "/nonexistent"},
        ["update-crds", "--openstack-operator", "/nonexistent"],
        "/nonexistent",
    ),
    (
        {"TCIBSRC_RUNTIME_CHECKS": "{tmp}/checks.yaml"},
        ["verify-runtime", "--image", "keystone"],
        "checks.yaml: images: a list, a mapping is expected",
    ),
]


@pytest.mark.parametrize(
    ("env", "args", "expected"), CASES, ids=[" ".join(c[1])[:40] for c in CASES]
)
def test_a_hostile_value_is_one_error_line(
    repo: Context,
    tmp_path: Path,
    capsys: pytest.CaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    env: dict[str, str],
    args: list[str],
    expected: str,
) -> None:
    written(tmp_path / "list.json", "[1]")
    written(tmp_path / "no-image.json", '{"spec": {"components": [{"name": "keystone"}]}}')
    written(tmp_path / "broken.json", '{"spec": ')
    written(tmp_path / "checks.yaml", "images: [1]\n")
    for key, value in env.items():
        monkeypatch.setenv(key, value.format(tmp=tmp_path))
    code = run(repo, *[arg.format(tmp=tmp_path) for arg in args])
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert code == 1, err
    assert "Traceback" not in err
    assert len(lines) == 1 and expected.format(tmp=tmp_path) in lines[0], err


@pytest.mark.parametrize("command", ["summary", "images", "render", "pipelines", "check"])
def test_a_variable_only_another_command_reads_changes_nothing(
    repo: Context, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    run(repo, command)
    clean = capsys.readouterr()
    for key, value in {"TIMEOUT": "abc", "STAGE": "nowhere", "SNAPSHOT": "/x", "TAG": "?"}.items():
        monkeypatch.setenv(key, value)
    run(repo, command)
    assert capsys.readouterr() == clean


def test_an_argument_out_of_range_is_argparses_usage_line(
    repo: Context, capsys: pytest.CaptureFixture
) -> None:
    with pytest.raises(SystemExit) as caught:
        run(repo, "verify-hermetic", "--jobs", "0")
    assert caught.value.code == 2
    assert "argument --jobs: '0' is not a whole number of at least 1" in capsys.readouterr().err


def test_a_filesystem_error_is_one_line_naming_the_path(
    repo: Context, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    def denied(*_args: object) -> int:
        raise PermissionError(errno.EACCES, "Permission denied", "/srv/repo/containerfiles/x")

    monkeypatch.setattr("tcibsrc.interface.commands.summary.run", denied)
    parser = cli.build_parser()
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    for action in parser._subparsers._group_actions:  # type: ignore[union-attr]
        action.choices["summary"].set_defaults(handler=denied)
    assert run(repo, "summary") == 1
    assert capsys.readouterr().err.strip() == (
        "error: /srv/repo/containerfiles/x: Permission denied (check its permissions)"
    )


def test_an_unexpected_error_says_it_is_a_bug_and_where_the_details_are(
    repo: Context, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: object) -> int:
        raise KeyError("spec")

    parser = cli.build_parser()
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    for action in parser._subparsers._group_actions:  # type: ignore[union-attr]
        action.choices["images"].set_defaults(handler=broken)
    assert run(repo, "images") == INTERNAL_ERROR
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith(
        "error: internal error in tcibsrc images (KeyError: 'spec'); this is a bug"
    )
    report = Path(err[0].rsplit(" with ", 1)[1])
    assert "Traceback" in report.read_text() and "KeyError" in report.read_text()

"""What every stage shares: the Containerfile reader, git and registry look-ups, Problem values,
data files and the config read through their models."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from conftest import ConfigWriter
from tcibsrc.common.config import config_schema, load_config
from tcibsrc.common.containerfile import context_sources, from_lines, run_commands
from tcibsrc.common.errors import ConfigError, Problem, Severity, ToolkitError, warning
from tcibsrc.common.git import GitError, revision
from tcibsrc.common.registry import digest_of
from tcibsrc.interface.commands.config_schema import schema_path
from tcibsrc.verify.runtime import runtime_checks

CONTAINERFILE = """\
FROM quay.io/ns/builder@sha256:{digest} AS wheels
COPY ["containerfiles/a b/plan.json", "/tmp/"]
FROM --platform=$BUILDPLATFORM quay.io/ns/parent:tag
COPY --from=wheels /wheels /tmp/wheels
COPY --chown=root:root tcib/container-images/kolla /usr/share/tcib/kolla
ADD https://example.invalid/x.tar.gz /tmp/
RUN dnf -y install a \\
    b && \\
    dnf clean all
"""


def test_the_containerfile_reader_knows_every_form() -> None:
    text = CONTAINERFILE.format(digest="a" * 64)
    # the JSON form and --flags are understood; --from and URLs are not the build context
    assert context_sources(text) == ["containerfiles/a b/plan.json", "tcib/container-images/kolla"]
    lines = from_lines(text)
    assert [(line.stage, line.repository, line.digest) for line in lines] == [
        ("wheels", "quay.io/ns/builder", f"sha256:{'a' * 64}"),
        (None, "quay.io/ns/parent:tag", None),
    ]
    assert [line.image for line in lines] == ["quay.io/ns/builder", "quay.io/ns/parent"]
    assert lines[1].instruction.line == 3
    # continuation lines are one command
    assert [" ".join(command.split()) for command in run_commands(text)] == [
        "dnf -y install a b && dnf clean all"
    ]


def test_a_checkout_says_its_commit_and_branch(tmp_path: Path) -> None:
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    env = {**os.environ, "GIT_AUTHOR_DATE": "2026-01-02T03:04:05Z"}
    env |= {"GIT_COMMITTER_DATE": "2026-01-02T03:04:05Z"}

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(checkout), *args], check=True, capture_output=True, text=True, env=env
        ).stdout.strip()

    git("init", "-q", "-b", "epoxy-rdo")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "x")
    found = revision(checkout)
    assert (found.commit, found.date, found.branch) == (
        git("rev-parse", "HEAD"),
        "2026-01-02",
        "epoxy-rdo",
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            f"commit: {'b' * 40}\ndate: 2026-06-19T07:50:32+00:00\nrepo: org/name\n",
            ("b" * 40, "2026-06-19", "org/name", None),
        ),
        (
            f"rdo-packages/keystone-distgit epoxy-rdo {'c' * 40} 2025-04-01\n",
            ("c" * 40, "2025-04-01", "rdo-packages/keystone-distgit", "epoxy-rdo"),
        ),
        ("openstack/releases 0123abcd\n", ("0123abcd", "", "openstack/releases", None)),
    ],
    ids=["keyed", "distgit-line", "short"],
)
def test_a_copy_without_git_says_its_commit_in_a_commit_file(
    tmp_path: Path, text: str, expected: tuple[str, str, str, str | None]
) -> None:
    (tmp_path / "COMMIT").write_text(text)
    found = revision(tmp_path)
    assert (found.commit, found.date, found.repository, found.branch) == expected


def test_a_directory_that_is_no_checkout_is_one_error_line(tmp_path: Path) -> None:
    with pytest.raises(GitError, match="git log -1 --format=%H %cs failed"):
        revision(tmp_path)


def stand_in(tmp_path: Path, body: str, monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(parents=True)
    skopeo = bin_dir / "skopeo"
    skopeo.write_text(f"#!/bin/sh\n{body}\n")
    skopeo.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")


def test_the_registry_lookup_has_a_timeout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stand_in(tmp_path, "sleep 30", monkeypatch)
    lookup = digest_of("quay.io/x/y:1", timeout=0.5)
    assert lookup.digest is None
    assert lookup.problem == "skopeo inspect did not answer within 0.5 s"


def test_the_registry_lookup_reads_skopeos_digest_and_its_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stand_in(tmp_path, f'[ "$5" = docker://quay.io/x/y:1 ] && echo sha256:{"d" * 64}', monkeypatch)
    assert digest_of("quay.io/x/y:1").digest == f"sha256:{'d' * 64}"
    stand_in(tmp_path / "other", "echo 'manifest unknown' >&2; exit 1", monkeypatch)
    assert digest_of("quay.io/x/y:2").problem == "skopeo inspect failed: manifest unknown"
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert digest_of("quay.io/x/y:1").problem == "skopeo is not installed"


def test_a_problem_is_one_line_and_carries_its_severity() -> None:
    problem = Problem("a.txt:3", "not pinned", "run make pin-python-deps")
    assert str(problem) == "a.txt:3: not pinned (run make pin-python-deps)"
    assert not problem.is_warning and problem.severity is Severity.ERROR
    assert warning("x", "placeholder").is_warning
    assert str(Problem("", "required task init does not run")) == "required task init does not run"
    error = problem.as_error()
    assert isinstance(error, ToolkitError) and error.line() == str(problem)


def test_a_broken_data_file_is_one_line_naming_the_file_and_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "runtime_checks.yaml"
    monkeypatch.setenv("TCIBSRC_RUNTIME_CHECKS", str(data))
    data.write_text("images:\n  keystone: {entry_point: [x]}\n")
    with pytest.raises(ToolkitError) as caught:
        runtime_checks()
    assert caught.value.line() == (
        f"{data}: images.keystone.entry_point: unknown key; allowed keys here: entry_points, "
        "scenario (fix the entry)"
    )
    data.write_text("images: {}\nimages: {}\n")
    with pytest.raises(ToolkitError, match="duplicate key 'images'"):
        runtime_checks()
    data.write_text("images:\n  keystone: {scenario: nowhere}\n")
    with pytest.raises(ToolkitError, match="no scenario named 'nowhere'"):
        runtime_checks()


@pytest.mark.parametrize(
    ("packages", "where", "problem"),
    [
        ({"pbr": {"version": ">>7"}}, "packages.pbr.version", "not a PEP 440 specifier: '>>7'"),
        (
            {"pbr": {"extra_build_requires": ["six>>1"]}},
            "packages.pbr.extra_build_requires[0]",
            "not a PEP 508 requirement: 'six>>1'",
        ),
        (
            {"pbr": {"build_requires_with": ["x @ https://example.invalid/x.tar.gz"]}},
            "packages.pbr.build_requires_with[0]",
            "a direct URL is not locked by hash",
        ),
    ],
    ids=["version", "extra-build-requires", "url"],
)
def test_package_policies_are_checked_when_the_config_loads(
    write_config: ConfigWriter, packages: dict, where: str, problem: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write_config(packages=packages))
    assert caught.value.where.endswith(f"config.yaml: {where}")
    assert problem in caught.value.problem


def test_a_name_listed_twice_is_an_error(write_config: ConfigWriter) -> None:
    with pytest.raises(ConfigError, match="arches: 'x86_64' is listed twice"):
        load_config(write_config(arches=["x86_64", "x86_64"]))


def test_the_committed_config_schema_is_the_models() -> None:
    assert schema_path().read_text(encoding="utf-8") == config_schema()

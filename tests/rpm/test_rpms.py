"""RPM inputs and the lock validator, against a real signed repository on 127.0.0.1."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from conftest import FIXTURE_TREE, README_TEXT, REFERENCE, require_tools, shown, write_tree
from rpmrepo import DNF_PYTHON, Rpm, RpmRepository, SigningKey, build_rpms
from tcibsrc.common.context import Context
from tcibsrc.containers.render import render_files
from tcibsrc.interface.cli import main
from tcibsrc.interface.commands.lock_rpms import validate
from tcibsrc.rpm.lock_checks import (
    lock_problems,
    repo_problems,
    repo_sections,
    requested_packages,
    rpms_in_problems,
)
from tcibsrc.rpm.lock_inputs import packages_of

DEMO = {
    "tcib/base/demo/demo.yaml": """
        tcib_actions:
        - run: dnf -y install {{ tcib_packages.common | join(' ') }} && dnf clean all
        - run: if [ '{{ tcib_release }}' == '9' ]; then dnf -y install only-on-nine; fi
        tcib_packages:
          common: [demo-app, demo-arch]
    """,
}
SPECIAL = {
    "demo-app": Rpm("demo-app", requires=["demo-lib"]),
    "demo-arch": Rpm("demo-arch", arch="per-arch"),
}
HERE = Path(__file__).parent.parent  # the tests/ directory: dnf_resolve.py


def make_repo(
    root: Path, write_config, rpm_repositories: list[dict], repository_id: str = "{id}"
) -> Context:
    write_tree(root / "container-images", {**FIXTURE_TREE, **DEMO})
    (root / "README.md").write_text(README_TEXT)
    rpm = {"repository_id": repository_id, "repositories": rpm_repositories}
    config = write_config(images={"scope": ["demo"]}, rpm=rpm)
    shutil.move(config, root / "config.yaml")
    return Context(
        repo_root=root, config_file=root / "config.yaml", tcib_dir=root / "container-images"
    )


@pytest.fixture
def rpm_setup(tmp_path: Path, write_config) -> Iterator[tuple[Context, RpmRepository]]:
    require_tools("rpmbuild", "createrepo_c", "gpg", "python3")
    placeholder = [
        {
            "id": "local",
            "name": "local",
            "baseurl": "https://example.invalid/$basearch/",
            "gpgkey": "file:///nonexistent",
        }
    ]
    draft = make_repo(tmp_path / "draft", write_config, placeholder)
    wanted = requested_packages(yaml.safe_load(render_files(draft)["rpms.in.yaml"]))
    rpms = [SPECIAL.get(name, Rpm(name)) for name in wanted] + [Rpm("demo-lib")]
    key = SigningKey(tmp_path / "gnupg")
    repo = RpmRepository(tmp_path / "repo", build_rpms(rpms, tmp_path / "build"), key)
    ctx = make_repo(
        tmp_path / "repo-checkout",
        write_config,
        [
            {
                "id": "local",
                "name": "local test repository",
                "baseurl": repo.baseurl,
                "gpgkey": f"file://{key.public}",
            }
        ],
        repository_id="{id}-for-$basearch",  # archful, as config.yaml's scheme
    )
    for name, text in render_files(ctx).items():
        (ctx.repo_root / name).parent.mkdir(parents=True, exist_ok=True)
        (ctx.repo_root / name).write_text(text)
    yield ctx, repo
    repo.stop()


def resolve_with_dnf(ctx: Context) -> dict:
    """Resolve rpms.in.yaml against rpms.repo with dnf's Python API (as the locker does)."""
    rpms_in = yaml.safe_load((ctx.repo_root / "rpms.in.yaml").read_text())
    sections = repo_sections((ctx.repo_root / "rpms.repo").read_text(), "rpms.repo")
    request = {
        "arches": rpms_in["arches"],
        "packages": requested_packages(rpms_in),
        "repos": [
            {"id": rid, "baseurl": s["baseurl"], "gpgkey": s["gpgkey"]}
            for rid, s in sections.items()
        ],
    }
    result = subprocess.run(
        [DNF_PYTHON, str(HERE / "dnf_resolve.py")],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout)


def problems_of(ctx: Context, lock: dict) -> list[str]:
    """What make check reports: rpms.repo's problems, then the lock's."""
    repo_text = (ctx.repo_root / "rpms.repo").read_text()
    return [
        *shown(repo_problems(repo_text, "rpms.repo")),
        *shown(validate(ctx.repo_root, yaml.safe_dump(lock), "rpms.lock.yaml")),
    ]


def test_inputs_list_what_the_containerfiles_install(rpm_setup) -> None:
    ctx, _repo = rpm_setup
    rpms_in = yaml.safe_load((ctx.repo_root / "rpms.in.yaml").read_text())
    packages = requested_packages(rpms_in)
    assert {"demo-app", "demo-arch", "python3", "sudo", "gcc", "python3-devel"} <= set(packages)
    assert "only-on-nine" not in packages  # a literal test that cannot hold on release 10
    assert rpms_in["arches"] == ["x86_64", "aarch64"]
    assert rpms_in["installWeakDeps"] is False
    assert rpms_in["context"] == {"bare": True}
    repo_text = (ctx.repo_root / "rpms.repo").read_text()
    assert "$basearch" in repo_text and "gpgcheck=1" in repo_text
    assert shown(repo_problems(repo_text, "rpms.repo")) == []


def test_dnf_resolves_the_inputs_and_the_lock_validates(rpm_setup) -> None:
    ctx, _repo = rpm_setup
    lock = resolve_with_dnf(ctx)
    by_arch = {item["arch"]: {p["name"]: p for p in item["packages"]} for item in lock["arches"]}
    assert "demo-lib" in by_arch["x86_64"]  # pulled in by demo-app's Requires
    assert by_arch["x86_64"]["demo-arch"]["url"].endswith(".x86_64.rpm")
    assert by_arch["aarch64"]["demo-arch"]["url"].endswith(".aarch64.rpm")
    # dnf names the repository by the arch: the lock's repoids are the per-arch ids
    assert {p["repoid"] for p in by_arch["aarch64"].values()} == {"local-for-aarch64"}
    assert problems_of(ctx, lock) == []


def _drop_checksum(lock: dict) -> None:
    del lock["arches"][0]["packages"][0]["checksum"]


def _drop_size(lock: dict) -> None:
    del lock["arches"][0]["packages"][0]["size"]


def _unknown_repoid(lock: dict) -> None:
    lock["arches"][0]["packages"][0]["repoid"] = "somewhere-else"


def _duplicate(lock: dict) -> None:
    packages = lock["arches"][0]["packages"]
    packages.append(copy.deepcopy(packages[0]))


def _drop_arch(lock: dict) -> None:
    lock["arches"] = [a for a in lock["arches"] if a["arch"] != "aarch64"]


def _stale(lock: dict) -> None:
    for item in lock["arches"]:
        item["packages"] = [p for p in item["packages"] if p["name"] != "demo-app"]


def _bad_version(lock: dict) -> None:
    lock["lockfileVersion"] = 2


def _bad_vendor(lock: dict) -> None:
    lock["lockfileVendor"] = "someone"


@pytest.mark.parametrize(
    ("defect", "expected"),
    [
        (_drop_checksum, "no checksum"),
        (_drop_size, "no size"),
        (_unknown_repoid, "repoid somewhere-else is not in rpms.repo"),
        (_duplicate, "listed twice"),
        (_drop_arch, "no packages for aarch64"),
        (_stale, "stale lock: demo-app is in rpms.in.yaml but not locked for x86_64"),
        (_bad_version, "lockfileVersion is 2"),
        (_bad_vendor, "lockfileVendor is 'someone'"),
    ],
)
def test_each_defect_is_reported(rpm_setup, defect, expected: str) -> None:
    ctx, _repo = rpm_setup
    lock = resolve_with_dnf(ctx)
    defect(lock)
    problems = problems_of(ctx, lock)
    assert any(expected in problem for problem in problems), problems


def test_a_repository_without_gpgcheck_fails(rpm_setup) -> None:
    ctx, _repo = rpm_setup
    lock = resolve_with_dnf(ctx)
    repo = ctx.repo_root / "rpms.repo"
    repo.write_text(repo.read_text().replace("gpgcheck=1", "gpgcheck=0"))
    problems = problems_of(ctx, lock)
    assert (
        "rpms.repo: [local-for-$basearch] has gpgcheck=0: every enabled repository must be "
        "gpg-checked" in problems
    )
    assert any("repoid local-for-x86_64 is not gpg-checked" in p for p in problems)


def stand_in(path: Path, expected_argv: list[str], lock_file: Path, write_into: str) -> Path:
    """rpm-lockfile-prototype (or podman running it): checks its command line exactly, then
    writes the lock that dnf resolved. Any other command line fails, naming what it got."""
    path.write_text(
        f"""#!{sys.executable}
import pathlib, re, shutil, sys
expected = {expected_argv!r}
got = sys.argv[1:]
outfile = got[got.index("--outfile") + 1] if "--outfile" in got else ""
if not re.fullmatch(r"\\.rpms\\.lock\\.[^/]+\\.yaml", outfile):
    sys.exit(f"unexpected --outfile {{outfile!r}}")
if [outfile if item == "OUTFILE" else item for item in expected] != got:
    sys.exit(f"unexpected command line: {{got}}")
if not pathlib.Path("rpms.in.yaml").is_file():
    sys.exit("not run in the repository (no rpms.in.yaml)")
shutil.copy({str(lock_file)!r}, pathlib.Path({write_into!r}) / outfile)
"""
    )
    path.chmod(0o755)
    return path


def resolved_lock(ctx: Context, tmp_path: Path) -> tuple[dict, Path]:
    """dnf's lock of the inputs, and the file a locker stand-in copies it from."""
    lock = resolve_with_dnf(ctx)
    saved = tmp_path / "resolved.yaml"
    saved.write_text(yaml.safe_dump(lock))
    return lock, saved


def lock_rpms_args(ctx: Context) -> list[str]:
    return ["--config", str(ctx.config_file), "--tcib-dir", str(ctx.tcib_dir), "lock-rpms"]


def test_lock_rpms_runs_the_locker_and_replaces_the_lock(
    rpm_setup, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    ctx, _repo = rpm_setup
    lock, saved = resolved_lock(ctx, tmp_path)
    locker = stand_in(
        tmp_path / "rpm-lockfile-prototype",
        ["--bare", "--outfile", "OUTFILE", "rpms.in.yaml"],
        saved,
        str(ctx.repo_root),
    )
    monkeypatch.setenv("RPM_LOCKFILE_PROTOTYPE", str(locker))
    monkeypatch.chdir(ctx.repo_root)
    args = lock_rpms_args(ctx)
    assert main(args) == 0, capsys.readouterr().err
    assert yaml.safe_load((ctx.repo_root / "rpms.lock.yaml").read_text()) == lock
    assert capsys.readouterr().out.strip() == "rpms.lock.yaml: locked with rpm-lockfile-prototype"
    # a locker that writes a broken lock leaves the old one in place
    broken = copy.deepcopy(lock)
    _drop_checksum(broken)
    saved.write_text(yaml.safe_dump(broken))
    assert main(args) == 1
    assert yaml.safe_load((ctx.repo_root / "rpms.lock.yaml").read_text()) == lock
    assert not list(ctx.repo_root.glob(".rpms.lock.*"))  # no temporary file left


def test_lock_rpms_runs_the_locker_image_with_podman(
    rpm_setup, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    ctx, _repo = rpm_setup
    lock, saved = resolved_lock(ctx, tmp_path)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    root = ctx.repo_root.resolve()
    stand_in(
        bin_dir / "podman",
        [
            "run", "--rm", "-v", f"{root}:/work:Z", "-w", "/work",
            "quay.io/konflux-ci/rpm-lockfile-prototype:latest",
            "--bare", "--outfile", "OUTFILE", "rpms.in.yaml",
        ],
        saved,
        str(root),  # the container writes into /work, the repository mounted
    )  # fmt: skip
    monkeypatch.setenv("PATH", str(bin_dir))  # no rpm-lockfile-prototype: podman it is
    monkeypatch.chdir(ctx.repo_root)
    args = lock_rpms_args(ctx)
    assert main(args) == 0, capsys.readouterr().err
    assert yaml.safe_load((ctx.repo_root / "rpms.lock.yaml").read_text()) == lock
    assert capsys.readouterr().out.strip() == "rpms.lock.yaml: locked with podman"


def test_lock_rpms_without_the_tool_says_how_to_install_it(
    rpm_setup, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    ctx, _repo = rpm_setup
    monkeypatch.delenv("RPM_LOCKFILE_PROTOTYPE", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    monkeypatch.chdir(ctx.repo_root)
    code = main(lock_rpms_args(ctx))
    assert code == 1
    err = capsys.readouterr().err
    assert "rpm-lockfile-prototype: not found on PATH, and podman is not installed" in err
    assert "pip install" in err and err.count("\n") == 1
    assert not (ctx.repo_root / "rpms.lock.yaml").exists()


@pytest.mark.skipif(not (REFERENCE / "seed-prototype").is_dir(), reason="no reference data")
def test_the_seed_prototype_lock_shows_its_real_defects() -> None:
    seed = REFERENCE / "seed-prototype"
    repo_text = (seed / "rpms.repo").read_text()
    found = shown(repo_problems(repo_text, "rpms.repo"))
    assert any("[centos10-rabbitmq] has gpgcheck=0" in p for p in found)
    assert any("[baseos] baseurl names the arch 'x86_64'" in p for p in found)
    rpms_in = yaml.safe_load((seed / "rpms.in.yaml").read_text())
    lock = list(
        shown(
            lock_problems(
                (seed / "rpms.lock.yaml").read_text(),
                "rpms.lock.yaml",
                requested_packages(rpms_in),
                ["x86_64", "aarch64"],
                repo_sections(repo_text, "rpms.repo"),
            )
        )
    )
    assert (
        "rpms.lock.yaml: no packages for aarch64 (the lock must cover every arch; run "
        "make lock-rpms)" in lock
    )


def test_packages_of_reads_continuations_and_literal_tests() -> None:
    text = (
        "RUN dnf -y install a b && \\\n    dnf clean all\n"
        "RUN if [ 'centos' == 'centos' ];then dnf -y install c; fi\n"
        "RUN if [ '10' == '9' ];then dnf -y install d; fi\n"
    )
    assert packages_of(text) == ["a", "b", "c"]


def test_rpms_in_follows_the_input_schema(rpm_setup) -> None:
    ctx, _repo = rpm_setup
    text = (ctx.repo_root / "rpms.in.yaml").read_text()
    assert shown(rpms_in_problems(text, "rpms.in.yaml")) == []
    broken = text.replace("installWeakDeps: false", "installWeakDeps: nope\nweakDeps: true")
    found = shown(rpms_in_problems(broken, "rpms.in.yaml"))
    assert any("installWeakDeps: 'nope' is not of type 'boolean'" in p for p in found)
    assert any("'weakDeps' was unexpected" in p for p in found)

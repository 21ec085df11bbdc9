"""make pin-python-deps against a real index on 127.0.0.1 serving sdists built by the tests."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from conftest import README_TEXT, shown
from pinfixtures import UPPER_CONSTRAINTS, lock, options, snapshot
from pyindex import Package, PackageIndex
from tcibsrc.common.context import Context
from tcibsrc.common.errors import ToolkitError
from tcibsrc.python.pinning import PinOptions, exclusive, pin_python_deps


def test_pins_are_release_aware_sdist_hashed_and_projected(
    pin_repo: Context, index: PackageIndex
) -> None:
    result = pin_python_deps(pin_repo, options(pin_repo, index))
    assert not result.up_to_date
    everything = lock(pin_repo, "all.txt")
    versions = {name: pin.version for name, pin in everything.items()}
    assert versions == {
        "keystone": "27.0.1",
        "nova": "31.3.1",
        "ldappool": "3.0.0",
        "python-keystoneclient": "5.6.0",
        "pymemcache": "4.0.0",
        "oslo-lite": "1.0",
    }
    for name, pin in everything.items():
        sdist = next(index.files_dir.glob(f"{name.replace('-', '_')}-{pin.version}.tar.gz"))
        assert pin.hashes == [hashlib.sha256(sdist.read_bytes()).hexdigest()]
    assert everything["oslo-lite"].via == {"keystone", "nova", "python-keystoneclient"}
    assert "-r requirements/all.in" in everything["keystone"].via
    # keystone's image extends os: its lock holds os's client too, and not nova
    keystone = lock(pin_repo, "keystone.txt")
    assert set(keystone) == {
        "keystone",
        "ldappool",
        "python-keystoneclient",
        "pymemcache",
        "oslo-lite",
    }
    assert "-r requirements/keystone.txt" not in keystone["keystone"].via
    assert "-r requirements/keystone.in" in keystone["keystone"].via
    assert set(lock(pin_repo, "nova-api.txt")) == {
        "nova",
        "oslo-lite",
        "python-keystoneclient",
        "pymemcache",
    }
    in_file = (pin_repo.repo_root / "requirements" / "keystone.in").read_text()
    assert in_file.splitlines()[-3:] == ["-r os.in", "keystone", "ldappool"]


def test_build_closure_is_complete_and_conflicts_go_to_an_extra_file(
    pin_repo: Context, index: PackageIndex
) -> None:
    pin_python_deps(pin_repo, options(pin_repo, index))
    build = {name: pin.version for name, pin in lock(pin_repo, "all-build.txt").items()}
    # pbr-lite's own build requirement flit-lite is there (recursion), hook-helper comes from
    # the PEP 517 hook, setuptools-lite 3.0 satisfies nova
    assert build == {
        "pbr-lite": "1.0",
        "flit-lite": "1.0",
        "setuptools-lite": "3.0",
        "hook-helper": "1.0",
    }
    extra = lock(pin_repo, "all-build-extra.txt")
    assert {n: p.version for n, p in extra.items()} == {"setuptools-lite": "1.0"}
    assert extra["setuptools-lite"].via == {"ldappool"}
    for pin in [*lock(pin_repo, "all-build.txt").values(), *extra.values()]:
        assert len(pin.hashes) == 1
    # projections: nova's image needs no hook-helper and no old setuptools-lite
    nova_build = lock(pin_repo, "nova-api-build.txt")
    assert "hook-helper" in nova_build  # the os client, inherited, needs it
    assert not (pin_repo.repo_root / "requirements" / "nova-base-build-extra.txt").exists()
    assert (pin_repo.repo_root / "requirements" / "keystone-build-extra.txt").exists()


def test_second_run_is_a_no_op(pin_repo: Context, index: PackageIndex) -> None:
    pin_python_deps(pin_repo, options(pin_repo, index))
    before = snapshot(pin_repo.repo_root / "requirements")
    requests_before = len(index.requests)
    again = pin_python_deps(pin_repo, options(pin_repo, index))
    assert again.up_to_date
    assert snapshot(pin_repo.repo_root / "requirements") == before
    assert len(index.requests) == requests_before  # nothing asked of the index
    forced = pin_python_deps(pin_repo, options(pin_repo, index, force=True))
    assert forced.changed == []  # deterministic: the same bytes again


def test_pip_compile_writes_the_same_files_and_shows_progress(
    pin_repo: Context, index: PackageIndex, pinned_template: Path, capsys: pytest.CaptureFixture
) -> None:
    with_uv = snapshot(pinned_template)  # what uv made from the same inputs
    pin_python_deps(pin_repo, options(pin_repo, index, resolver="pip-compile"))
    assert snapshot(pin_repo.repo_root / "requirements") == with_uv
    # a progress line per arch counts the packages pip-compile collected
    err = capsys.readouterr().err
    for arch in ("x86_64", "aarch64"):
        label = f"resolve: pip-compile ({arch})"
        done = [line for line in err.splitlines() if line.startswith(label)]
        assert done and "packages:" in done[-1] and " done in " in done[-1], err
        count = int(done[-1].split("packages: ")[1].split()[0])
        assert count >= 6  # keystone, nova, ldappool, the client, pymemcache, oslo-lite


@pytest.mark.parametrize(
    ("addition", "expected"),
    [
        ("no-such-project", "no-such-project"),
        ("pymemcache>=4.1", "pymemcache"),
        ("wheel-only-lib", "wheel-only-lib: no version has an sdist"),
    ],
    ids=["unknown-project", "constraint-conflict", "no-sdist"],
)
def test_bad_requirements_fail_clearly_and_change_nothing(
    pinned_repo: Context, index: PackageIndex, addition: str, expected: str
) -> None:
    pin_repo = pinned_repo
    index.add_file("wheel_only_lib-1.0-py3-none-any.whl", b"not really a wheel")
    before = snapshot(pin_repo.repo_root / "requirements")
    additions = pin_repo.repo_root / "requirements" / "additions.in"
    additions.write_text(f"{addition}  # images: keystone\n")
    before["additions.in"] = additions.read_bytes()
    with pytest.raises(ToolkitError) as caught:
        pin_python_deps(pin_repo, options(pin_repo, index))
    assert expected in caught.value.line()
    assert "\n" not in caught.value.line()
    assert snapshot(pin_repo.repo_root / "requirements") == before


def test_hash_mismatch_is_an_error(pin_repo: Context, index: PackageIndex) -> None:
    index.listed_hash_overrides["ldappool-3.0.0.tar.gz"] = "0" * 64
    with pytest.raises(ToolkitError) as caught:
        pin_python_deps(pin_repo, options(pin_repo, index))
    assert "ldappool==3.0.0" in caught.value.line()
    assert "hash mismatch" in caught.value.line()
    assert not (pin_repo.repo_root / "requirements").exists()


def test_unreachable_index(pin_repo: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UV_HTTP_RETRIES", "0")  # the same message, without uv's retries
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}/simple"
    with pytest.raises(ToolkitError) as caught:
        pin_python_deps(
            pin_repo,
            PinOptions(
                index_url=url, upper_constraints_file=pin_repo.repo_root / "upper-constraints.txt"
            ),
        )
    line = caught.value.line()
    assert line.startswith(f"{url}: the package index cannot be reached: "), line
    assert "Connection refused" in line
    assert line.endswith("(check the network, or set INDEX_URL to a reachable mirror)")
    assert "named above" not in line
    assert not (pin_repo.repo_root / "requirements").exists()


def test_upper_constraints_hash_must_match(pin_repo: Context, index: PackageIndex) -> None:
    (pin_repo.repo_root / "upper-constraints.txt").write_text(UPPER_CONSTRAINTS + "x===1\n")
    with pytest.raises(ToolkitError, match="does not match the config's"):
        pin_python_deps(pin_repo, options(pin_repo, index))


def test_arches_that_resolve_differently_are_an_error(
    pin_repo: Context, index: PackageIndex
) -> None:
    index.add(
        Package(
            "pymemcache", "4.0.0", requires=['aarch64-only-helper; platform_machine == "aarch64"']
        ),
        Package("aarch64-only-helper", "1.0"),
    )
    with pytest.raises(ToolkitError) as caught:
        pin_python_deps(pin_repo, options(pin_repo, index))
    assert "x86_64 vs aarch64" in caught.value.line()
    assert "aarch64-only-helper==1.0" in caught.value.line()


def test_make_check_sees_current_locks_and_then_drift(
    pin_repo: Context, index: PackageIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tcibsrc.interface.commands.check import collect_problems

    (pin_repo.repo_root / "README.md").write_text(README_TEXT)
    monkeypatch.setenv("INDEX_URL", index.url)
    monkeypatch.setenv("UPPER_CONSTRAINTS", str(pin_repo.repo_root / "upper-constraints.txt"))
    pin_python_deps(pin_repo, options(pin_repo, index))
    lock_problems = [p for p in shown(collect_problems(pin_repo)) if "requirements" in p]
    assert lock_problems == []
    additions = pin_repo.repo_root / "requirements" / "additions.in"
    additions.write_text("pymemcache  # images: keystone\n")
    problems = shown(collect_problems(pin_repo))
    assert "requirements/keystone.in: out of date with the catalog" in " ".join(problems)
    assert any("made from other inputs" in p for p in problems)
    additions.unlink()
    lock = pin_repo.repo_root / "requirements" / "os.txt"
    lock.write_text(lock.read_text().replace("pymemcache==4.0.0", "pymemcache>=4.0.0"))
    problems = shown(collect_problems(pin_repo))
    assert any(
        p.startswith("requirements/os.txt:") and "pymemcache is not pinned" in p for p in problems
    )


def set_packages(ctx: Context, packages: dict) -> None:
    data = yaml.safe_load(ctx.config_file.read_text())
    data["packages"] = packages
    ctx.config_file.write_text(yaml.safe_dump(data, sort_keys=False))
    ctx.__dict__.pop("config", None)


def test_a_version_policy_constrains_runtime_and_build_locks(
    pin_repo: Context, index: PackageIndex
) -> None:
    # without policies: the series holds keystone to 27.x, and flit-lite 2.0 is the newest
    index.add(Package("flit-lite", "2.0"))
    pin_python_deps(pin_repo, options(pin_repo, index))
    assert lock(pin_repo, "all.txt")["keystone"].version == "27.0.1"
    assert lock(pin_repo, "all-build.txt")["flit-lite"].version == "2.0"
    set_packages(
        pin_repo,
        {
            "keystone": {"version": ">=30", "reason": "the next series' keystone"},
            "flit-lite": {"version": "<2", "reason": "flit-lite 2 breaks pbr-lite"},
        },
    )
    pin_python_deps(pin_repo, options(pin_repo, index))
    assert lock(pin_repo, "all.txt")["keystone"].version == "30.0.0"
    assert lock(pin_repo, "keystone.txt")["keystone"].version == "30.0.0"
    assert lock(pin_repo, "all-build.txt")["flit-lite"].version == "1.0"
    assert lock(pin_repo, "keystone-build.txt")["flit-lite"].version == "1.0"
    constraints = (pin_repo.repo_root / "requirements" / "constraints.txt").read_text()
    assert "keystone>=30\n" in constraints and "keystone>=27" not in constraints


def test_an_index_that_speaks_only_html_gives_the_same_locks(
    pin_repo: Context, index: PackageIndex, tmp_path: Path
) -> None:
    pin_python_deps(pin_repo, options(pin_repo, index))
    with_json = snapshot(pin_repo.repo_root / "requirements")
    assert any("application/vnd.pypi.simple.v1+json" in a for a in index.accept_headers)
    index.serve_json = False
    shutil.rmtree(pin_repo.repo_root / "requirements")
    shutil.rmtree(os.environ["TCIBSRC_CACHE"])  # the sdist cache would hide the index
    pin_python_deps(pin_repo, options(pin_repo, index))
    assert snapshot(pin_repo.repo_root / "requirements") == with_json


@pytest.fixture
def https_upper_constraints(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict]:
    """upper-constraints served over HTTPS on 127.0.0.1 with a certificate the test makes."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))
    served: dict = {"requests": [], "body": UPPER_CONSTRAINTS.encode()}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            served["requests"].append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", str(len(served["body"])))
            self.end_headers()
            self.wfile.write(served["body"])

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    commit = "2" * 40
    served["url"] = f"https://127.0.0.1:{server.server_address[1]}/raw/{commit}/uc.txt"
    yield served
    server.shutdown()
    server.server_close()


def test_upper_constraints_is_downloaded_checked_and_cached(
    pin_repo: Context, index: PackageIndex, https_upper_constraints: dict
) -> None:
    served = https_upper_constraints
    data = yaml.safe_load(pin_repo.config_file.read_text())
    data["upper_constraints"]["url"] = served["url"]
    pin_repo.config_file.write_text(yaml.safe_dump(data, sort_keys=False))
    pin_repo.__dict__.pop("config", None)
    pin_python_deps(pin_repo, PinOptions(index_url=index.url))  # no local file: download
    assert served["requests"] == [f"/raw/{'2' * 40}/uc.txt"]
    digest = hashlib.sha256(UPPER_CONSTRAINTS.encode()).hexdigest()
    cached = Path(os.environ["TCIBSRC_CACHE"]) / "upper-constraints" / f"{digest}.txt"
    assert cached.read_text() == UPPER_CONSTRAINTS
    pin_python_deps(pin_repo, PinOptions(index_url=index.url, force=True))
    assert len(served["requests"]) == 1  # the cached copy, hash-checked, is used
    cached.unlink()
    served["body"] = (UPPER_CONSTRAINTS + "changed===1.0\n").encode()
    with pytest.raises(ToolkitError) as caught:
        pin_python_deps(pin_repo, PinOptions(index_url=index.url, force=True))
    assert caught.value.where == served["url"]
    assert f"does not match the config's {digest}" in caught.value.problem


def test_markers_of_additions_are_evaluated_for_the_target(
    pin_repo: Context, index: PackageIndex
) -> None:
    additions = pin_repo.repo_root / "requirements" / "additions.in"
    additions.parent.mkdir(parents=True)
    additions.write_text(
        'tomli; python_version < "3.11"  # images: keystone\n'
        'pywin32; sys_platform == "win32"\n'
        'pymemcache; python_version >= "3.12"  # images: keystone\n'
    )
    pin_python_deps(pin_repo, options(pin_repo, index))
    for path in sorted((pin_repo.repo_root / "requirements").glob("*.*")):
        if path.name == "additions.in":
            continue  # the hand-written input itself
        text = path.read_text()
        assert "tomli" not in text and "pywin32" not in text, path.name
    assert "pymemcache" in (pin_repo.repo_root / "requirements" / "keystone.in").read_text()


def test_a_marker_that_holds_on_one_arch_only_is_refused(
    pin_repo: Context, index: PackageIndex
) -> None:
    additions = pin_repo.repo_root / "requirements" / "additions.in"
    additions.parent.mkdir(parents=True)
    additions.write_text('pymemcache; platform_machine == "x86_64"  # images: keystone\n')
    with pytest.raises(ToolkitError) as caught:
        pin_python_deps(pin_repo, options(pin_repo, index))
    assert caught.value.line().startswith(
        "requirements/additions.in:1: the marker of 'pymemcache; platform_machine == \"x86_64\"' "
        "holds on x86_64 only"
    )


def test_an_index_url_that_serves_no_project_is_named_not_the_project(
    pin_repo: Context, index: PackageIndex
) -> None:
    wrong = options(pin_repo, index)
    wrong.index_url = index.url.rstrip("/") + "/nosuch/"
    with pytest.raises(ToolkitError) as caught:
        pin_python_deps(pin_repo, wrong)
    line = caught.value.line()
    assert line.startswith(f"INDEX_URL={wrong.index_url}: the index has none of "), line
    assert "it does not serve the Simple API of a package index there" in line


def test_a_conflict_says_what_upper_constraints_forced(
    pin_repo: Context, index: PackageIndex
) -> None:
    additions = pin_repo.repo_root / "requirements" / "additions.in"
    additions.parent.mkdir(parents=True)
    additions.write_text("pymemcache>=4.1  # images: keystone\n")
    with pytest.raises(ToolkitError) as caught:
        pin_python_deps(pin_repo, options(pin_repo, index))
    assert "upper-constraints pins pymemcache==4.0.0" in caught.value.problem


def test_upper_constraints_of_another_branch_is_refused(
    pin_repo: Context, index: PackageIndex
) -> None:
    uc = pin_repo.repo_root / "upper-constraints.txt"
    uc.write_text(
        UPPER_CONSTRAINTS.replace("python-keystoneclient===5.6.0", "python-keystoneclient===9.0.0")
    )
    config = pin_repo.config_file.read_text()
    digest = hashlib.sha256(uc.read_bytes()).hexdigest()
    pin_repo.config_file.write_text(re.sub(r"sha256: [0-9a-f]{64}", f"sha256: {digest}", config))
    with pytest.raises(ToolkitError) as caught:
        pin_python_deps(pin_repo, options(pin_repo, index))
    assert caught.value.line().startswith(
        "config.yaml: upper_constraints.url: pins 1 deliverables of epoxy at versions the series "
        "never released (python-keystoneclient 9.0.0)"
    ), caught.value.line()
    assert not (pin_repo.repo_root / "requirements").exists()


def test_a_second_pin_waits_for_the_first(
    pinned_repo: Context, index: PackageIndex, capsys: pytest.CaptureFixture
) -> None:
    results = []
    second = threading.Thread(
        target=lambda: results.append(pin_python_deps(pinned_repo, options(pinned_repo, index)))
    )
    with exclusive(pinned_repo.repo_root / "requirements"):  # the first run, still pinning
        second.start()
        second.join(timeout=3)
        assert second.is_alive()  # it waits instead of doing the same work
    second.join(timeout=120)
    assert results and results[0].up_to_date  # and then finds the locks made
    assert "another run is pinning" in capsys.readouterr().err


def test_what_a_locked_package_imports_undeclared_joins_the_images_that_lock_it(
    pin_repo: Context, index: PackageIndex
) -> None:
    """A package policy's extra_requires (ldappool imports a module of setuptools-lite without
    declaring it) is derived for every image whose lock holds the package — keystone, which
    locks ldappool — and for no other (nova-api), written under the derived heading."""
    set_packages(
        pin_repo,
        {"ldappool": {"extra_requires": ["setuptools-lite<2"], "reason": "imports it undeclared"}},
    )
    pin_python_deps(pin_repo, options(pin_repo, index))
    assert lock(pin_repo, "keystone.txt")["setuptools-lite"].version == "1.0"
    assert "setuptools-lite" not in lock(pin_repo, "nova-api.txt")
    keystone_in = (pin_repo.repo_root / "requirements" / "keystone.in").read_text()
    derived = keystone_in.split("import without declaring (package policies' extra_requires):")[1]
    assert derived.strip().splitlines() == ["setuptools-lite<2"]

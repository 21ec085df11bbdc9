"""make pin-python-deps against a real index on 127.0.0.1 serving sdists built by the tests."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from conftest import README_TEXT
from pinfixtures import UPPER_CONSTRAINTS, lock, options, snapshot
from pyindex import Package, PackageIndex
from tcibsrc.context import Context
from tcibsrc.errors import ToolkitError
from tcibsrc.pinning import pin_python_deps


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


def test_pip_compile_writes_the_same_files(
    pin_repo: Context, index: PackageIndex, tmp_path: Path
) -> None:
    pin_python_deps(pin_repo, options(pin_repo, index))
    with_uv = snapshot(pin_repo.repo_root / "requirements")
    shutil.rmtree(pin_repo.repo_root / "requirements")
    pin_python_deps(pin_repo, options(pin_repo, index, resolver="pip-compile"))
    assert snapshot(pin_repo.repo_root / "requirements") == with_uv


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
    pin_repo: Context, index: PackageIndex, addition: str, expected: str
) -> None:
    index.add_file("wheel_only_lib-1.0-py3-none-any.whl", b"not really a wheel")
    pin_python_deps(pin_repo, options(pin_repo, index))
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


def test_unreachable_index(pin_repo: Context, index: PackageIndex) -> None:
    index.stop()
    with pytest.raises(ToolkitError) as caught:
        pin_python_deps(pin_repo, options(pin_repo, index))
    line = caught.value.line()
    assert line.startswith(f"{index.url}: the package index cannot be reached: "), line
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
    from tcibsrc.commands.check import collect_problems

    (pin_repo.repo_root / "README.md").write_text(README_TEXT)
    monkeypatch.setenv("INDEX_URL", index.url)
    monkeypatch.setenv("UPPER_CONSTRAINTS", str(pin_repo.repo_root / "upper-constraints.txt"))
    pin_python_deps(pin_repo, options(pin_repo, index))
    lock_problems = [p for p in collect_problems(pin_repo) if "requirements" in p]
    assert lock_problems == []
    additions = pin_repo.repo_root / "requirements" / "additions.in"
    additions.write_text("pymemcache  # images: keystone\n")
    problems = collect_problems(pin_repo)
    assert "requirements/keystone.in: out of date with the catalog" in " ".join(problems)
    assert any("made from other inputs" in p for p in problems)
    additions.unlink()
    lock = pin_repo.repo_root / "requirements" / "os.txt"
    lock.write_text(lock.read_text().replace("pymemcache==4.0.0", "pymemcache>=4.0.0"))
    problems = collect_problems(pin_repo)
    assert any(
        p.startswith("requirements/os.txt:") and "pymemcache is not pinned" in p for p in problems
    )

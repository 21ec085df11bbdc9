"""What makes a re-pin fast, and must not change its answer: build systems and hook answers
kept by content, the head start from the committed locks, uv's progress without `-v`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from pinfixtures import options, snapshot
from pyindex import PackageIndex
from tcibsrc.common.context import Context
from tcibsrc.python import build_hooks, build_system
from tcibsrc.python.build_closure import no_policies
from tcibsrc.python.build_system import cached_build_system, read_build_system
from tcibsrc.python.head_start import HeadStart, committed_pins
from tcibsrc.python.index import SimpleIndex
from tcibsrc.python.pinning import SUMMARY_LOCKS, pin_python_deps
from tcibsrc.python.sdists import cached_path


def refuse(what: str) -> Callable[..., None]:
    """A stand-in that fails the test when called."""

    def called(*_args: object, **_kwargs: object) -> None:
        raise AssertionError(f"{what} was called: the cache did not serve")

    return called


def test_a_warm_re_pin_reads_no_archive_and_asks_no_hook(
    pin_repo: Context, index: PackageIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    pin_python_deps(pin_repo, options(pin_repo, index))
    before = snapshot(pin_repo.repo_root / "requirements")
    monkeypatch.setattr(build_system, "read_build_system", refuse("read_build_system"))
    monkeypatch.setattr(build_hooks, "_ask", refuse("a PEP 517 hook"))
    result = pin_python_deps(pin_repo, options(pin_repo, index, force=True))
    assert result.changed == []
    assert snapshot(pin_repo.repo_root / "requirements") == before


def test_a_build_system_is_kept_by_the_sdists_hash(
    pin_repo: Context, index: PackageIndex, tmp_path: Path
) -> None:
    pin_python_deps(pin_repo, options(pin_repo, index))
    archives = sorted(index.files_dir.glob("*.tar.gz"))
    assert archives
    copy = tmp_path / archives[0].name
    copy.write_bytes(archives[0].read_bytes())
    first = cached_build_system(copy, "0" * 64)
    assert first == read_build_system(copy)
    copy.write_bytes(b"not an archive any more")
    assert cached_build_system(copy, "0" * 64) == first  # the same content hash: not re-read
    with pytest.raises(build_system.BuildSystemError):
        cached_build_system(copy, "1" * 64)  # another hash is another sdist: read


def test_the_head_start_fetches_the_committed_locks_and_answers_their_hooks(
    pinned_repo: Context, index: PackageIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    requirements = pinned_repo.repo_root / "requirements"
    committed = committed_pins(requirements, list(SUMMARY_LOCKS))
    assert set(committed) >= {"all.txt", "all-build.txt"}
    head_start = HeadStart(
        SimpleIndex(index.url),
        committed["all.txt"],
        committed["all-build.txt"],
        committed.get("all-build-extra.txt", {}),
        no_policies,
        index_url=index.url,
        python_version="3.12",
        exclude_newer=None,
    )
    head_start._run()  # in this thread: what the real run does beside the resolver
    for pins in committed.values():
        for pin in pins.values():
            sha256 = pin.hashes[0].removeprefix("sha256:")
            assert list(cached_path(sha256, "x").parent.glob("*.tar.gz")), pin.name
    assert head_start.hooks_asked >= 1  # python-keystoneclient's hook
    # the real pass finds every hook answered: the head start asked in the same environments
    monkeypatch.setattr(build_hooks, "_ask", refuse("a PEP 517 hook"))
    result = pin_python_deps(pinned_repo, options(pinned_repo, index, force=True))
    assert result.changed == []


def test_a_head_start_from_a_wrong_lock_never_fails_the_pin(
    pinned_repo: Context, index: PackageIndex
) -> None:
    requirements = pinned_repo.repo_root / "requirements"
    before = snapshot(requirements)
    # a committed build lock naming what the index never had (a bad merge, say)
    build_lock = requirements / "all-build.txt"
    build_lock.write_text(
        build_lock.read_text() + "no-such-tool==9.9 \\\n    --hash=sha256:" + "0" * 64 + "\n"
    )
    result = pin_python_deps(pinned_repo, options(pinned_repo, index, force=True))
    assert "all-build.txt" in result.changed
    assert snapshot(requirements) == before  # the resolution's answer, not the lock's


def test_uv_shows_the_packages_it_selects(
    pin_repo: Context, index: PackageIndex, capsys: pytest.CaptureFixture
) -> None:
    pin_python_deps(pin_repo, options(pin_repo, index))
    err = capsys.readouterr().err
    for arch in ("x86_64", "aarch64"):
        done = [
            line
            for line in err.splitlines()
            if line.startswith(f"resolve: uv pip compile ({arch})") and " done in " in line
        ]
        assert done, err
        assert int(done[-1].split("packages: ")[1].split()[0]) >= 6

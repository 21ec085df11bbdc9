"""Errors name the real cause: the resolver's own lines, paths as given, Ctrl-C as one line."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import REPO_ROOT
from pinfixtures import snapshot
from pyindex import Package, PackageIndex
from tcibsrc.common.context import Context
from tcibsrc.interface.cli import INTERRUPTED, main


def pin_cli(ctx: Context, index_url: str, *extra: str) -> list[str]:
    return [
        "--config",
        str(ctx.config_file),
        "--tcib-dir",
        str(ctx.tcib_dir),
        "pin-python-deps",
        "--index-url",
        index_url,
        "--upper-constraints",
        str(ctx.repo_root / "upper-constraints.txt"),
        *extra,
    ]


def test_a_failed_metadata_build_shows_the_resolvers_own_last_lines(
    pin_repo: Context,
    index: PackageIndex,
    capsys: pytest.CaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # like gssapi without krb5-config: pip-compile must build the sdist's metadata, the build
    # step prints 40 lines, and the cause is the last one
    index.add(Package("needs-headers", "1.0", metadata_error="krb5-config: command not found"))
    requirements = pin_repo.repo_root / "requirements"
    requirements.mkdir()
    (requirements / "additions.in").write_text("needs-headers  # images: keystone\n")
    monkeypatch.chdir(pin_repo.repo_root)
    assert main(pin_cli(pin_repo, index.url, "--resolver", "pip-compile")) == 1
    err = capsys.readouterr().err.splitlines()
    error = err[-1]
    assert error.startswith("error: needs-headers"), error
    assert "krb5-config: command not found" in error
    assert "named above" not in error
    details = [line for line in err if line.startswith("  | ")]
    assert 0 < len(details) <= 15
    assert details[-1].endswith("RuntimeError: krb5-config: command not found")
    assert any("running step 39" in line for line in details)
    assert not any("tcibsrc-pin-" in line for line in err)  # no scratch paths


@pytest.fixture
def silent_index() -> Iterator[str]:
    """An index on 127.0.0.1 that accepts connections and never answers: a pin hangs."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}/simple"
    stop.set()
    thread.join()
    for connection in held:
        connection.close()
    server.close()


def test_ctrl_c_prints_one_line_and_exits_130(pin_repo: Context, silent_index: str) -> None:
    before = snapshot(pin_repo.repo_root / "requirements")
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT / "scripts")}
    process = subprocess.Popen(
        [sys.executable, "-m", "tcibsrc.interface.cli", *pin_cli(pin_repo, silent_index)],
        cwd=pin_repo.repo_root,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,  # a process group of its own, as a terminal's job is
        # a background job of a non-interactive shell inherits SIGINT ignored; a terminal's
        # foreground job does not
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert process.stderr is not None
    started = time.monotonic()
    seen = ""
    while "packages: 0" not in seen and time.monotonic() - started < 60:
        seen += process.stderr.readline()
    assert "packages: 0" in seen, seen  # the resolvers are running, waiting on the index
    os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C does to the foreground job
    # within seconds, not after uv's own network timeouts (it ignores SIGINT while it waits)
    _out, rest = process.communicate(timeout=20)
    assert process.returncode == INTERRUPTED
    lines = [line for line in (seen + rest).splitlines() if line.strip()]
    assert lines[-1] == "interrupted: tcibsrc pin-python-deps stopped; no file is half-written"
    assert "Traceback" not in seen + rest
    assert snapshot(pin_repo.repo_root / "requirements") == before


@pytest.mark.parametrize("given", ["/nonexistent", "../elsewhere/container-images"])
def test_a_path_is_shown_as_the_user_gave_it(
    repo: Context, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch, given: str
) -> None:
    monkeypatch.chdir(repo.repo_root)
    assert main(["--config", "config.yaml", "--tcib-dir", given, "summary"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: {given}: TCIB directory not found"), err


def test_a_config_given_by_absolute_path_is_named_that_way(
    repo: Context, capsys: pytest.CaptureFixture, tmp_path: Path
) -> None:
    other = tmp_path / "elsewhere" / "my-config.yaml"
    other.parent.mkdir()
    other.write_text(repo.config_file.read_text().replace("keystone", "keystonee", 1))
    assert main(["--config", str(other), "--tcib-dir", str(repo.tcib_dir), "summary"]) == 1
    assert capsys.readouterr().err.startswith(f"error: {other}: images.scope: unknown image")


def test_verify_hermetic_lists_only_images(
    pinned_repo: Context, index: PackageIndex, tmp_path: Path
) -> None:
    from tcibsrc.common.errors import ToolkitError
    from tcibsrc.verify.hermetic import verify_image

    with pytest.raises(ToolkitError) as caught:
        verify_image(
            pinned_repo,
            "nosuch",
            index_url=index.url,
            jobs=1,
            hermeto_output=None,
            cargo_home=None,
            install_system=False,
            workdir=tmp_path,
        )
    assert caught.value.fix == "images with locks: keystone, nova-api, nova-base, os"

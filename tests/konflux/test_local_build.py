"""make prefetch / make build with the real engine: Debian's buildah (vfs storage, chroot
isolation), on a stand-in image tree built from scratch (no registry can be reached here), and
a hermeto stand-in that checks its command lines exactly."""

from __future__ import annotations

import os
import shutil
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from conftest import require_tools
from tcibsrc.common.context import Context
from tcibsrc.containers.render import render_files
from tcibsrc.interface.cli import main
from tcibsrc.konflux.pipelines import render_pipelines

ZEROS = "0" * 64
BUSYBOX = ["COPY stand-in/busybox /bin/sh", "COPY stand-in/busybox /bin/busybox"]


def hermeto_stand_in(path: Path, root: Path, prefetch_input: str) -> None:
    """hermeto's three commands, each checked word for word; fetch-deps 'prefetches' a file."""
    # hermeto writes into a staging directory, which replaces build/prefetch/keystone at the end
    output = root / "build" / "prefetch" / ".keystone.partial" / "output"
    path.write_text(
        f"""#!{sys.executable}
import os, pathlib, sys
got = sys.argv[1:]
output = {str(output)!r}
expected = {{
    "fetch-deps": ["fetch-deps", "--source", {str(root)!r}, "--output", output,
                   {prefetch_input!r}],
    "generate-env": ["generate-env", output, "--for-output-dir", "/cachi2/output", "--output",
                     {str(output.parent / "cachi2.env")!r}],
    "inject-files": ["inject-files", output, "--for-output-dir", "/cachi2/output"],
}}
if got != expected.get(got[0] if got else ""):
    sys.exit(f"unexpected command line: {{got}}")
if os.environ.get("HERMETO_PIP__IGNORE_DEPENDENCIES_CRATES") != "true":
    sys.exit("cargo vendoring should be off (prefetch.rust_crates: false)")
if os.environ.get("HERMETO_FAILS") == got[0]:
    sys.exit(f"{{got[0]}}: a network error")
if got[0] == "fetch-deps":
    deps = pathlib.Path(output, "deps", "pip")
    deps.mkdir(parents=True)
    (deps / "marker.txt").write_text("prefetched by hermeto\\n")
if got[0] == "generate-env":
    pathlib.Path(got[-1]).write_text(
        "export PIP_FIND_LINKS=/cachi2/output/deps/pip\\nexport PIP_NO_INDEX=true\\n"
    )
"""
    )
    path.chmod(0o755)


@pytest.fixture
def stand_in_tree(pinned_repo: Context, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    """The fixture repository with its generated .tekton/, and stand-in Containerfiles."""
    require_tools("buildah", "unshare", "busybox")
    root = pinned_repo.repo_root
    for files in (render_files(pinned_repo), render_pipelines(pinned_repo)):
        for name, text in files.items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_text(text)
    (root / "stand-in").mkdir()
    shutil.copy(shutil.which("busybox"), root / "stand-in" / "busybox")
    # a service on the host's loopback that no RUN may reach
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    registry = "quay.io/example/sig"
    stand_ins = {
        "builder": ["FROM scratch", *BUSYBOX, "RUN /bin/busybox echo builder > /builder"],
        "base": ["FROM scratch", *BUSYBOX, "RUN /bin/busybox echo base > /base-marker"],
        "os": [
            f"FROM {registry}/base-centos10-epoxy@sha256:{ZEROS}",
            # only the local build of base has this file: the placeholder was resolved
            "RUN /bin/busybox cat /base-marker",
        ],
        "keystone": [
            f"FROM {registry}/builder-centos10-epoxy@sha256:{ZEROS} AS wheels",
            "RUN . /cachi2/cachi2.env && /bin/busybox cp $PIP_FIND_LINKS/marker.txt /wheel",
            f"FROM {registry}/os-centos10-epoxy@sha256:{ZEROS}",
            "COPY --from=wheels /wheel /prefetched",
            f"RUN ! /bin/busybox wget -q -T 3 -O /dev/null http://127.0.0.1:{port}/",
        ],
    }
    for image, lines in stand_ins.items():
        (root / "containerfiles" / image / "Containerfile").write_text("\n".join(lines) + "\n")
    push = root / ".tekton" / "keystone-centos10-epoxy-push.yaml"
    params = yaml.safe_load(push.read_text())["spec"]["params"]
    prefetch_input = next(p["value"] for p in params if p["name"] == "prefetch-input")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    hermeto_stand_in(bin_dir / "hermeto", root, prefetch_input)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setenv("BUILDAH_STORAGE_DRIVER", "vfs")
    monkeypatch.setenv("BUILDAH_ROOT", str(tmp_path / "buildah"))
    monkeypatch.chdir(root)
    config = pinned_repo.config_file
    config.write_text(config.read_text() + "prefetch:\n  rust_crates: false\n")
    (root / "rpms.lock.yaml").write_text("lockfileVersion: 1\nlockfileVendor: redhat\n")
    yield {"ctx": pinned_repo, "port": port}
    server.shutdown()


def cli(ctx: Context, *args: str) -> int:
    return main(["--config", str(ctx.config_file), "--tcib-dir", str(ctx.tcib_dir), *args])


def test_prefetch_then_build_in_graph_order_network_off_and_skip_when_unchanged(
    stand_in_tree: dict, capsys: pytest.CaptureFixture
) -> None:
    ctx = stand_in_tree["ctx"]
    assert cli(ctx, "build", "keystone") == 1  # no prefetch yet: says so
    assert "run `make prefetch IMAGE=keystone` first" in capsys.readouterr().err
    assert cli(ctx, "prefetch", "keystone") == 0, capsys.readouterr().err
    assert (ctx.repo_root / "build/prefetch/keystone/output/deps/pip/marker.txt").is_file()
    assert "Rust crates not vendored" in capsys.readouterr().out
    assert cli(ctx, "build", "keystone") == 0, capsys.readouterr().err
    lines = capsys.readouterr().out.splitlines()
    built = [line.split(":")[0] for line in lines if line.endswith(" built")]
    assert built == ["builder", "base", "os", "keystone"]  # the builder, then parents first
    # (the wheels stage copied hermeto's prefetched file: the mount and cachi2.env worked)
    tag = next(line.split()[1] for line in lines if line.startswith("keystone:"))
    # nothing changed: nothing is built again
    assert cli(ctx, "build", "keystone") == 0
    again = capsys.readouterr().out.splitlines()
    assert all(line.endswith("(already built for these inputs)") for line in again), again
    assert [line.split()[1] for line in again if line.startswith("keystone:")] == [tag]
    # the committed Containerfiles are untouched (the FROM placeholders were resolved in copies)
    keystone = (ctx.repo_root / "containerfiles/keystone/Containerfile").read_text()
    assert f"@sha256:{ZEROS}" in keystone
    assert not list(ctx.repo_root.glob(".*.Containerfile"))
    # a change in os's Containerfile rebuilds os and keystone, not base or the builder
    os_file = ctx.repo_root / "containerfiles/os/Containerfile"
    os_file.write_text(os_file.read_text() + "RUN /bin/busybox echo changed\n")
    assert cli(ctx, "build", "keystone") == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in out if line.endswith(" built")] == ["os", "keystone"]


def test_a_run_that_reaches_the_network_fails_the_build(
    stand_in_tree: dict, capsys: pytest.CaptureFixture
) -> None:
    ctx = stand_in_tree["ctx"]
    keystone = ctx.repo_root / "containerfiles/keystone/Containerfile"
    # the same request, now required to succeed: with the network off it cannot
    text = keystone.read_text().replace("RUN ! /bin/busybox wget", "RUN /bin/busybox wget")
    keystone.write_text(text)
    assert cli(ctx, "prefetch", "keystone") == 0
    capsys.readouterr()
    assert cli(ctx, "build", "keystone") == 1
    assert capsys.readouterr().err.splitlines()[-1].startswith("error: build keystone: failed")


def test_prefetch_checks_every_input_first_and_leaves_no_partial_output(
    stand_in_tree: dict, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = stand_in_tree["ctx"]
    lock = ctx.repo_root / "rpms.lock.yaml"
    lock.rename(ctx.repo_root / "rpms.lock.yaml.away")
    build_lock = ctx.repo_root / "requirements" / "keystone-build.txt"
    build_lock.rename(build_lock.with_suffix(".away"))
    assert cli(ctx, "prefetch", "keystone") == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "error: prefetch-input of keystone: requirements/keystone-build.txt, rpms.lock.yaml "
        "missing, so hermeto cannot fetch (run `make pin-python-deps`; run `make lock-rpms` on "
        "a machine that reaches the CentOS mirrors, and commit rpms.lock.yaml)"
    ]
    assert not (ctx.repo_root / "build" / "prefetch").exists()  # hermeto was never called
    (ctx.repo_root / "rpms.lock.yaml.away").rename(lock)
    build_lock.with_suffix(".away").rename(build_lock)
    assert cli(ctx, "prefetch", "keystone") == 0
    good = ctx.repo_root / "build/prefetch/keystone/output/deps/pip/marker.txt"
    assert good.is_file()
    # a hermeto step that fails: the last good prefetch stays, no staging directory is left
    monkeypatch.setenv("HERMETO_FAILS", "inject-files")
    assert cli(ctx, "prefetch", "keystone") == 1
    assert "hermeto inject-files" in capsys.readouterr().err
    assert good.is_file()
    assert sorted(p.name for p in (ctx.repo_root / "build/prefetch").iterdir()) == ["keystone"]


def test_shell_says_it_needs_podman_before_building_anything(
    stand_in_tree: dict, capsys: pytest.CaptureFixture
) -> None:
    """Only buildah here: `make shell` stops at once, without building the builder first."""
    ctx = stand_in_tree["ctx"]
    if shutil.which("podman"):
        pytest.skip("podman is installed: make shell would run")
    assert cli(ctx, "prefetch", "keystone") == 0
    capsys.readouterr()
    assert cli(ctx, "shell", "keystone") == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "error: make shell: needs podman (buildah has no interactive run of an image) (install "
        "podman, or buildah (Debian: apt-get install buildah))"
    ]
    storage = Path(os.environ["BUILDAH_ROOT"])  # where a build would have put its layers
    assert not storage.exists() or (
        not any(storage.rglob("*.tar*")) and not any((storage / "vfs-images").glob("*"))
    )


def test_a_base_image_is_pulled_with_the_network_on_and_one_out_of_reach_is_named(
    stand_in_tree: dict, capsys: pytest.CaptureFixture
) -> None:
    """The RUN steps run offline, but what a build starts FROM is pulled first with the network
    on, as Konflux's buildah task does; an image that cannot be pulled stops the build before
    it starts, naming the image (here a registry on loopback that is not there)."""
    ctx = stand_in_tree["ctx"]
    base = ctx.repo_root / "containerfiles/base/Containerfile"
    unreachable = "127.0.0.1:9/example/centos:stream10"
    base.write_text(f"FROM {unreachable}\nRUN /bin/busybox true\n")
    assert cli(ctx, "prefetch", "keystone") == 0
    capsys.readouterr()
    assert cli(ctx, "build", "keystone") == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith(f"error: build base: {unreachable} cannot be pulled (")
    assert "connection refused" in err[-1] and "make that registry reachable" in err[-1]


def test_the_local_hermeto_is_the_pinned_prefetch_tasks_unless_the_config_names_one(
    pin_repo: Context,
) -> None:
    generated = pin_repo
    from tcibsrc.konflux.facts import upstream_pipeline
    from tcibsrc.konflux.local_build import local_hermeto_image

    recorded = upstream_pipeline().hermeto
    assert recorded is not None and recorded.image.startswith("quay.io/konflux-ci/hermeto:")
    assert local_hermeto_image(generated) == recorded.image
    config = yaml.safe_load(generated.config_file.read_text())
    config["prefetch"] = {"hermeto_image": "registry.example/hermeto:1.0"}
    generated.config_file.write_text(yaml.safe_dump(config))
    generated.__dict__.pop("config", None)
    assert local_hermeto_image(generated) == "registry.example/hermeto:1.0"

"""packages.<name>.install and the Rust sdists: wheels per arch, RPM-held pins, PURE builds.

Each test pins from the loopback index, renders, and runs the same wheels-stage program the
image runs (inside `unshare -n` through verify-hermetic).
"""

from __future__ import annotations

import hashlib
import io
import json
import platform
import zipfile
from pathlib import Path

import pytest
import yaml
from test_hermetic import set_policies, statuses, verify

from pinfixtures import options
from pyindex import Package, PackageIndex
from tcibsrc.common.context import Context
from tcibsrc.common.errors import ToolkitError
from tcibsrc.konflux.prefetch_input import prefetch_input
from tcibsrc.python.lockfile import read_lock_file
from tcibsrc.python.pinning import PinOptions, pin_python_deps
from tcibsrc.python.preflight import lock_problems

ARCHES = ("x86_64", "aarch64")


def wheel_bytes(name: str, version: str, marker: str) -> bytes:
    """A real, installable wheel; `marker` makes each arch's file distinct."""
    dist = f"{name}-{version}"
    files = {
        f"{name}/__init__.py": f'__version__ = "{version}"\nBUILT_FOR = "{marker}"\n',
        f"{dist}.dist-info/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{dist}.dist-info/WHEEL": "Wheel-Version: 1.0\nRoot-Is-Purelib: false\nTag: cp38-abi3\n",
    }
    files[f"{dist}.dist-info/RECORD"] = "".join(f"{path},,\n" for path in files) + (
        f"{dist}.dist-info/RECORD,,\n"
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path, text in files.items():
            archive.writestr(zipfile.ZipInfo(path, date_time=(2020, 1, 1, 0, 0, 0)), text)
    return buffer.getvalue()


def publish_wheels(index: PackageIndex, name: str, version: str) -> dict[str, str]:
    """Wheels for both arches, plus musllinux and Windows ones, and one for a glibc newer than
    CentOS Stream 10's 2.39; filename -> sha256."""
    published = {}
    for tag in (
        *(f"manylinux_2_17_{arch}" for arch in ARCHES),
        "manylinux_2_41_x86_64",
        "musllinux_1_1_x86_64",
        "win_amd64",
    ):
        filename = f"{name}-{version}-cp38-abi3-{tag}.whl"
        data = wheel_bytes(name, version, tag)
        index.add_file(filename, data)
        published[filename] = hashlib.sha256(data).hexdigest()
    return published


def pin_with(ctx: Context, index: PackageIndex, packages: list[Package], line: str) -> None:
    index.add(*packages)
    (ctx.repo_root / "requirements").mkdir(exist_ok=True)
    (ctx.repo_root / "requirements" / "additions.in").write_text(line + "  # images: keystone\n")
    pin_python_deps(ctx, options(ctx, index))


def lock(ctx: Context, name: str) -> dict:
    path = ctx.repo_root / "requirements" / name
    return {str(pin.name): pin for pin in read_lock_file(path, name).values()}


def build_info(ctx: Context) -> dict:
    path = ctx.repo_root / "requirements" / "build-info.json"
    return json.loads(path.read_text())["packages"]


def test_a_package_installed_from_wheels_is_locked_per_arch_prefetched_and_never_built(
    pin_repo: Context, index: PackageIndex, tmp_path: Path
) -> None:
    set_policies(pin_repo, {"fastlib": {"install": "wheel", "reason": "its wheels, by hash"}})
    published = publish_wheels(index, "fastlib", "1.0")
    # its sdist would need a Rust build tool and a crate: neither is wanted any more
    pin_with(
        pin_repo,
        index,
        [
            Package("rust-tool", "1.0"),
            Package("fastlib", "1.0", build_requires=["rust-tool"], crates=["itoa"]),
        ],
        "fastlib",
    )
    pin = lock(pin_repo, "keystone.txt")["fastlib"]
    wanted = {sha for name, sha in published.items() if "manylinux_2_17" in name}
    # both arches; not the glibc 2.41 one, not musl, not Windows, not the sdist
    assert set(pin.hashes) == wanted
    assert "rust-tool" not in lock(pin_repo, "keystone-build.txt")  # nothing builds it
    info = build_info(pin_repo)["fastlib==1.0"]
    assert info["install"] == "wheel" and info["system"]["rpm"] == []
    # hermeto's binary filter names it alone, for the arches and the Python of the images
    pip = prefetch_input(pin_repo, "keystone", builds_wheels=True)[0]
    assert pip["binary"] == {
        "packages": "fastlib",
        "arch": "x86_64,aarch64",
        "os": "linux",
        "py_version": int(pin_repo.config.python_version.replace(".", "")),
    }
    # the wheels stage takes the wheel of this machine's arch, offline, hash-checked
    report = verify(pin_repo, index, "keystone", tmp_path)
    row = next(r for r in report["packages"] if r["package"] == "fastlib==1.0")
    assert row["status"] == "wheel", row
    assert f"manylinux_2_17_{platform.machine()}" in row["note"]
    assert "failed" not in statuses(report).values()
    assert not [p for p in lock_problems(pin_repo) if "fastlib" in p.where]


def test_a_package_with_no_wheel_for_an_arch_is_refused_in_one_line(
    pin_repo: Context, index: PackageIndex
) -> None:
    set_policies(pin_repo, {"onearch": {"install": "wheel", "reason": "x86_64 wheels only"}})
    data = wheel_bytes("onearch", "1.0", "x86_64")
    index.add_file("onearch-1.0-cp38-abi3-manylinux_2_17_x86_64.whl", data)
    # an aarch64 wheel that needs a newer glibc than the distro's does not cover it
    index.add_file("onearch-1.0-cp38-abi3-manylinux_2_41_aarch64.whl", data + b"\0")
    with pytest.raises(ToolkitError) as caught:
        pin_with(pin_repo, index, [Package("onearch", "1.0")], "onearch")
    assert caught.value.where == "onearch==1.0"
    assert "no manylinux wheel for CPython" in caught.value.problem
    assert "aarch64" in caught.value.problem
    assert "install: sdist" in caught.value.fix


def test_a_rust_sdist_hermeto_would_miss_is_an_error_until_built_without_rust(
    pin_repo: Context, index: PackageIndex, tmp_path: Path
) -> None:
    # dulwich's shape: setup.py adds setuptools-rust in code (a hook answer, not pyproject's
    # requires), its crates are optional, and PURE in the environment drops them
    gitlike = Package(
        "gitlike",
        "1.0",
        dynamic_requires=["setuptools-rust"],
        crates=["itoa"],
        pure_switch="PURE",
        top_files={"setup.py": "setup_requires = ['setuptools_rust'] if RUST else []\n"},
    )
    pin_with(pin_repo, index, [Package("setuptools-rust", "1.0"), gitlike], "gitlike")
    info = build_info(pin_repo)["gitlike==1.0"]
    assert info["rust"] is True and info["rust_declared"] is False
    problems = [p for p in lock_problems(pin_repo) if "gitlike" in p.where]
    assert len(problems) == 1
    assert "hermeto will not vendor its crates" in problems[0].message
    assert "packages.gitlike.install: wheel" in (problems[0].fix or "")

    set_policies(
        pin_repo,
        {
            "gitlike": {
                "build_environment": {"PURE": "1"},
                "without_rust": True,
                "reason": "its Rust extensions are optional",
            }
        },
    )
    pin_python_deps(pin_repo, options(pin_repo, index))
    info = build_info(pin_repo)["gitlike==1.0"]
    assert info["rust"] is False and info["dynamic_requires"] == []
    assert "setuptools-rust" not in lock(pin_repo, "keystone-build.txt")
    assert not [p for p in lock_problems(pin_repo) if "gitlike" in p.where]
    # offline, no CARGO_HOME: PURE reaches the build, which needs no crate
    report = verify(pin_repo, index, "keystone", tmp_path)
    assert statuses(report)["gitlike==1.0"] == "proven"


def test_a_package_installed_from_an_rpm_is_held_to_its_version_and_not_built(
    pin_repo: Context, index: PackageIndex
) -> None:
    set_policies(
        pin_repo,
        {"cryptolike": {"install": "rpm", "reason": "the distro's signed build"}},
    )
    index.add(Package("cryptolike", "2.0"))
    uc = pin_repo.repo_root / "upper-constraints.txt"
    uc.write_text(uc.read_text() + "cryptolike===2.0\n")
    config = yaml.safe_load(pin_repo.config_file.read_text())
    config["upper_constraints"]["sha256"] = hashlib.sha256(uc.read_bytes()).hexdigest()
    pin_repo.config_file.write_text(yaml.safe_dump(config))
    pin_repo.__dict__.pop("config", None)
    pin_with(pin_repo, index, [Package("cryptolike", "1.5")], "cryptolike")
    # no RPM lock yet: the pin follows upper-constraints
    assert lock(pin_repo, "keystone.txt")["cryptolike"].version == "2.0"
    rpm_versions = {"python3-cryptolike": "1.5"}
    pin_python_deps(
        pin_repo,
        PinOptions(**{**options(pin_repo, index).__dict__, "rpm_versions": rpm_versions}),
    )
    assert lock(pin_repo, "keystone.txt")["cryptolike"].version == "1.5"
    constraints = (pin_repo.repo_root / "requirements" / "constraints.txt").read_text()
    assert "cryptolike==1.5" in constraints
    info = build_info(pin_repo)["cryptolike==1.5"]
    assert info["install"] == "rpm" and info["rpm"] == "python3-cryptolike"
    # the wheels stage does not build it; the image installs the RPM instead
    from tcibsrc.containers.render import render_files

    files = render_files(pin_repo)
    plan = json.loads(files["containerfiles/keystone/wheels-plan.json"])
    assert "cryptolike" not in {package["name"] for package in plan["packages"]}
    assert "python3-cryptolike" in files["containerfiles/keystone/Containerfile"]


def test_policy_keys_that_contradict_each_other_are_refused(
    pin_repo: Context,
) -> None:
    set_policies(pin_repo, {"x": {"install": "wheel", "without_rust": True, "reason": "r"}})
    with pytest.raises(ToolkitError) as caught:
        _ = pin_repo.config
    assert "packages.x" in caught.value.where
    assert "without_rust" in caught.value.problem

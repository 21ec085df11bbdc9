"""verify-hermetic: wheels built with the network off (unshare -n) from the locks' sdists only."""

from __future__ import annotations

import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
import yaml

from conftest import require_tools
from pinfixtures import options
from pyindex import Package, PackageIndex
from tcibsrc.common.cache import cache_dir
from tcibsrc.common.context import Context
from tcibsrc.common.errors import ToolkitError
from tcibsrc.containers.render import render_files
from tcibsrc.python.pinning import pin_python_deps
from tcibsrc.verify.hermetic import verify_image


def write_rendered(ctx: Context) -> None:
    """make render: the wheels plans verify-hermetic runs are the committed ones."""
    for name, text in render_files(ctx).items():
        (ctx.repo_root / name).parent.mkdir(parents=True, exist_ok=True)
        (ctx.repo_root / name).write_text(text)


def verify(ctx: Context, index: PackageIndex, image: str, tmp_path: Path, **kwargs) -> dict:
    write_rendered(ctx)
    workdir = tmp_path / f"work-{image}"
    workdir.mkdir()
    settings = {
        "index_url": index.url,
        "jobs": 2,
        "hermeto_output": None,
        "cargo_home": None,
        "install_system": False,
        **kwargs,
    }
    return verify_image(ctx, image, workdir=workdir, **settings)


def statuses(report: dict) -> dict[str, str]:
    return {row["package"]: row["status"] for row in report["packages"]}


def set_policies(ctx: Context, packages: dict) -> None:
    """Replace the config's per-package policies (and drop the cached config)."""
    config = yaml.safe_load(ctx.config_file.read_text())
    config["packages"] = packages
    ctx.config_file.write_text(yaml.safe_dump(config))
    ctx.__dict__.pop("config", None)


def add_and_pin(ctx: Context, index: PackageIndex, packages: list[Package], line: str) -> None:
    index.add(*packages)
    (ctx.repo_root / "requirements").mkdir(exist_ok=True)
    (ctx.repo_root / "requirements" / "additions.in").write_text(line + "  # images: keystone\n")
    pin_python_deps(ctx, options(ctx, index))


def test_every_sdist_of_the_image_builds_offline(
    pin_repo: Context, index: PackageIndex, tmp_path: Path
) -> None:
    # keystone's build imports pbr_lite: it only builds if pip installed pbr-lite, from the
    # fetched files, into its isolated build environment
    index.add(
        Package(
            "keystone",
            "27.0.1",
            requires=["oslo-lite"],
            build_requires=["pbr-lite"],
            build_imports=["pbr_lite"],
        )
    )
    pin_python_deps(pin_repo, options(pin_repo, index))
    report = verify(pin_repo, index, "keystone", tmp_path)
    assert report["network"].startswith("off")
    assert statuses(report) == {
        "flit-lite==1.0": "proven",
        "hook-helper==1.0": "proven",
        "keystone==27.0.1": "proven",
        "ldappool==3.0.0": "proven",
        "oslo-lite==1.0": "proven",
        "pbr-lite==1.0": "proven",
        "pymemcache==4.0.0": "proven",
        "python-keystoneclient==5.6.0": "proven",
        "setuptools-lite==1.0": "proven",
    }  # 3.0 is nova's, and nova is not in this image
    roles = {row["package"]: row["role"] for row in report["packages"]}
    assert roles["keystone==27.0.1"] == "runtime" and roles["pbr-lite==1.0"] == "build"
    # the report names the interpreter that built, and says so when it is not the target's
    interpreter = report["python"].split(" (not ")[0]
    version = subprocess.run(
        [interpreter, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if version == "3.12":
        assert report["python"] == interpreter
    else:
        assert report["python"] == (
            f"{interpreter} (not 3.12: the target interpreter is not on this machine)"
        )


def test_a_failed_build_shows_its_log_and_blocks_its_consumers(
    pin_repo: Context, index: PackageIndex, tmp_path: Path
) -> None:
    add_and_pin(
        pin_repo,
        index,
        [
            Package("broken-tool", "1.0", build_imports=["no_such_module_here"]),
            Package("uses-broken", "1.0", build_requires=["broken-tool"]),
        ],
        "uses-broken",
    )
    report = verify(pin_repo, index, "keystone", tmp_path)
    rows = {row["package"]: row for row in report["packages"]}
    assert rows["broken-tool==1.0"]["status"] == "failed"
    assert "no_such_module_here" in rows["broken-tool==1.0"]["log_tail"]
    assert rows["uses-broken==1.0"]["status"] == "not provable"
    assert "needs broken-tool==1.0" in rows["uses-broken==1.0"]["reason"]
    assert rows["keystone==27.0.1"]["status"] == "proven"


def test_rust_sdists_need_vendored_crates(
    pin_repo: Context, index: PackageIndex, tmp_path: Path
) -> None:
    # the toolchain must be there (as on Konflux's builder), else the package is "not
    # provable: system packages missing" whatever CARGO_HOME says
    require_tools("cargo", "rustc")
    add_and_pin(
        pin_repo,
        index,
        [
            Package("setuptools-rust", "1.0"),
            Package("rusty-lib", "1.0", build_requires=["setuptools-rust"], crates=["itoa"]),
        ],
        "rusty-lib",
    )
    info = json.loads((pin_repo.repo_root / "requirements" / "build-info.json").read_text())
    assert info["packages"]["rusty-lib==1.0"]["system"]["rust"] is True
    report = verify(pin_repo, index, "keystone", tmp_path)
    row = next(r for r in report["packages"] if r["package"] == "rusty-lib==1.0")
    assert row["status"] == "not provable", row
    assert "CARGO_HOME" in row["reason"]
    # an empty CARGO_HOME: the build runs, and fails because the crate is not there
    cargo = tmp_path / "vendored-crates"
    cargo.mkdir()
    (tmp_path / "empty").mkdir()
    report = verify(pin_repo, index, "keystone", tmp_path / "empty", cargo_home=cargo)
    row = next(r for r in report["packages"] if r["package"] == "rusty-lib==1.0")
    assert row["status"] == "failed", row
    assert "crate itoa is not vendored" in row["log_tail"]
    # the crate vendored: the build reads it offline and is proven
    (cargo / "vendor" / "itoa").mkdir(parents=True)
    (cargo / "vendor" / "itoa" / "Cargo.toml").write_text('[package]\nname = "itoa"\n')
    (tmp_path / "again").mkdir()
    report = verify(pin_repo, index, "keystone", tmp_path / "again", cargo_home=cargo)
    row = next(r for r in report["packages"] if r["package"] == "rusty-lib==1.0")
    assert row["status"] == "proven", f"rusty-lib: {row.get('reason') or row.get('log_tail')}"


def test_a_hermeto_output_directory_is_used_instead_of_the_index(
    pinned_repo: Context, index: PackageIndex, tmp_path: Path
) -> None:
    output = tmp_path / "hermeto-output"
    shutil.copytree(index.files_dir, output / "deps" / "pip")
    index.refusing = True  # nothing may be downloaded now
    asked = len(index.requests)
    report = verify(pinned_repo, index, "nova-api", tmp_path, hermeto_output=output)
    assert set(statuses(report).values()) == {"proven"}
    assert len(index.requests) == asked
    (output / "deps" / "pip" / "nova-31.3.1.tar.gz").write_bytes(b"tampered")
    (tmp_path / "tampered").mkdir()
    with pytest.raises(ToolkitError, match=r"nova==31\.3\.1: no file with a locked sha256"):
        verify(pinned_repo, index, "nova-api", tmp_path / "tampered", hermeto_output=output)


def test_unknown_image(pinned_repo: Context, index: PackageIndex, tmp_path: Path) -> None:
    with pytest.raises(ToolkitError, match="no lock for image 'mariadb'"):
        verify(pinned_repo, index, "mariadb", tmp_path)


def test_a_reconciled_conflict_reaches_the_build_through_pip_constraint(
    pin_repo: Context, index: PackageIndex, tmp_path: Path
) -> None:
    # picky-tool declares just "setuptools-lite" but, building with tool-x, needs 1.0 (like
    # pbr 7 and setuptools 82); a policy says so. Most consumers need >=3: 1.0 is the extra.
    index.add(
        Package("setuptools-lite", "1.0", extra_modules=["legacy_api"]),
        Package("tool-x", "1.0"),
        Package(
            "picky-tool",
            "1.0",
            build_requires=["setuptools-lite", "tool-x"],
            build_imports=["setuptools_lite.legacy_api"],
        ),
        Package("modern-a", "1.0", build_requires=["setuptools-lite>=3"]),
        Package("modern-b", "1.0", build_requires=["setuptools-lite>=3"]),
    )
    # like pbr: whoever builds with tool-x needs setuptools-lite<2 (build_requires_with)
    set_policies(pin_repo, {"tool-x": {"build_requires_with": ["setuptools-lite<2"]}})
    add_and_pin(pin_repo, index, [], "picky-tool\nmodern-a  # images: keystone\nmodern-b")
    info_path = pin_repo.repo_root / "requirements" / "build-info.json"
    info = json.loads(info_path.read_text())
    assert info["packages"]["picky-tool==1.0"]["build_constraints"] == ["setuptools-lite==1.0"]
    report = verify(pin_repo, index, "keystone", tmp_path)
    assert statuses(report)["picky-tool==1.0"] == "proven"
    # without the constraint pip takes the newest setuptools-lite and the build breaks
    info["packages"]["picky-tool==1.0"]["build_constraints"] = []
    info_path.write_text(json.dumps(info))
    # the wheel cache holds picky-tool built under the constraint: it must not stand in
    (tmp_path / "without").mkdir()
    report = verify(pin_repo, index, "keystone", tmp_path / "without")
    row = next(r for r in report["packages"] if r["package"] == "picky-tool==1.0")
    assert row["status"] == "failed"
    assert "legacy_api" in row["log_tail"]


def test_a_build_tool_whose_runtime_needs_rust_blocks_its_consumers(
    pin_repo: Context, index: PackageIndex, tmp_path: Path
) -> None:
    add_and_pin(
        pin_repo,
        index,
        [
            Package("setuptools-rust", "1.0"),
            Package("rusty-dep", "1.0", build_requires=["setuptools-rust"]),
            Package("tool-a", "1.0", requires=["rusty-dep"]),
            Package("uses-tool", "1.0", build_requires=["tool-a"]),
        ],
        "uses-tool",
    )
    rows = {
        row["package"]: row for row in verify(pin_repo, index, "keystone", tmp_path)["packages"]
    }
    assert rows["rusty-dep==1.0"]["status"] == "not provable"
    assert rows["tool-a==1.0"]["status"] == "proven"  # its own wheel builds
    assert rows["uses-tool==1.0"]["status"] == "not provable"  # its build env needs rusty-dep
    assert "rusty-dep==1.0" in rows["uses-tool==1.0"]["reason"]


def test_an_undeclared_build_requirement_is_built_without_isolation(
    pin_repo: Context, index: PackageIndex, tmp_path: Path
) -> None:
    # like textfsm's setup.py importing six: the build needs a package it does not declare
    index.add(
        Package("undeclared-helper", "1.0"),
        Package("sloppy-lib", "1.0", build_imports=["undeclared_helper"]),
    )
    set_policies(pin_repo, {"sloppy-lib": {"extra_build_requires": ["undeclared-helper"]}})
    add_and_pin(pin_repo, index, [], "sloppy-lib")
    info = json.loads((pin_repo.repo_root / "requirements" / "build-info.json").read_text())
    assert info["packages"]["sloppy-lib==1.0"]["build_env"] == ["undeclared-helper==1.0"]
    report = verify(pin_repo, index, "keystone", tmp_path)
    assert statuses(report)["sloppy-lib==1.0"] == "proven"
    # the wheels stage runs the same program with the same plan: the build_env is in it
    files = render_files(pin_repo)
    keystone = files["containerfiles/keystone/Containerfile"]
    assert "python3 /usr/local/libexec/tcibsrc/build-wheels.py /tmp/wheels-plan.json" in keystone
    plan = json.loads(files["containerfiles/keystone/wheels-plan.json"])
    sloppy = next(p for p in plan["packages"] if p["name"] == "sloppy-lib")
    assert sloppy["build_env"] == ["undeclared-helper==1.0"]
    assert sloppy["needs"] == ["undeclared-helper==1.0"]  # built first, as a build tool
    roles = {f"{p['name']}=={p['version']}": p["role"] for p in plan["packages"]}
    assert roles["undeclared-helper==1.0"] == "build"


def test_cython_as_a_build_tool_installs_uncompiled(
    pin_repo: Context, index: PackageIndex, tmp_path: Path
) -> None:
    """Only a build tool of the image: Cython builds with its NO_CYTHON_COMPILE switch (this
    stand-in's build fails without it), in the plan the wheels stage and the proof share."""
    index.add(
        Package("cython", "3.1.0", build_environment={"NO_CYTHON_COMPILE": "true"}),
        Package("fast-lib", "1.0", build_requires=["cython"], build_imports=["cython"]),
    )
    add_and_pin(pin_repo, index, [], "fast-lib")
    report = verify(pin_repo, index, "keystone", tmp_path)
    assert statuses(report)["cython==3.1.0"] == "proven"
    assert statuses(report)["fast-lib==1.0"] == "proven"
    plan = json.loads(render_files(pin_repo)["containerfiles/keystone/wheels-plan.json"])
    cython = next(p for p in plan["packages"] if p["name"] == "cython")
    assert cython["role"] == "build"
    assert cython["build_environment"] == {"NO_CYTHON_COMPILE": "true"}
    fast = next(p for p in plan["packages"] if p["name"] == "fast-lib")
    assert "build_environment" not in fast


def test_a_wheel_cut_short_in_the_cache_is_built_again_not_proven(
    pinned_repo: Context, index: PackageIndex, tmp_path: Path
) -> None:
    for name in ("first", "second", "third"):
        (tmp_path / name).mkdir()
    first = verify(pinned_repo, index, "keystone", tmp_path / "first")
    assert set(statuses(first).values()) == {"proven"}
    cached = sorted((cache_dir() / "wheels").rglob("*.whl"))
    assert cached and not any(path.name.startswith(".") for path in cached)  # renamed whole
    for path in cached:  # a copy a kill cut short
        path.write_bytes(path.read_bytes()[:100])
    second = verify(pinned_repo, index, "keystone", tmp_path / "second")
    assert set(statuses(second).values()) == {"proven"}
    assert not any("wheel cache" in (row.get("note") or "") for row in second["packages"])
    for path in sorted((cache_dir() / "wheels").rglob("*.whl")):
        with zipfile.ZipFile(path) as archive:
            assert archive.testzip() is None  # whole again
    third = verify(pinned_repo, index, "keystone", tmp_path / "third")
    assert all("wheel cache" in (row.get("note") or "") for row in third["packages"])


def test_the_summary_of_a_run_over_several_images_counts_each_and_the_total() -> None:
    from tcibsrc.interface.commands.verify_hermetic import summary_markdown

    text = summary_markdown(
        [
            ("keystone", {"proven": 120, "wheel": 3, "failed": 0, "not provable": 0}, 301.4),
            ("nova-api", {"proven": 150, "wheel": 2, "failed": 1, "not provable": 3}, 512.0),
        ],
        python="3.12",
    )
    assert text.splitlines() == [
        "| image | proven | from wheels | failed | not provable here "
        "| build seconds (python 3.12) |",
        "|---|---:|---:|---:|---:|---:|",
        "| keystone | 120 | 3 | 0 | 0 | 301 |",
        "| nova-api | 150 | 2 | 1 | 3 | 512 |",
        "| **2 images** | 270 | 5 | 1 | 3 | 813 |",
    ]

"""Without RDO's repository, a RUN line's RDO-only RPM becomes a wheel installed in its place
(the base's `dnf install -y crudini && crudini --set ...` gets crudini before it runs), and
novnc becomes noVNC's release, prefetched by hermeto's generic fetcher and unpacked where the
RPM put it."""

from __future__ import annotations

import hashlib
import io
import subprocess
import tarfile
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from conftest import (
    BASE_CONFIG,
    FIXTURE_TREE,
    RDO_REPOSITORY,
    README_TEXT,
    ConfigWriter,
    write_tree,
)
from pinfixtures import options
from pyindex import Package, PackageIndex
from tcibsrc.common.context import Context
from tcibsrc.common.rdo_repository import rdo_repository
from tcibsrc.containers.artifacts import unpack_command
from tcibsrc.containers.parity_check import parity_problems
from tcibsrc.containers.render import render_files
from tcibsrc.interface.commands.check import rdo_only_problems
from tcibsrc.konflux.local_build import missing_inputs
from tcibsrc.konflux.pipeline_checks import prefetch_problems
from tcibsrc.konflux.prefetch_input import as_json, prefetch_input
from tcibsrc.python.pinning import pin_python_deps
from tcibsrc.rpm.lock_inputs import packages_of
from tcibsrc.tcib.catalog import build_catalog

RDO = RDO_REPOSITORY
UPPER_CONSTRAINTS = "iniparse===0.5.3\n"  # crudini is in no upper-constraints
EPEL = {
    "id": "epel",
    "name": "EPEL",
    "baseurl": "https://example.invalid/epel/$basearch/",
    "gpgkey": "file:///etc/pki/rpm-gpg/RPM-GPG-KEY-EPEL-10",
    "key_package": "epel-release",
    "instead_of_rdo": ["gdisk"],
    "enabled": "auto",
}
CRUDINI_LINE = (
    "- run: dnf install -y crudini && crudini --set /etc/dnf/dnf.conf main tsflags nodocs "
    "&& crudini --set /etc/dnf/dnf.conf main keepcache 0\n"
)


def dnf_image(*packages: str) -> str:
    """An image that installs `packages` with dnf, as TCIB's images do."""
    listed = "".join(f"          - {name}\n" for name in packages)
    return (
        "        tcib_actions:\n"
        "        - run: dnf -y install {{ tcib_packages.common | join(' ') }} && dnf clean all\n"
        "        tcib_packages:\n"
        "          common:\n" + listed
    )


def base_repo(tmp_path, write_config: ConfigWriter, series: str, version: str) -> Context:
    """The fixture base, opening with TCIB's crudini line; the base alone in scope."""
    tree = dict(FIXTURE_TREE)
    tree["tcib/base/base.yaml"] = tree["tcib/base/base.yaml"].replace(
        "tcib_actions:\n", "tcib_actions:\n        " + CRUDINI_LINE, 1
    )
    tree["tcib/base/novncproxy/novncproxy.yaml"] = dnf_image("novnc")
    tree["tcib/base/conductor/conductor.yaml"] = dnf_image("gdisk", "parted")
    tree["tcib/base/conductor/conductorchild/conductorchild.yaml"] = dnf_image("gdisk")
    root = tmp_path / "repo"
    tcib = write_tree(root / "container-images", tree)
    (root / "README.md").write_text(README_TEXT, encoding="utf-8")
    (root / "upper-constraints.txt").write_text(UPPER_CONSTRAINTS, encoding="utf-8")
    config = write_config(
        release={"series": series, "version": version},
        images={"scope": ["base", "novncproxy", "conductor", "conductorchild"]},
        rpm={"repositories": [*BASE_CONFIG["rpm"]["repositories"], RDO, EPEL]},
        upper_constraints={
            "url": "https://example.invalid/raw/" + "1" * 40 + "/uc.txt",
            "sha256": hashlib.sha256(UPPER_CONSTRAINTS.encode()).hexdigest(),
        },
    )
    config.rename(root / "config.yaml")
    return Context(repo_root=root, config_file=root / "config.yaml", tcib_dir=tcib)


def test_without_rdo_crudini_is_a_wheel_installed_before_the_line_that_uses_it(
    tmp_path, write_config: ConfigWriter, index: PackageIndex
) -> None:
    index.add(Package("crudini", "0.9.6", requires=["iniparse"]), Package("iniparse", "0.5.3"))
    ctx = base_repo(tmp_path, write_config, "gazpacho", "2026.1")
    catalog = build_catalog(ctx)
    assert catalog.images["base"].python_projects == ("crudini",)
    pin_python_deps(ctx, options(ctx, index))
    base = render_files(ctx)["containerfiles/base/Containerfile"]
    runtime = base[base.rindex("\nFROM ") :]
    assert "crudini" not in packages_of(runtime)  # no dnf installs it
    # python3 (what the RPM required that stays an RPM) where crudini was, then the wheels,
    # then the rest of TCIB's line, which calls crudini
    python3 = runtime.index(
        "RUN dnf install -y python3 && dnf clean all && rm -rf /var/cache/dnf\n"
    )
    wheels = runtime.index("pip install --no-index")
    uses = runtime.index("RUN crudini --set /etc/dnf/dnf.conf main tsflags nodocs && crudini")
    assert python3 < wheels < uses
    assert runtime.count("pip install --no-index") == 1


def test_with_rdo_the_crudini_line_is_tcibs(
    tmp_path, write_config: ConfigWriter, index: PackageIndex
) -> None:
    ctx = base_repo(tmp_path, write_config, "epoxy", "2025.1")
    assert build_catalog(ctx).images["base"].python_projects == ()
    assert not any("epel" in repo.id for repo in ctx.config.rpm_repositories)
    base = render_files(ctx)["containerfiles/base/Containerfile"]
    assert (
        "RUN dnf install -y crudini && crudini --set /etc/dnf/dnf.conf main tsflags nodocs" in base
    )
    assert "pip install" not in base
    files = render_files(ctx)
    assert "novnc" in packages_of(files["containerfiles/novncproxy/Containerfile"])
    assert "containerfiles/novncproxy/artifacts.lock.yaml" not in files


def novnc_tarball(path: Path) -> None:
    """A release shaped like noVNC's: one top directory, the app, and what the RPM drops."""
    members = {
        "vnc.html": "full", "vnc_lite.html": "lite", "app/ui.js": "ui", "core/rfb.js": "rfb",
        "po/de.po": "de", "po/Makefile": "make", "tests/test.js": "t", "snap/x": "s",
        "utils/novnc_proxy": "p", ".gitignore": "g",
    }  # fmt: skip
    with tarfile.open(path, "w:gz") as archive:
        for name, text in members.items():
            data = text.encode()
            info = tarfile.TarInfo(f"noVNC-1.5.0/{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))


def test_without_rdo_novnc_is_noVNCs_release_through_the_generic_fetcher(
    tmp_path, write_config: ConfigWriter, index: PackageIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    index.add(Package("crudini", "0.9.6", requires=["iniparse"]), Package("iniparse", "0.5.3"))
    ctx = base_repo(tmp_path, write_config, "gazpacho", "2026.1")
    pin_python_deps(ctx, options(ctx, index))
    files = render_files(ctx)
    proxy = files["containerfiles/novncproxy/Containerfile"]
    assert "novnc" not in packages_of(proxy)
    artifact = rdo_repository().rpms["novnc"].artifact
    assert artifact is not None
    assert f"RUN {unpack_command(artifact)}" in proxy
    lock = yaml.safe_load(files["containerfiles/novncproxy/artifacts.lock.yaml"])
    assert lock == {
        "metadata": {"version": "1.0"},
        "artifacts": [
            {
                "download_url": artifact.download_url,
                "checksum": artifact.checksum,
                "filename": "novnc-1.5.0.tar.gz",
            }
        ],
    }
    assert "containerfiles/base/artifacts.lock.yaml" not in files
    # the PipelineRun's prefetch-input names it for hermeto, and passes the checks
    for relative, text in files.items():
        (ctx.repo_root / relative).parent.mkdir(parents=True, exist_ok=True)
        (ctx.repo_root / relative).write_text(text, encoding="utf-8")
    packages = prefetch_input(ctx, "novncproxy", builds_wheels=False)
    assert packages[-1] == {
        "type": "generic",
        "path": ".",
        "lockfile": "containerfiles/novncproxy/artifacts.lock.yaml",
    }
    assert list(prefetch_problems(as_json(packages), "p.yaml", ctx.repo_root)) == []
    assert prefetch_input(ctx, "base", builds_wheels=True)[-1]["type"] == "rpm"
    assert missing_inputs(ctx.repo_root, as_json(packages[-1:])) == []
    # a lockfile that is not there, or outside the path, is named (hermeto would stop on it)
    (ctx.repo_root / packages[-1]["lockfile"]).unlink()
    assert missing_inputs(ctx.repo_root, as_json(packages[-1:])) == [
        ("containerfiles/novncproxy/artifacts.lock.yaml", "run `make render`")
    ]
    assert [str(p) for p in prefetch_problems(as_json(packages[-1:]), "p.yaml", ctx.repo_root)] == [
        "p.yaml: prefetch-input generic lockfile containerfiles/novncproxy/artifacts.lock.yaml "
        "does not exist"
    ]
    outside = [{**packages[-1], "lockfile": "../elsewhere.yaml"}]
    assert "is outside its path" in str(
        next(iter(prefetch_problems(as_json(outside), "p.yaml", ctx.repo_root)))
    )
    # parity: nova-novncproxy's RPM required novnc; the unpacked release stands for it
    catalog = build_catalog(ctx)
    parity_data = tmp_path / "parity.yaml"
    parity_data.write_text(
        "packages:\n  python3-pymemcache:\n    spec: python-pymemcache\n    requires: [novnc]\n"
    )
    monkeypatch.setenv("TCIBSRC_PARITY", str(parity_data))
    proxy_catalog = replace(
        catalog,
        images={
            **catalog.images,
            "novncproxy": replace(
                catalog.images["novncproxy"], source_rpms=("python3-pymemcache",)
            ),
        },
    )
    novnc = "requires the RPM novnc"
    assert not [p for p in parity_problems(ctx, proxy_catalog, files) if novnc in p.message]
    without = {**files, "containerfiles/novncproxy/Containerfile": "FROM x\n"}
    assert [p for p in parity_problems(ctx, proxy_catalog, without) if novnc in p.message]


def test_the_unpack_command_puts_the_release_where_the_rpm_did(tmp_path: Path) -> None:
    artifact = rdo_repository().rpms["novnc"].artifact
    assert artifact is not None
    generic = tmp_path / "cachi2/output/deps/generic"
    generic.mkdir(parents=True)
    novnc_tarball(generic / artifact.filename)
    command = (
        unpack_command(artifact)
        .replace("/tmp/", "@scratch@")
        .replace("/cachi2/", f"{tmp_path}/cachi2/")
        .replace("/usr/share", f"{tmp_path}/usr/share")
        .replace("@scratch@", f"{tmp_path}/scratch-")
    )
    subprocess.run(["bash", "-euc", command], check=True)
    into = tmp_path / "usr/share/novnc"
    found = sorted(str(p.relative_to(into)) for p in into.rglob("*") if p.is_file())
    assert found == [
        "app/ui.js", "core/rfb.js", "index.html", "po/de.po", "vnc.html", "vnc_auto.html",
        "vnc_lite.html",
    ]  # fmt: skip
    assert (into / "index.html").read_text() == "full"
    assert (into / "vnc_auto.html").read_text() == "lite"
    assert not list(tmp_path.glob("scratch-*"))  # nothing left behind


def test_without_rdo_gdisk_comes_from_the_repository_that_stands_in_with_its_key_first(
    tmp_path, write_config: ConfigWriter, index: PackageIndex
) -> None:
    index.add(Package("crudini", "0.9.6", requires=["iniparse"]), Package("iniparse", "0.5.3"))
    ctx = base_repo(tmp_path, write_config, "gazpacho", "2026.1")
    assert [repo.id for repo in ctx.config.rpm_repositories if "epel" in repo.id] == ["epel"]
    pin_python_deps(ctx, options(ctx, index))
    files = render_files(ctx)
    conductor = files["containerfiles/conductor/Containerfile"]
    key = conductor.index(
        "RUN dnf -y install epel-release && rm -f $(rpm -ql epel-release | grep "
        "'^/etc/yum.repos.d/') && rpm --import /etc/pki/rpm-gpg/RPM-GPG-KEY-EPEL-10"
    )
    assert key < conductor.index("RUN dnf -y install gdisk parted")
    # its child has the key already: gdisk again, epel-release not
    child = files["containerfiles/conductorchild/Containerfile"]
    assert "RUN dnf -y install gdisk" in child and "epel-release" not in child
    # rpms.repo takes from EPEL only what it stands in for (not epel-release, whose key
    # would be needed to install it)
    assert "includepkgs=gdisk\n" in files["rpms.repo"]
    # the base imports the keys it has, not EPEL's, which only epel-release brings
    base = files["containerfiles/base/Containerfile"]
    assert "RPM-GPG-KEY-EPEL-10" not in base and "rpm --import /etc/pki/rpm-gpg/KEY" in base
    assert "[epel]" in files["rpms.repo"] and "- epel-release" in files["rpms.in.yaml"]
    catalog = build_catalog(ctx)
    assert list(rdo_only_problems(ctx, catalog, files)) == []
    # without the stand-in, gdisk is an error naming the replacement chosen
    write_config(
        release={"series": "gazpacho", "version": "2026.1"},
        images={"scope": ["base", "novncproxy", "conductor", "conductorchild"]},
        rpm={"repositories": [*BASE_CONFIG["rpm"]["repositories"], RDO]},
    ).rename(ctx.config_file)
    ctx.__dict__.pop("config", None)
    problems = list(rdo_only_problems(ctx, catalog, files))
    assert [(p.where, p.is_warning) for p in problems] == [
        ("gdisk (conductor, conductorchild)", False)
    ]
    assert "EPEL 10's gdisk" in problems[0].message and "instead_of_rdo" in problems[0].fix

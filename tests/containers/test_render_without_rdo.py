"""Without RDO's repository, a RUN line's RDO-only RPM becomes a wheel installed in its place:
the base's `dnf install -y crudini && crudini --set ...` gets crudini before it runs."""

from __future__ import annotations

import hashlib

from conftest import BASE_CONFIG, FIXTURE_TREE, README_TEXT, ConfigWriter, write_tree
from pinfixtures import options
from pyindex import Package, PackageIndex
from tcibsrc.common.context import Context
from tcibsrc.containers.render import render_files
from tcibsrc.python.pinning import pin_python_deps
from tcibsrc.rpm.lock_inputs import packages_of
from tcibsrc.tcib.catalog import build_catalog

RDO = {
    "id": "cloud-openstack-{series}",
    "name": "RDO",
    "baseurl": "https://example.invalid/openstack-{series}/$basearch/",
    "gpgkey": "file:///etc/pki/rpm-gpg/RPM-GPG-KEY-CentOS-SIG-Cloud",
    "rdo": True,
    "enabled": "auto",
}
UPPER_CONSTRAINTS = "iniparse===0.5.3\n"  # crudini is in no upper-constraints
CRUDINI_LINE = (
    "- run: dnf install -y crudini && crudini --set /etc/dnf/dnf.conf main tsflags nodocs "
    "&& crudini --set /etc/dnf/dnf.conf main keepcache 0\n"
)


def base_repo(tmp_path, write_config: ConfigWriter, series: str, version: str) -> Context:
    """The fixture base, opening with TCIB's crudini line; the base alone in scope."""
    tree = dict(FIXTURE_TREE)
    tree["tcib/base/base.yaml"] = tree["tcib/base/base.yaml"].replace(
        "tcib_actions:\n", "tcib_actions:\n        " + CRUDINI_LINE, 1
    )
    root = tmp_path / "repo"
    tcib = write_tree(root / "container-images", tree)
    (root / "README.md").write_text(README_TEXT, encoding="utf-8")
    (root / "upper-constraints.txt").write_text(UPPER_CONSTRAINTS, encoding="utf-8")
    config = write_config(
        release={"series": series, "version": version},
        images={"scope": ["base"]},
        rpm={"repositories": [*BASE_CONFIG["rpm"]["repositories"], RDO]},
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
    python3 = runtime.index("RUN dnf install -y python3\n")
    wheels = runtime.index("pip install --no-index")
    uses = runtime.index("RUN crudini --set /etc/dnf/dnf.conf main tsflags nodocs && crudini")
    assert python3 < wheels < uses
    assert runtime.count("pip install --no-index") == 1


def test_with_rdo_the_crudini_line_is_tcibs(
    tmp_path, write_config: ConfigWriter, index: PackageIndex
) -> None:
    ctx = base_repo(tmp_path, write_config, "epoxy", "2025.1")
    assert build_catalog(ctx).images["base"].python_projects == ()
    base = render_files(ctx)["containerfiles/base/Containerfile"]
    assert (
        "RUN dnf install -y crudini && crudini --set /etc/dnf/dnf.conf main tsflags nodocs" in base
    )
    assert "pip install" not in base

"""Without RDO's Cloud SIG OpenStack repository, what only it builds is replaced or named."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import (
    BASE_CONFIG,
    FIXTURE_TREE,
    RDO_REPOSITORY,
    README_TEXT,
    ConfigWriter,
    write_tree,
)
from tcibsrc.common.context import Context
from tcibsrc.common.errors import ToolkitError
from tcibsrc.interface.commands.check import rdo_only_problems
from tcibsrc.tcib.catalog import build_catalog
from tcibsrc.tcib.classify import Kind

RDO = RDO_REPOSITORY


def repo_with(tmp_path: Path, write_config: ConfigWriter, series: str, version: str) -> Context:
    """The fixture tree with keystone also installing dumb-init and gdisk (two RPMs only RDO
    builds for CentOS Stream 10: one PyPI replaces, one it does not)."""
    tree = dict(FIXTURE_TREE)
    tree["tcib/base/os/keystone/keystone.yaml"] = tree[
        "tcib/base/os/keystone/keystone.yaml"
    ].replace(
        "          - httpd\n", "          - httpd\n          - dumb-init\n          - gdisk\n"
    )
    tcib = write_tree(tmp_path / "container-images", tree)
    rpm = {"repositories": [*BASE_CONFIG["rpm"]["repositories"], RDO]}
    write_config(release={"series": series, "version": version}, rpm=rpm)
    (tmp_path / "README.md").write_text(README_TEXT, encoding="utf-8")
    return Context(repo_root=tmp_path, config_file=tmp_path / "config.yaml", tcib_dir=tcib)


def test_a_series_rdo_publishes_keeps_the_repository_and_its_rpms(
    tmp_path: Path, write_config: ConfigWriter
) -> None:
    ctx = repo_with(tmp_path, write_config, "epoxy", "2025.1")
    assert ctx.config.rdo_repository
    assert any("openstack-epoxy" in repo.baseurl for repo in ctx.config.rpm_repositories)
    classes = build_catalog(ctx).classifications
    assert classes["dumb-init"].kind is Kind.SYSTEM
    assert list(rdo_only_problems(ctx, build_catalog(ctx), {})) == []


def test_a_series_rdo_does_not_publish_goes_without_it(
    tmp_path: Path, write_config: ConfigWriter
) -> None:
    ctx = repo_with(tmp_path, write_config, "gazpacho", "2026.1")
    assert not ctx.config.rdo_repository
    # the repository is not in rpms.repo, the lock or the prefetch-input at all
    assert not any("openstack-" in repo.baseurl for repo in ctx.config.rpm_repositories)
    catalog = build_catalog(ctx)
    # dumb-init becomes the PyPI project the image builds; gdisk stays, and is named
    assert catalog.classifications["dumb-init"].kind is Kind.SOURCE
    assert catalog.classifications["dumb-init"].projects == ("dumb-init",)
    assert "dumb-init" in catalog.images["keystone"].python_projects
    assert catalog.classifications["gdisk"].kind is Kind.SYSTEM
    files = {"containerfiles/keystone/Containerfile": "RUN dnf -y install httpd gdisk\n"}
    problems = list(rdo_only_problems(ctx, catalog, files))
    assert [p.where for p in problems] == ["gdisk (keystone)"]
    assert "EPEL 10" in problems[0].message and not problems[0].is_warning  # an error now
    # a pyeclib policy follows: liberasurecode's replacement comes from its wheels
    policy = ctx.config.policy_for("pyeclib")
    assert policy is not None and policy.install == "wheel"


def test_the_repository_can_be_forced_on_or_off(tmp_path: Path, write_config: ConfigWriter) -> None:
    ctx = repo_with(tmp_path, write_config, "gazpacho", "2026.1")
    forced = {**RDO, "enabled": True}
    write_config(
        release={"series": "gazpacho", "version": "2026.1"},
        rpm={"repositories": [*BASE_CONFIG["rpm"]["repositories"], forced]},
    )
    ctx.__dict__.pop("config", None)
    assert ctx.config.rdo_repository
    write_config(rpm={"repositories": [{**RDO, "enabled": "sometimes"}]})
    ctx.__dict__.pop("config", None)
    with pytest.raises(ToolkitError, match=r"rpm\.repositories"):
        _ = ctx.config


def test_auto_belongs_to_rdos_repository(tmp_path: Path, write_config: ConfigWriter) -> None:
    ctx = repo_with(tmp_path, write_config, "epoxy", "2025.1")
    write_config(rpm={"repositories": [{**RDO, "rdo": False}]})
    ctx.__dict__.pop("config", None)
    with pytest.raises(ToolkitError, match="needs rdo: true"):
        _ = ctx.config


def test_a_repository_standing_in_for_rdo_is_checked(
    tmp_path: Path, write_config: ConfigWriter
) -> None:
    ctx = repo_with(tmp_path, write_config, "gazpacho", "2026.1")
    epel = {
        "id": "epel",
        "name": "EPEL",
        "baseurl": "https://example.invalid/epel/",
        "gpgkey": "file:///etc/pki/rpm-gpg/RPM-GPG-KEY-EPEL-10",
        "key_package": "epel-release",
        "instead_of_rdo": ["gdisk"],
        "enabled": "auto",
    }
    for bad, words in (
        ({"instead_of_rdo": ["vim"]}, "vim is not an RPM only RDO builds"),
        ({"gpgkey": "https://example.invalid/KEY"}, "gpgkey must be file://"),
        ({"instead_of_rdo": [], "key_package": None}, "needs rdo: true, or instead_of_rdo"),
        ({"rdo": True}, "exclude each other"),
        ({"key_package": "epel-release; rm -rf /"}, "key_package"),
        ({"instead_of_rdo": ["crudini"]}, "crudini is not an RPM only RDO builds that another"),
        ({"instead_of_rdo": []}, "needs rdo: true, or instead_of_rdo"),
        ({"instead_of_rdo": [], "enabled": True}, "key_package is installed before"),
        ({"gpgkey": "file:///k && touch /x"}, "gpgkey"),
    ):
        write_config(rpm={"repositories": [{**epel, **bad}]})
        ctx.__dict__.pop("config", None)
        with pytest.raises(ToolkitError, match=r"rpm\.repositories") as caught:
            _ = ctx.config
        assert words in str(caught.value), (bad, str(caught.value))
    # on exactly when RDO's is not: off for epoxy, which RDO publishes
    write_config(
        release={"series": "epoxy", "version": "2025.1"}, rpm={"repositories": [RDO, epel]}
    )
    ctx.__dict__.pop("config", None)
    assert [repo.id for repo in ctx.config.rpm_repositories] == ["cloud-openstack-epoxy"]

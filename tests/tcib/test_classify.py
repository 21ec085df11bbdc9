"""Classification: kept RPM or source-built Python, with PyPI names from the table or pymod2pkg."""

from __future__ import annotations

import pytest

from tcibsrc.common.errors import ClassificationError
from tcibsrc.tcib.classify import Kind, classify, classify_all, derive_pypi_name, load_table


@pytest.mark.parametrize(
    ("rpm", "projects"),
    [
        ("openstack-keystone", ("keystone",)),
        ("openstack-nova-api", ("nova",)),  # a subpackage maps to its project
        ("openstack-neutron-sriov-nic-agent", ("neutron",)),
        ("openstack-ironic-inspector-dnsmasq", ("ironic-inspector",)),
        ("python3-keystoneclient", ("python-keystoneclient",)),  # clients are python-<x>client
        ("python3-osc-placement", ("osc-placement",)),
        ("python3-ldappool", ("ldappool",)),
        ("python3-requests-kerberos", ("requests-kerberos",)),
        ("python3-PyMySQL", ("PyMySQL",)),
    ],
)
def test_names_derived_with_pymod2pkg(rpm: str, projects: tuple[str, ...]) -> None:
    result = classify(rpm)
    assert result.kind is Kind.SOURCE
    assert result.projects == projects
    assert result.derived


@pytest.mark.parametrize(
    ("rpm", "projects"),
    [
        ("openstack-placement-api", ("openstack-placement",)),
        ("openstack-heat-engine", ("openstack-heat",)),
        ("python3-networking-ovn-metadata-agent", ("neutron",)),
        ("openstack-watcher-api", ("python-watcher",)),
        ("openstack-dashboard", ("horizon",)),
        ("python3-oslo-reports", ("oslo.reports",)),
        ("ovn-bgp-agent", ("ovn-bgp-agent",)),
    ],
)
def test_explicit_table_entries(rpm: str, projects: tuple[str, ...]) -> None:
    result = classify(rpm)
    assert (result.kind, result.projects, result.derived) == (Kind.SOURCE, projects, False)


@pytest.mark.parametrize(
    "rpm",
    [
        "python3-mod_wsgi",
        "python3-rados",
        "python3-rbd",
        "python3-libvirt",
        "python3-unbound",
        "python3-openvswitch",
        "python3-systemd",
        "python3-rtslib",
    ],
)
def test_c_bindings_stay_rpm(rpm: str) -> None:
    result = classify(rpm)
    assert result.kind is Kind.KEPT
    assert result.reason


def test_system_software_stays_rpm() -> None:
    assert classify("httpd").kind is Kind.SYSTEM
    assert classify("openvswitch-ovn-central").kind is Kind.SYSTEM


def test_unknown_python_names_are_errors_with_the_fix() -> None:
    with pytest.raises(ClassificationError) as caught:
        classify("python3-shiny-new")
    assert "rpm_classes.yaml" in caught.value.line()
    with pytest.raises(ClassificationError):
        classify("openstack-zaqar")


def test_errors_name_the_image_file_that_uses_the_package() -> None:
    with pytest.raises(ClassificationError) as caught:
        classify_all(["httpd", "python3-shiny-new"], {"python3-shiny-new": "tcib/base/x/x.yaml"})
    assert caught.value.where == "tcib/base/x/x.yaml: tcib_packages: python3-shiny-new"


def test_every_null_entry_of_the_table_derives() -> None:
    table = load_table()
    for rpm, projects in table.source.items():
        if projects is None:
            assert derive_pypi_name(rpm), rpm
    assert not set(table.keep) & set(table.source)


def test_pymod2pkg_cannot_derive_the_names_the_table_spells_out() -> None:
    # The explicit entries exist because the derivation would be wrong or impossible.
    assert derive_pypi_name("openstack-placement-api") != "openstack-placement"
    assert derive_pypi_name("openstack-dashboard") is None

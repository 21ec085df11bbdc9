"""The real TCIB tree and operator CRD (REFERENCE_DATA): everything loads and is classified.

These run wherever the reference data sits beside the repository (developer machines and CI
here); they check our rules and tables against upstream's real files.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from conftest import REFERENCE, REFERENCE_TCIB, REPO_ROOT
from tcibsrc.common.context import Context
from tcibsrc.interface.commands.check import collect_problems
from tcibsrc.tcib.catalog import build_catalog, load_tcib
from tcibsrc.tcib.classify import Kind, classify
from tcibsrc.tcib.containers_yaml import read_containers_yaml
from tcibsrc.tcib.contract import kolla_users, operator_image_keys

pytestmark = [
    pytest.mark.reference,
    pytest.mark.skipif(not REFERENCE_TCIB.is_dir(), reason="no reference data (REFERENCE_DATA)"),
]


@pytest.fixture(scope="module")
def ctx() -> Context:
    return Context(
        repo_root=REPO_ROOT, config_file=REPO_ROOT / "config.yaml", tcib_dir=REFERENCE_TCIB
    )


def test_all_104_images_load(ctx: Context) -> None:
    images = load_tcib(ctx)
    assert len(images) == 104
    assert [name for name, image in images.items() if image.parent is None] == ["base"]
    assert max(image.level for image in images.values()) == 4  # five levels deep


@pytest.mark.parametrize(
    ("image", "parent"),
    [
        ("os", "base"),
        ("ovn-base", "base"),
        ("mariadb", "base"),
        ("openstackclient", "base"),
        ("keystone", "os"),
        ("glance-api", "os"),
        ("placement-api", "os"),
        ("neutron-base", "os"),
        ("neutron-server", "neutron-base"),
        ("neutron-agent-base", "neutron-base"),
        ("neutron-dhcp-agent", "neutron-agent-base"),
        ("nova-base", "os"),
        ("nova-api", "nova-base"),
        ("ovn-northd", "ovn-base"),
        ("tempest-all", "tempest"),
        ("ansible-tests", "base"),
        ("ovn-bgp-agent", "base"),
    ],
)
def test_parents_match_tcib(ctx: Context, image: str, parent: str) -> None:
    assert load_tcib(ctx)[image].parent == parent


def independent_tcib_reading(root: Path) -> dict[str, tuple[str | None, dict]]:
    """TCIB's rules read afresh: an image is a directory under tcib/ with a file whose name
    ends in "yaml" or "yml"; its parent is the nearest such ancestor; its files are merged in
    sorted order, the last one winning each top-level key."""
    by_directory: dict[Path, list[Path]] = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.name.endswith(("yaml", "yml")) and path.parent != root:
            by_directory.setdefault(path.parent, []).append(path)
    result: dict[str, tuple[str | None, dict]] = {}
    for directory, files in by_directory.items():
        merged: dict = {}
        for path in sorted(files, key=lambda p: p.name):
            merged.update(yaml.safe_load(path.read_text()) or {})
        ancestor = directory.parent
        while ancestor != root and ancestor not in by_directory:
            ancestor = ancestor.parent
        result[directory.name] = (None if ancestor == root else ancestor.name, merged)
    return result


def test_parents_and_merged_definitions_match_tcibs_rules_for_every_image() -> None:
    from tcibsrc.tcib.tree import discover

    expected = independent_tcib_reading(REFERENCE_TCIB / "tcib")
    found = discover(REFERENCE_TCIB)
    assert len(expected) == len(found) == 104
    for name, (parent, merged) in expected.items():
        assert found[name].parent == parent, name
        assert found[name].data == merged, name


def test_every_rpm_of_every_image_is_classified(ctx: Context) -> None:
    images = load_tcib(ctx)
    names = {rpm for image in images.values() for rpm in image.rpms}
    assert len(names) == 219
    kinds = {rpm: classify(rpm).kind for rpm in names}
    source = {rpm for rpm, kind in kinds.items() if kind is Kind.SOURCE}
    assert "python3-mod_wsgi" not in source and "httpd" not in source
    assert {"openstack-keystone", "python3-ldappool", "ovn-bgp-agent"} <= source
    assert all(
        not rpm.startswith(("python3-", "openstack-")) or kind is not Kind.SYSTEM
        for rpm, kind in kinds.items()
    )


def test_containers_yaml_names_are_images_and_the_rest_are_parents(ctx: Context) -> None:
    images = load_tcib(ctx)
    listed = read_containers_yaml(REFERENCE_TCIB)
    assert len(listed) == 85
    assert set(listed) <= set(images)
    unlisted = set(images) - set(listed)
    assert {"base", "os", "ovn-base", "rally"} <= unlisted
    assert all(
        name in {"base", "os", "ovn-base", "rally"} or name.endswith("-base") for name in unlisted
    )


def test_the_minimal_subset(ctx: Context) -> None:
    catalog = build_catalog(replace(ctx, subset="minimal"))
    assert catalog.scope.added_parents == ("base", "os", "ovn-base", "neutron-base", "nova-base")
    keystone = catalog.images["keystone"]
    assert keystone.python_projects == ("keystone", "ldappool", "requests-kerberos")
    assert set(keystone.kept_rpms) == {
        "httpd",
        "mod_auth_gssapi",
        "mod_auth_openidc",
        "mod_ssl",
        "python3-mod_wsgi",
    }
    assert [(u.name, u.uid) for u in keystone.service_users] == [("keystone", 42425)]
    assert catalog.images["placement-api"].python_projects == ("openstack-placement",)
    assert catalog.images["neutron-server"].operator_keys == (
        "neutronAPIImage",
        "infraDnsmasqImage",
    )
    for image in catalog.ordered():
        assert image.user_uid is not None, image.name


def test_the_whole_set(ctx: Context) -> None:
    """Every image RDO builds from TCIB on release 10: containers.yaml's 85 (valkey for redis),
    rally, and their parents; redis alone left out."""
    catalog = build_catalog(ctx)
    assert len(catalog.scope.ordered) == 103
    assert set(load_tcib(ctx)) - set(catalog.scope.ordered) == {"redis"}


def test_operator_keys_exist_in_the_crd_and_name_tcib_images(ctx: Context) -> None:
    crd = yaml.safe_load(
        (REFERENCE / "openstack-operator" / "core.openstack.org_openstackversions.yaml").read_text()
    )
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    properties = schema["properties"]["spec"]["properties"]["customContainerImages"]["properties"]
    images = load_tcib(ctx)
    for image, keys in operator_image_keys().items():
        assert image in images, image
        for key in keys:
            assert key in properties, (image, key)


def test_every_user_the_tree_uses_has_a_kolla_uid(ctx: Context) -> None:
    known = kolla_users()
    for image in load_tcib(ctx).values():
        for user in [*image.managed_users, image.user]:
            assert user == "root" or user in known, (image.name, user)


def test_make_check_passes_on_the_repository(ctx: Context, repository_data: None) -> None:
    problems = [str(p) for p in collect_problems(ctx) if not p.is_warning]
    assert problems == []


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def upper_constraints_read_afresh() -> dict[str, str]:
    """name===version lines whose marker (if any) holds for CPython 3.12 on x86_64 Linux."""
    from packaging.markers import Marker

    environment = {
        "python_version": "3.12",
        "python_full_version": "3.12.0",
        "sys_platform": "linux",
        "platform_machine": "x86_64",
        "platform_system": "Linux",
        "os_name": "posix",
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
    }
    pins = {}
    for line in (REFERENCE / "upper-constraints" / "2025.1.txt").read_text().splitlines():
        requirement, _, marker = line.partition(";")
        if "===" not in requirement or (marker and not Marker(marker).evaluate(environment)):
            continue
        name, version = requirement.split("===")
        pins[canonical(name)] = version.strip()
    return pins


def lock_read_afresh(path: Path) -> dict[str, tuple[str, list[str]]]:
    """name -> (version, hashes) of a requirements lock, from its lines alone."""
    pins: dict[str, tuple[str, list[str]]] = {}
    current = None
    for line in path.read_text().splitlines():
        entry = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)", line)
        if entry:
            current = canonical(entry.group(1))
            pins[current] = (entry.group(2), [])
        digest = re.search(r"--hash=sha256:([0-9a-f]{64})", line)
        if digest and current:
            pins[current][1].append(digest.group(1))
    return pins


def series_read_afresh() -> dict[str, list[str]]:
    data = yaml.safe_load((REPO_ROOT / "scripts/tcibsrc/data/series/epoxy.yaml").read_text())
    return {canonical(name): entry["versions"] for name, entry in data["deliverables"].items()}


def test_committed_locks_follow_upper_constraints_and_the_series() -> None:
    from packaging.version import Version

    uc = upper_constraints_read_afresh()
    series = series_read_afresh()
    pins = lock_read_afresh(REPO_ROOT / "requirements" / "all.txt")
    assert len(pins) > 150
    as_wheels = {
        canonical(name)
        for name, entry in yaml.safe_load(
            (REPO_ROOT / "scripts/tcibsrc/data/package_policies.yaml").read_text()
        )["packages"].items()
        if entry.get("install") == "wheel"
    }
    for name, (version, hashes) in pins.items():
        # one sdist; for a package installed from wheels, a wheel per arch at least
        assert len(hashes) == 1 or (name in as_wheels and len(hashes) >= 2), name
        if name in uc:
            assert Version(version) == Version(uc[name]), name
        elif name in series:
            assert version in series[name], name
    assert pins["keystone"][0].startswith("27.0.")
    assert pins["nova"][0].startswith("31.")


def test_every_library_and_client_name_is_a_real_release_name() -> None:
    """PyPI names from the classification are in upper-constraints or the series data."""
    from packaging.utils import canonicalize_name

    from tcibsrc.tcib.classify import classify, load_table

    uc = upper_constraints_read_afresh()
    deliverables = series_read_afresh()
    # not part of the epoxy release: third-party hardware libraries and unreleased plugins
    outside = {"proliantutils", "python-scciclient", "rally", "rally-openstack", "sushy-oem-idrac"}
    for name in outside:  # the exception list stays honest
        assert canonicalize_name(name) not in uc and canonicalize_name(name) not in deliverables
    for rpm in load_table().source:
        for project in classify(rpm).projects:
            key = canonicalize_name(project)
            assert key in uc or key in deliverables or project in outside, (rpm, project)

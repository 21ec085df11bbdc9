"""Scope: TCIB's name normalisation, parents added, the redis/valkey rule, exclusions."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import write_tree
from tcibsrc.common.errors import ScopeError, TcibError
from tcibsrc.tcib.containers_yaml import normalise_image_name, read_containers_yaml
from tcibsrc.tcib.images import TcibImage, load_images
from tcibsrc.tcib.scope import resolve_scope

CLI = {
    "tcib_distro": "centos",
    "tcib_release": "10",
    "tcib_python_version": "3.12",
    "tcib_package": "",
}


def images(tcib_dir: Path) -> dict[str, TcibImage]:
    return load_images(tcib_dir, CLI, lambda name: name, "distro:base")


@pytest.mark.parametrize(
    ("reference", "name"),
    [
        ("quay.io/podified-master-centos9/openstack-keystone:current-podified", "keystone"),
        ("openstack-nova-api", "nova-api"),
        ("localhost/centos-binary-horizon", "horizon"),
        ("registry/ns/rhel-source-glance-api:17", "glance-api"),
        ("ubi8-rdo-cron:tag", "cron"),
        ("openstack-openstackclient", "openstackclient"),  # only one prefix is stripped
        ("keystone", "keystone"),
    ],
)
def test_names_are_normalised_like_tcib(reference: str, name: str) -> None:
    assert normalise_image_name(reference) == name


def test_containers_yaml_is_read_and_normalised(tcib_dir: Path) -> None:
    assert read_containers_yaml(tcib_dir) == ["keystone", "nova-api", "horizon"]


def test_containers_yaml_without_the_list_is_an_error(tmp_path: Path) -> None:
    write_tree(tmp_path, {"containers.yaml": "images: []\n"})
    with pytest.raises(TcibError, match="no `container_images:` list"):
        read_containers_yaml(tmp_path)


def test_parents_are_added_and_ordered_first(tcib_dir: Path) -> None:
    scope = resolve_scope(images(tcib_dir), ["nova-api", "keystone"], [], "10", "cfg")
    assert scope.ordered == ("base", "os", "keystone", "nova-base", "nova-api")
    assert scope.requested == ("nova-api", "keystone")
    assert scope.added_parents == ("base", "os", "nova-base")


def test_references_in_scope_are_normalised(tcib_dir: Path) -> None:
    scope = resolve_scope(images(tcib_dir), ["quay.io/x/openstack-keystone:tag"], [], "10", "c")
    assert scope.requested == ("keystone",)


def test_release_10_replaces_redis_with_valkey(tcib_dir: Path) -> None:
    scope = resolve_scope(images(tcib_dir), ["redis"], [], "10", "cfg")
    assert scope.requested == ("valkey",)
    assert "redis" not in scope.ordered
    assert scope.notes == ("redis is replaced by valkey on release 10 (as TCIB does)",)
    on_nine = resolve_scope(images(tcib_dir), ["redis"], [], "9", "cfg")
    assert on_nine.requested == ("redis",)


def test_valkey_outside_release_10_is_an_error(tcib_dir: Path) -> None:
    with pytest.raises(ScopeError, match="valkey is built on release 10 only"):
        resolve_scope(images(tcib_dir), ["valkey"], [], "9", "cfg")


def test_unknown_image_suggests_the_closest_name(tcib_dir: Path) -> None:
    with pytest.raises(ScopeError) as caught:
        resolve_scope(images(tcib_dir), ["keystne"], [], "10", "config.yaml")
    assert caught.value.line() == (
        "config.yaml: images.scope: unknown image 'keystne' (did you mean 'keystone'?)"
    )


def test_exclude_removes_requested_images(tcib_dir: Path) -> None:
    scope = resolve_scope(images(tcib_dir), ["keystone", "horizon"], ["horizon"], "10", "cfg")
    assert "horizon" not in scope.ordered


def test_excluding_a_needed_parent_is_an_error(tcib_dir: Path) -> None:
    with pytest.raises(ScopeError, match="'os' is excluded but 'keystone' is built on it"):
        resolve_scope(images(tcib_dir), ["keystone"], ["os"], "10", "cfg")
    with pytest.raises(ScopeError, match=r"images\.exclude: unknown image 'nope'"):
        resolve_scope(images(tcib_dir), ["keystone"], ["nope"], "10", "cfg")

"""The config file: schema validation with errors that name the file and the key path."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import REPO_ROOT, ConfigWriter
from tcibsrc.common.config import load_config
from tcibsrc.common.errors import ConfigError, ToolkitError


def test_the_repository_config_is_valid_and_has_the_default_scope() -> None:
    config = load_config(REPO_ROOT / "config.yaml")
    assert (config.series, config.release_version) == ("epoxy", "2025.1")
    assert (config.distro, config.distro_major, config.python_version) == ("centos", "10", "3.12")
    assert config.arches == ("x86_64", "aarch64")
    assert config.image_repository("keystone") == (
        "quay.io/konflux-fedora/centos-cloud-sig/keystone-centos10-epoxy"
    )
    assert set(config.scope) == {
        "keystone",
        "openstackclient",
        "placement-api",
        "glance-api",
        "neutron-server",
        "nova-api",
        "nova-conductor",
        "nova-scheduler",
        "nova-novncproxy",
        "mariadb",
        "rabbitmq",
        "memcached",
        "ovn-nb-db-server",
        "ovn-sb-db-server",
        "ovn-northd",
        "ovn-controller",
    }


def test_tcib_variables_come_from_the_config(write_config: ConfigWriter) -> None:
    config = load_config(write_config(tcib_extras={"tcib_extra_thing": "x"}))
    assert config.tcib_variables() == {
        "tcib_distro": "centos",
        "tcib_release": "10",
        "tcib_python_version": "3.12",
        "tcib_package": "",
        "tcib_extra_thing": "x",
    }


def test_unknown_top_level_key(write_config: ConfigWriter) -> None:
    path = write_config(relase={"series": "epoxy"})
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.where == f"{path}: relase"
    assert caught.value.problem.startswith("unknown key")


def test_unknown_nested_key_names_the_key_path(write_config: ConfigWriter) -> None:
    path = write_config(python={"version": "3.12", "abi": "cp312"})
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.where == f"{path}: python.abi"
    assert "allowed keys here: exclude_newer, minimum_release_age, version" in caught.value.problem


def test_wrong_type_names_the_key_path(write_config: ConfigWriter) -> None:
    path = write_config(images={"scope": ["keystone", 7]})
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.where == f"{path}: images.scope[1]"
    assert caught.value.problem == (
        '7 is a number, but a string is expected: write it in quotes (- "7")'
    )


def test_an_unquoted_number_gets_the_hint_to_quote_it(write_config: ConfigWriter) -> None:
    distro = {"name": "centos", "major": 10, "base_image": "quay.io/centos/centos:stream10"}
    with pytest.raises(ConfigError) as caught:
        load_config(write_config(distro=distro))
    assert caught.value.where.endswith("config.yaml: distro.major")
    assert 'write it in quotes (major: "10")' in caught.value.problem
    wrong_type = {"name": "centos", "major": ["10"], "base_image": "x"}
    with pytest.raises(ConfigError) as caught:
        load_config(write_config(distro=wrong_type))
    assert "quotes" not in caught.value.problem  # a list is not a number to quote


def test_bad_enum_and_missing_section(write_config: ConfigWriter, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"arches\[0\]: 'i386' is not one of"):
        load_config(write_config(arches=["i386"]))
    path = tmp_path / "short.yaml"
    path.write_text("release: {series: epoxy, version: '2025.1'}\n")
    with pytest.raises(ConfigError, match="missing required key\\(s\\): distro, python, arches"):
        load_config(path)


def test_building_from_git_is_not_offered(write_config: ConfigWriter) -> None:
    # every project comes from its sdist: a git source is refused, not silently ignored
    path = write_config(packages={"keystone": {"source": "git", "git_url": "https://x/y"}})
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.where.endswith("config.yaml: packages.keystone.git_url")
    assert caught.value.problem == (
        "unknown key; allowed keys here: build_requires_with, extra_build_requires, reason, version"
    )


def test_tcib_extras_keys_must_start_with_tcib(write_config: ConfigWriter) -> None:
    with pytest.raises(ConfigError, match="tcib_extras: invalid key 'python'"):
        load_config(write_config(tcib_extras={"python": "3"}))


def test_unknown_image_name_placeholder(write_config: ConfigWriter) -> None:
    path = write_config(
        registry={"host": "quay.io", "namespace": "a", "image_name": "{image}-{flavour}"}
    )
    with pytest.raises(ConfigError, match=r"registry.image_name: unknown placeholder \{flavour\}"):
        load_config(path)


def test_malformed_yaml_and_duplicate_keys(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("release: {series: epoxy\n")
    with pytest.raises(ToolkitError, match=r"broken.yaml:line \d+: malformed YAML"):
        load_config(broken)
    duplicate = tmp_path / "dup.yaml"
    duplicate.write_text("python: {version: '3.12'}\npython: {version: '3.11'}\n")
    with pytest.raises(ToolkitError, match="duplicate key 'python'"):
        load_config(duplicate)


def test_missing_and_empty_files(tmp_path: Path) -> None:
    with pytest.raises(ToolkitError, match="file not found"):
        load_config(tmp_path / "absent.yaml")
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    with pytest.raises(ConfigError, match="empty"):
        load_config(empty)


def test_upper_constraints_url_must_name_a_commit(write_config: ConfigWriter) -> None:
    path = write_config(
        upper_constraints={
            "url": "https://opendev.org/openstack/requirements/raw/branch/stable/2025.1/u-c.txt",
            "sha256": "0" * 64,
        }
    )
    with pytest.raises(ConfigError, match=r"upper_constraints\.url"):
        load_config(path)

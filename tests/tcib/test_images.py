"""Variable precedence and Jinja2 expansion, as TCIB's Ansible role applies them."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import write_tree
from tcibsrc.common.errors import TcibError
from tcibsrc.tcib.images import TcibImage, load_images

CLI = {
    "tcib_distro": "centos",
    "tcib_release": "10",
    "tcib_python_version": "3.12",
    "tcib_package": "",
}


def load(root: Path, cli: dict[str, str] | None = None) -> dict[str, TcibImage]:
    return load_images(root, cli or CLI, lambda name: f"registry.test/{name}", "distro:base")


def test_packages_are_joined_into_the_run_line(tcib_dir: Path) -> None:
    images = load(tcib_dir)
    keystone = images["keystone"]
    assert keystone.actions[1] == (
        "run",
        "dnf -y install httpd openstack-keystone python3-ldappool python3-mod_wsgi",
    )
    # attribute syntax and a bare-list tcib_packages render the same way
    assert images["os"].actions[0][1] == "dnf install -y python3-keystoneclient python3-pymemcache"
    assert images["nova-base"].actions[0][1] == "dnf -y install openstack-nova-common"
    assert images["nova-base"].package_groups == {"common": ["openstack-nova-common"]}


def test_cli_variables_expand_distro_release_python_package_and_user(tcib_dir: Path) -> None:
    images = load(tcib_dir)
    base_runs = [value for _verb, value in images["base"].actions]
    assert base_runs[0] == "dnf install -y python3 sudo "  # tcib_package is blank
    assert base_runs[1] == "if [ 'centos' == 'centos' ]; then echo centos; fi"
    assert images["keystone"].actions[2][1].startswith("if [ '10' == '9' ]")
    assert images["horizon"].actions[0][1] == "echo /usr/lib/python3.12/site-packages"
    assert images["nova-api"].actions[0][1] == "bash /usr/local/bin/uid_gid_manage nova"


def test_tcib_package_from_the_cli_is_installed_when_set(tcib_dir: Path) -> None:
    images = load(tcib_dir, {**CLI, "tcib_package": "python-tcib-containers"})
    assert images["base"].actions[0][1] == "dnf install -y python3 sudo python-tcib-containers"


def test_from_is_the_parent_reference_or_the_base_image(tcib_dir: Path) -> None:
    images = load(tcib_dir)
    assert images["base"].variables["tcib_from"] == "distro:base"
    assert images["keystone"].variables["tcib_from"] == "registry.test/os"
    assert images["keystone"].explicit_from is None


def test_explicit_tcib_from_wins_and_is_templated(tcib_dir: Path) -> None:
    custom = load(tcib_dir)["custom"]
    assert custom.explicit_from == "registry.example/centos/custom:10"
    assert custom.variables["tcib_from"] == "registry.example/centos/custom:10"
    assert custom.parent == "base"  # the graph parent stays the directory's, as in TCIB


def test_role_defaults_fill_unset_keys(tcib_dir: Path) -> None:
    keystone = load(tcib_dir)["keystone"]
    assert keystone.variables["tcib_user"] == ""
    assert keystone.user == "root"
    assert keystone.variables["tcib_envs"] == {}
    assert keystone.variables["tcib_meta"] == {"name": "keystone"}


def test_users_created_by_uid_gid_manage_are_found(tcib_dir: Path) -> None:
    images = load(tcib_dir)
    assert images["base"].managed_users == ["kolla"]
    assert images["keystone"].managed_users == ["keystone"]
    assert images["nova-api"].managed_users == ["nova"]
    assert images["os"].managed_users == []


def test_single_expression_keeps_its_native_type(tmp_path: Path) -> None:
    root = write_tree(
        tmp_path,
        {
            "tcib/base/base.yaml": """
tcib_shared: [a, b]
tcib_packages:
  common: "{{ tcib_shared }}"
tcib_actions:
- run: "dnf install {{ tcib_packages.common | join(' ') }}"
"""
        },
    )
    base = load(root)["base"]
    assert base.package_groups == {"common": ["a", "b"]}
    assert base.actions == [("run", "dnf install a b")]


def test_undefined_variable_names_file_key_and_fix(tmp_path: Path) -> None:
    root = write_tree(
        tmp_path,
        {
            "tcib/base/base.yaml": "tcib_actions: []\n",
            "tcib/base/bad/bad.yaml": "tcib_actions:\n- run: echo {{ tcib_bogus }}\n",
        },
    )
    with pytest.raises(TcibError) as caught:
        load(root)
    line = caught.value.line()
    assert line.startswith("tcib/base/bad/bad.yaml: tcib_actions[0].run: undefined variable")
    assert "tcib_bogus" in line
    assert "tcib_extras" in line


def test_python_version_is_undefined_without_the_config(tmp_path: Path) -> None:
    root = write_tree(
        tmp_path, {"tcib/base/base.yaml": "tcib_actions:\n- run: echo {{ tcib_python_version }}\n"}
    )
    cli = {k: v for k, v in CLI.items() if k != "tcib_python_version"}
    with pytest.raises(TcibError, match="tcib_python_version"):
        load(root, cli)


def test_self_reference_is_reported_not_looped(tmp_path: Path) -> None:
    root = write_tree(
        tmp_path, {"tcib/base/base.yaml": "tcib_loop: '{{ tcib_loop }}x'\ntcib_actions: []\n"}
    )
    with pytest.raises(TcibError, match="tcib_loop"):
        load(root)


def test_wrong_types_are_errors(tmp_path: Path) -> None:
    root = write_tree(tmp_path, {"tcib/base/base.yaml": "tcib_actions: run this\n"})
    with pytest.raises(TcibError, match=r"tcib/base/base.yaml: tcib_actions: is a str"):
        load(root)
    root = write_tree(
        tmp_path / "2", {"tcib/base/base.yaml": "tcib_actions:\n- run: a\n  copy: b\n"}
    )
    with pytest.raises(TcibError, match=r"tcib_actions\[0\]: each action must be a mapping"):
        load(root)

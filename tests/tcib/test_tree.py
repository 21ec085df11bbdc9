"""TCIB's discovery rules: image = directory, nearest-ancestor parent, sorted shallow merge."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import write_tree
from tcibsrc.common.errors import TcibError, ToolkitError
from tcibsrc.tcib.tree import discover


def test_every_directory_with_yaml_is_an_image_named_after_the_directory(tcib_dir: Path) -> None:
    images = discover(tcib_dir)
    assert sorted(images) == [
        "base",
        "custom",
        "horizon",
        "keystone",
        "nova-api",
        "nova-base",
        "os",
        "redis",
        "valkey",
    ]
    # the name comes from the directory, not from the files (10-packages.yaml, 20-actions.yml)
    assert images["horizon"].directory.name == "horizon"


def test_parent_is_the_nearest_ancestor_directory_holding_yaml(tcib_dir: Path) -> None:
    images = discover(tcib_dir)
    parents = {name: image.parent for name, image in images.items()}
    assert parents["base"] is None
    assert parents["os"] == "base"
    assert parents["keystone"] == "os"
    # nova-base/api/ holds no YAML, so nova-api's parent skips it
    assert parents["nova-api"] == "nova-base"
    assert images["nova-api"].level == 3
    assert images["nova-base"].children == ["nova-api"]


def test_several_files_merge_shallowly_in_sorted_order(tcib_dir: Path) -> None:
    horizon = discover(tcib_dir)["horizon"]
    assert [f.name for f in horizon.files] == ["10-packages.yaml", "20-actions.yml"]
    assert horizon.data["tcib_user"] == "horizon"  # the last file wins
    assert horizon.data["tcib_envs"] == {"FROM_SECOND_FILE": "2"}  # replaced, not deep-merged
    assert horizon.data["tcib_packages"]["with_localization"] == ["gettext"]  # kept from file 1
    assert horizon.key_origin["tcib_packages"].name == "10-packages.yaml"
    assert horizon.key_origin["tcib_actions"].name == "20-actions.yml"


def test_suffix_test_has_no_dot_like_tcib(tmp_path: Path) -> None:
    root = write_tree(
        tmp_path,
        {
            "tcib/base/base.yaml": "tcib_actions: []\n",
            "tcib/base/odd/definition.notyaml": "tcib_user: odd\n",  # ends in "yaml": TCIB reads it
            "tcib/base/skipped/README.md": "not an image\n",
        },
    )
    images = discover(root)
    assert sorted(images) == ["base", "odd"]
    assert images["odd"].data == {"tcib_user": "odd"}


def test_empty_yaml_files_are_skipped_but_still_make_an_image(tmp_path: Path) -> None:
    root = write_tree(tmp_path, {"tcib/base/base.yaml": "", "tcib/base/x/x.yaml": "# nothing\n"})
    images = discover(root)
    assert images["x"].data == {}
    assert images["x"].parent == "base"


def test_duplicate_image_names_are_an_error(tmp_path: Path) -> None:
    root = write_tree(
        tmp_path,
        {
            "tcib/base/base.yaml": "tcib_actions: []\n",
            "tcib/base/a/dup/dup.yaml": "tcib_actions: []\n",
            "tcib/base/b/dup/dup.yaml": "tcib_actions: []\n",
        },
    )
    with pytest.raises(TcibError, match="second image directory named 'dup'"):
        discover(root)


def test_malformed_yaml_names_the_file_and_line(tmp_path: Path) -> None:
    root = write_tree(tmp_path, {"tcib/base/base.yaml": "tcib_actions:\n  - run: [unclosed\n"})
    with pytest.raises(ToolkitError) as caught:
        discover(root)
    assert caught.value.where.startswith("tcib/base/base.yaml:line")
    assert "malformed YAML" in caught.value.problem


def test_a_list_at_top_level_is_an_error(tmp_path: Path) -> None:
    root = write_tree(tmp_path, {"tcib/base/base.yaml": "- run: true\n"})
    with pytest.raises(TcibError, match="not a mapping"):
        discover(root)


def test_missing_tcib_directory_says_how_to_get_it(tmp_path: Path) -> None:
    with pytest.raises(TcibError, match="git submodule update --init tcib"):
        discover(tmp_path)

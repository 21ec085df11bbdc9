"""Discover TCIB image definitions with TCIB's own rules (tcib/client/container_image.py).

- An image is a directory under `<TCIB_DIR>/tcib` holding at least one file whose name ends
  in "yaml" or "yml" (TCIB tests the suffix without a dot; so do we). Its name is the
  directory's name, never the file's.
- Several YAML files in one directory are read in sorted order and merged shallowly: for each
  top-level key the last file wins.
- The parent is the nearest ancestor directory that holds a YAML file; the top image has no
  parent in the tree (its FROM is the distro base image).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tcibsrc.common.errors import TcibError
from tcibsrc.common.yamlio import load_yaml

TCIB_IMAGES_SUBDIR = "tcib"
YAML_SUFFIXES = ("yaml", "yml")


@dataclass
class RawImage:
    """One image directory: its merged YAML and where each top-level key came from."""

    name: str
    directory: Path
    files: list[Path]
    data: dict[str, Any]
    key_origin: dict[str, Path]
    parent: str | None = None
    level: int = 0
    children: list[str] = field(default_factory=list)


def _yaml_files(directory: Path) -> list[str]:
    return sorted(
        entry.name
        for entry in os.scandir(directory)
        if entry.is_file() and entry.name.endswith(YAML_SUFFIXES)
    )


def images_root(tcib_dir: Path) -> Path:
    """The `tcib/` directory inside a TCIB `container-images` tree, or a clear error."""
    root = tcib_dir / TCIB_IMAGES_SUBDIR
    if not root.is_dir():
        raise TcibError(
            str(tcib_dir),
            f"no '{TCIB_IMAGES_SUBDIR}/' directory of image definitions here",
            "run `git submodule update --init tcib`, or set TCIB_DIR to a TCIB "
            "container-images directory",
        )
    return root


def _load_image(directory: Path, names: list[str], display: Callable[[Path], str]) -> RawImage:
    data: dict[str, Any] = {}
    origin: dict[str, Path] = {}
    files = [directory / name for name in names]
    for path in files:
        where = display(path)
        loaded = load_yaml(path, display=where)
        if loaded is None:
            continue  # TCIB skips empty files
        if not isinstance(loaded, dict):
            raise TcibError(
                where,
                f"top level is a {type(loaded).__name__}, not a mapping",
                "an image definition maps tcib_* keys to values",
            )
        for key, value in loaded.items():
            if not isinstance(key, str):
                raise TcibError(where, f"top-level key {key!r} is not a string")
            data[key] = value
            origin[key] = path
    return RawImage(
        name=directory.name, directory=directory, files=files, data=data, key_origin=origin
    )


def discover(tcib_dir: Path, display: Callable[[Path], str] | None = None) -> dict[str, RawImage]:
    """Every image under `tcib_dir`, with parents and levels, keyed by name (sorted).

    `display` turns paths into what error messages show (default: relative to `tcib_dir`).
    """
    root = images_root(tcib_dir)
    display = display or (lambda path: str(path.relative_to(tcib_dir)))
    found: dict[str, RawImage] = {}
    for current, dirnames, _files in os.walk(root):
        dirnames.sort()
        directory = Path(current)
        if directory == root:
            continue  # TCIB never treats the tcib/ directory itself as an image
        names = _yaml_files(directory)
        if not names:
            continue
        image = _load_image(directory, names, display)
        if image.name in found:
            first = display(found[image.name].directory)
            raise TcibError(
                display(directory),
                f"a second image directory named '{image.name}' (first: {first})",
                "image names must be unique: TCIB would merge both",
            )
        found[image.name] = image
    by_directory = {image.directory: image for image in found.values()}
    for image in found.values():
        ancestor = image.directory.parent
        while ancestor != root and ancestor not in by_directory:
            ancestor = ancestor.parent
        if ancestor != root:
            image.parent = by_directory[ancestor].name
    for image in found.values():
        level, cursor = 0, image
        while cursor.parent is not None:
            level += 1
            cursor = found[cursor.parent]
        image.level = level
        if image.parent is not None:
            found[image.parent].children.append(image.name)
    for image in found.values():
        image.children.sort()
    return dict(sorted(found.items()))

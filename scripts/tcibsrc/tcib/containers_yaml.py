"""TCIB's containers.yaml and its image-name normalisation (`imagename_to_regex`)."""

from __future__ import annotations

import re
from pathlib import Path

from tcibsrc.common.errors import TcibError
from tcibsrc.common.yamlio import load_yaml

CONTAINERS_YAML = "containers.yaml"
_DISTRO_PREFIX = re.compile(r"^(openstack|centos|rhel|ubi8)-")
_INSTALL_TYPE_PREFIX = re.compile(r"^(binary|source|rdo|rhos)-")


def normalise_image_name(reference: str) -> str:
    """`quay.io/ns/openstack-keystone:tag` -> `keystone`, exactly as TCIB strips it."""
    name = reference.split("/")[-1]
    name = name.split(":")[0]
    name = _DISTRO_PREFIX.sub("", name)
    return _INSTALL_TYPE_PREFIX.sub("", name)


def read_containers_yaml(tcib_dir: Path) -> list[str]:
    """Normalised image names listed in `<tcib_dir>/containers.yaml`, in file order."""
    path = tcib_dir / CONTAINERS_YAML
    display = str(path)
    data = load_yaml(path, display=display)
    entries = data.get("container_images") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise TcibError(
            display,
            "no `container_images:` list",
            "the file lists `- imagename: <registry>/<ns>/openstack-<name>:<tag>`",
        )
    names: list[str] = []
    for index, entry in enumerate(entries):
        reference = entry.get("imagename") if isinstance(entry, dict) else None
        if not isinstance(reference, str) or not reference:
            raise TcibError(f"{display}: container_images[{index}]", "has no `imagename`")
        name = normalise_image_name(reference)
        if name not in names:
            names.append(name)
    return names

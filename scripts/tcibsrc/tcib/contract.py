"""The operators' contract as data: kolla UIDs and OpenStackVersion image keys."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml


@dataclass(frozen=True)
class KollaUser:
    name: str
    uid: int
    home: str | None


def _data(name: str) -> Any:
    text = resources.files("tcibsrc").joinpath(f"data/{name}").read_text(encoding="utf-8")
    return yaml.safe_load(text)


@cache
def kolla_users() -> dict[str, KollaUser]:
    """Users TCIB's uid_gid_manage knows, with the UIDs the operators hard-code."""
    return {
        name: KollaUser(name=name, uid=int(entry["uid"]), home=entry.get("home"))
        for name, entry in _data("kolla_users.yaml").items()
    }


@cache
def operator_image_keys() -> dict[str, tuple[str, ...]]:
    """TCIB image name -> OpenStackVersion spec.customContainerImages keys."""
    return {image: tuple(keys) for image, keys in _data("operator_images.yaml").items()}

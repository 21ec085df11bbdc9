"""The operators' contract as data: kolla UIDs, OpenStackVersion image keys, and what installing
a project's wheels must provide for its operator (data/kolla_users.yaml, operator_images.yaml,
contract.yaml), each read through its model."""

from __future__ import annotations

from typing import Any

from packaging.utils import NormalizedName, canonicalize_name
from pydantic import Field, RootModel, StrictBool, StrictInt, model_validator

from tcibsrc.common.datafiles import load_data
from tcibsrc.common.models import StrictModel

EDIT = "the file is kept by hand: fix the entry"


class KollaUser(StrictModel):
    """A user TCIB's uid_gid_manage creates, with the UID the operators hard-code."""

    uid: StrictInt
    home: str | None = None


class KollaUsers(RootModel[dict[str, KollaUser]]):
    """data/kolla_users.yaml: user name -> its UID and home."""


class OperatorImages(RootModel[dict[str, tuple[str, ...]]]):
    """data/operator_images.yaml: TCIB image -> OpenStackVersion customContainerImages keys."""


class Script(StrictModel):
    """A script the RPM put in /usr/bin; `wsgi` or `console` generate it when a wheel has none."""

    name: str
    wsgi: str | None = None  # module:attribute of a WSGI application
    wsgi_factory: str | None = None  # module:function returning one (pbr's wsgi_scripts)
    console: str | None = None  # module:function of a console entry point


class GeneratedConfig(StrictModel):
    """A sample config the RPM generated with oslo-config-generator at build."""

    namespaces: tuple[str, ...]
    owner: str
    group: str
    mode: str


class ProjectContract(StrictModel):
    """What installing one project's wheels must also provide."""

    scripts: tuple[Script, ...] = ()
    user: str | None = None
    directories: tuple[str, ...] = ()
    config: tuple[str, ...] = ()
    files: dict[str, str] = Field(default_factory=dict)  # target -> containerfiles/files/<source>
    modes: dict[str, str] = Field(default_factory=dict)  # target -> "owner:group mode"
    provides: tuple[str, ...] = ()
    generated: dict[str, GeneratedConfig] = Field(default_factory=dict)
    system_ca: StrictBool = False  # its CA bundle is replaced by a link to the system bundle
    layout: tuple[str, ...] = ()  # shell steps that rebuild the tree layout the RPM made

    @model_validator(mode="before")
    @classmethod
    def _scripts_by_name(cls, data: Any) -> Any:
        """The file maps script name -> {wsgi|console}; the model keeps them in order."""
        if isinstance(data, dict) and isinstance(data.get("scripts"), dict):
            data = dict(data)
            data["scripts"] = [
                {"name": name, **(spec or {})} for name, spec in data["scripts"].items()
            ]
        return data


class ImageContract(StrictModel):
    """What one image must contain for its operator: users with their UIDs, absolute paths."""

    users: dict[str, StrictInt] = Field(default_factory=dict)
    paths: tuple[str, ...] = ()


class Contract(StrictModel):
    """data/contract.yaml."""

    projects: dict[str, ProjectContract]
    images: dict[str, ImageContract]


def kolla_users() -> dict[str, KollaUser]:
    """Users TCIB's uid_gid_manage knows, with the UIDs the operators hard-code."""
    return load_data("kolla_users.yaml", KollaUsers, EDIT).root


def operator_image_keys() -> dict[str, tuple[str, ...]]:
    """TCIB image name -> OpenStackVersion spec.customContainerImages keys."""
    return load_data("operator_images.yaml", OperatorImages, EDIT).root


def project_contracts() -> dict[NormalizedName, ProjectContract]:
    """PyPI project (normalised) -> what its wheels must provide."""
    projects = load_data("contract.yaml", Contract, EDIT).projects
    return {canonicalize_name(name): contract for name, contract in projects.items()}


def image_contracts() -> dict[str, ImageContract]:
    return load_data("contract.yaml", Contract, EDIT).images

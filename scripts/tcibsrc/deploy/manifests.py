"""Point the openstack-k8s-operators at the built images: the deploy manifests.

- openstackversion.yaml: an OpenStackVersion whose customContainerImages name every built image
  by digest (from a Konflux Snapshot, or the registry through skopeo); every image of the scope
  is accounted for: set, or left to the operator's default with the reason.
- openstackcontrolplane.yaml: the minimal control plane (galera, rabbitmq, memcached, OVN,
  keystone, placement, glance, neutron, nova; the rest disabled).
Both are validated against the operators' CRD schemas (crd_schemas.py) before being written.
deploy/cluster.py applies them, stage by stage.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from tcibsrc.common.context import Context
from tcibsrc.common.crd_schemas import load_crd, validate
from tcibsrc.common.datafiles import load_data
from tcibsrc.common.errors import ToolkitError
from tcibsrc.common.models import StrictModel, validate_model
from tcibsrc.common.registry import digest_of
from tcibsrc.common.yamlio import read_text
from tcibsrc.tcib.catalog import build_catalog

DEPLOY_DIR = "deploy"
VERSION_FILE = "openstackversion.yaml"
CONTROLPLANE_FILE = "openstackcontrolplane.yaml"
DEPLOY_SUBSET = "minimal"  # images.subsets.minimal: what the plane runs without ENABLE=
_DIGEST = re.compile(r"^[^\s@]+@sha256:[0-9a-f]{64}$")


class DeployError(ToolkitError):
    """Deploy manifests cannot be made, or the deploy cannot proceed."""


@dataclass(frozen=True)
class DeploySettings:
    name: str = "openstack"
    namespace: str = "openstack"
    target_version: str = "0.0.1"
    storage_class: str = "local-storage"
    secret: str = "osp-secret"
    extras: tuple[str, ...] = ()  # ENABLE=: services beyond the minimal plane
    database: str = "openstack"


def check_extras(names: tuple[str, ...]) -> None:
    known = stages_data().extras
    for name in names:
        if name not in known:
            raise DeployError(
                f"ENABLE={','.join(names)}", f"{name}: not a service this deploy can enable",
                f"use some of: {', '.join(known)}",
            )  # fmt: skip


def _substituted(value: Any, settings: DeploySettings, images: dict[str, str]) -> Any:
    """A template from data with the deploy's settings in place of $secret, $storage_class,
    $database and $image:<customContainerImages key>."""
    if isinstance(value, dict):
        return {key: _substituted(item, settings, images) for key, item in value.items()}
    if isinstance(value, list):
        return [_substituted(item, settings, images) for item in value]
    if isinstance(value, str) and value.startswith("$image:"):
        key = value.removeprefix("$image:")
        if key not in images:
            raise DeployError(
                "ENABLE", f"the template needs the image of {key}, which the OpenStackVersion "
                "does not set", "build that image and take a Snapshot that includes it",
            )  # fmt: skip
        return images[key]
    fields = {"$secret": settings.secret, "$storage_class": settings.storage_class,
              "$database": settings.database}  # fmt: skip
    return fields.get(value, value) if isinstance(value, str) else value


class Stage(StrictModel):
    """One stage of the deploy: the control plane services it enables, the conditions it
    waits for."""

    services: tuple[str, ...]
    conditions: tuple[str, ...]


class Extra(StrictModel):
    """A service ENABLE= can switch on: the TCIB images it runs, its smallest template."""

    images: tuple[str, ...]
    template: dict[str, Any]


class DeployStages(StrictModel):
    """data/deploy.yaml: the stages in order, the services the plane always disables, and the
    services ENABLE= can switch on in the last stage."""

    stages: dict[str, Stage]
    disabled: tuple[str, ...] = ()
    extras: dict[str, Extra] = Field(default_factory=dict)


def stages_data() -> DeployStages:
    return load_data("deploy.yaml", DeployStages, "fix the entry (kept by hand)")


# -- image references ---------------------------------------------------------------------------


class SnapshotComponent(BaseModel):
    """One component of a Konflux Snapshot: its name and the image it built (by digest)."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    name: str = Field(min_length=1)
    container_image: str = Field(alias="containerImage", min_length=1)


class SnapshotSpec(BaseModel):
    model_config = ConfigDict(extra="ignore")  # a Snapshot carries more than we read

    components: tuple[SnapshotComponent, ...]


class Snapshot(BaseModel):
    """A Konflux Snapshot as `kubectl get snapshot NAME -o json` prints it (or its spec)."""

    model_config = ConfigDict(extra="ignore")

    spec: SnapshotSpec

    @model_validator(mode="before")
    @classmethod
    def _spec_alone(cls, data: Any) -> Any:
        """The spec given alone (`{"components": [...]}`) reads as a whole Snapshot."""
        if isinstance(data, dict) and "spec" not in data and "components" in data:
            return {"spec": data}
        return data


SNAPSHOT_FIX = "export one with `kubectl get snapshot NAME -o json`"


def snapshot_images(path: Path, display: str) -> dict[str, str]:
    """component -> containerImage of a Konflux Snapshot (the CR or its spec), as JSON."""
    try:
        data = json.loads(read_text(path, display))
    except json.JSONDecodeError as exc:
        raise DeployError(
            display, f"not JSON ({exc.msg}, line {exc.lineno})", SNAPSHOT_FIX
        ) from exc
    snapshot = validate_model(Snapshot, data, display, SNAPSHOT_FIX)
    return {c.name: c.container_image for c in snapshot.spec.components}


def registry_images(ctx: Context, images: list[str], tag: str) -> dict[str, str]:
    """component -> repository@digest of `tag`, asked of the registry with skopeo."""
    if shutil.which("skopeo") is None:
        raise DeployError("skopeo", "not installed", "install skopeo, or give SNAPSHOT=")
    found = {}
    for image in images:
        repository = ctx.config.image_repository(image)
        lookup = digest_of(f"{repository}:{tag}")
        if lookup.digest is None:
            raise DeployError(f"{repository}:{tag}", str(lookup.problem),
                              "check the tag and that the registry is reachable")  # fmt: skip
        found[ctx.config.component_name(image)] = f"{repository}@{lookup.digest}"
    return found


# -- manifests ----------------------------------------------------------------------------------


def openstack_version(
    ctx: Context, references: dict[str, str], settings: DeploySettings, source: str
) -> tuple[dict[str, Any], list[str]]:
    """The OpenStackVersion and one note per image of the scope that sets no key.

    Every image of the scope whose reference is given sets its keys. The images the plane
    runs (the `minimal` subset, or the whole scope without one, and the ENABLE= services')
    must be given; any other image missing is a note: the operator's default stays."""
    catalog = build_catalog(ctx)
    extras = stages_data().extras
    check_extras(settings.extras)
    runs = set(ctx.config.subsets.get(DEPLOY_SUBSET, tuple(catalog.images)))
    runs |= {image for name in settings.extras for image in extras[name].images}
    schema = load_crd("OpenStackVersion")["schema"]["properties"]["spec"]["properties"]
    keys_schema = schema["customContainerImages"]["properties"]
    images: dict[str, Any] = {}
    notes: list[str] = []
    for image in catalog.ordered():
        component = ctx.config.component_name(image.name)
        if not image.operator_keys:
            notes.append(f"{image.name}: no customContainerImages key (a parent image only)")
            continue
        reference = references.get(component)
        if reference is None and image.name not in runs:
            notes.append(
                f"{image.name}: not in {source}; the operator's default image stays "
                "(its service is not enabled)"
            )
            continue
        if reference is None:
            raise DeployError(
                source, f"{component} (image {image.name}) is missing",
                "build it in Konflux first, or take a Snapshot that includes it",
            )  # fmt: skip
        if not _DIGEST.match(reference):
            raise DeployError(
                source, f"{component}: {reference!r} is not pinned by digest",
                "give repository@sha256:<digest> (a Snapshot's containerImage is)",
            )  # fmt: skip
        for key in image.operator_keys:
            if keys_schema.get(key, {}).get("type") == "object":
                notes.append(f"{image.name}: {key} maps backends to images; set it by hand")
                continue
            images[key] = reference
    manifest = {
        "apiVersion": load_crd("OpenStackVersion")["apiVersion"],
        "kind": "OpenStackVersion",
        "metadata": {"name": settings.name, "namespace": settings.namespace},
        "spec": {
            "targetVersion": settings.target_version,
            "customContainerImages": dict(sorted(images.items())),
        },
    }
    return manifest, notes


def controlplane(
    settings: DeploySettings,
    enabled: set[str] | None = None,
    images: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The minimal control plane and the ENABLE= services; `enabled` limits it to a stage's
    services so far. `images`: the OpenStackVersion's customContainerImages (for templates
    that name an image)."""
    data = stages_data()
    check_extras(settings.extras)
    wanted = {s for stage in data.stages.values() for s in stage.services} | set(settings.extras)
    on = wanted if enabled is None else enabled
    db = {"databaseInstance": "openstack", "secret": settings.secret}
    services: dict[str, Any] = {
        "galera": {
            "templates": {
                "openstack": {
                    "storageRequest": "5G",
                    "replicas": 1,
                    "storageClass": settings.storage_class,
                }
            }
        },
        "rabbitmq": {"templates": {"rabbitmq": {"replicas": 1}}},
        "memcached": {"templates": {"memcached": {"replicas": 1}}},
        "ovn": {
            "template": {
                "ovnDBCluster": {
                    "ovndbcluster-nb": {"dbType": "NB", "replicas": 1, "storageRequest": "10G"},
                    "ovndbcluster-sb": {"dbType": "SB", "replicas": 1, "storageRequest": "10G"},
                },
                "ovnNorthd": {"replicas": 1},
                "ovnController": {},
            }
        },
        "keystone": {"template": {**db}},
        "openstackclient": {"template": {}},
        "placement": {"template": {**db}},
        "glance": {
            "template": {
                **db,
                "customServiceConfig": "[DEFAULT]\nenabled_backends = default_backend:file\n"
                "[glance_store]\ndefault_backend = default_backend\n"
                "[default_backend]\nfilesystem_store_datadir = /var/lib/glance/images/\n",
                "storage": {"storageRequest": "10G"},
                "imageCache": {"size": ""},  # no image cache
                "glanceAPIs": {"default": {"replicas": 1, "type": "single"}},
            }
        },
        "neutron": {"template": {**db}},
        "nova": {
            "template": {
                "secret": settings.secret,
                "cellTemplates": {
                    "cell0": {"cellDatabaseAccount": "nova-cell0", "hasAPIAccess": True},
                    "cell1": {
                        "cellDatabaseAccount": "nova-cell1",
                        "cellDatabaseInstance": "openstack",
                        "hasAPIAccess": True,
                    },
                },
            }
        },
    }
    spec: dict[str, Any] = {"secret": settings.secret, "storageClass": settings.storage_class}
    for name, body in services.items():
        if name == "openstackclient":
            if name in on:  # always deployed once given; it has no `enabled` switch
                spec[name] = body
            continue
        spec[name] = {"enabled": name in on, **body}
    for name, extra in data.extras.items():
        if name in on:
            spec[name] = {
                "enabled": True,
                "template": _substituted(extra.template, settings, images or {}),
            }
        else:
            spec[name] = {"enabled": False}
    for name in data.disabled:
        spec[name] = {"enabled": False}
    return {
        "apiVersion": load_crd("OpenStackControlPlane")["apiVersion"],
        "kind": "OpenStackControlPlane",
        "metadata": {"name": settings.name, "namespace": settings.namespace},
        "spec": spec,
    }


def dump(manifest: dict[str, Any], comment: str) -> str:
    return f"# {comment}\n" + yaml.safe_dump(manifest, sort_keys=False, width=100)


def manifests(
    ctx: Context, references: dict[str, str], settings: DeploySettings, source: str
) -> tuple[dict[str, str], list[str]]:
    """relative path -> text of deploy/, validated; and the notes."""
    version, notes = openstack_version(ctx, references, settings, source)
    plane = controlplane(settings, images=version["spec"]["customContainerImages"])
    what = "the minimal control plane" + (
        f" with {', '.join(settings.extras)}" if settings.extras else ""
    )
    files = {
        f"{DEPLOY_DIR}/{VERSION_FILE}": dump(
            version, f"Generated by `make deploy-manifests` from {source}; do not edit."
        ),
        f"{DEPLOY_DIR}/{CONTROLPLANE_FILE}": dump(
            plane, f"Generated by `make deploy-manifests`: {what}."
        ),
    }
    validate(version, f"{DEPLOY_DIR}/{VERSION_FILE}")
    validate(plane, f"{DEPLOY_DIR}/{CONTROLPLANE_FILE}")
    return files, notes

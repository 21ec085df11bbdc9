"""The operators' CRD schemas (OpenAPI v3), as data, and a validator that knows every field.

data/crds/<kind>.json holds the `openAPIV3Schema` of each CRD version the deploy and Konflux
manifests use, descriptions dropped, with the commit it came from (`make update-crds`). Kubernetes
silently prunes a field its schema does not know; here such a field is an error naming it,
so a typo in a manifest never becomes a setting that quietly does nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ConfigDict, Field

from tcibsrc.common.datafiles import load_data
from tcibsrc.common.errors import ToolkitError
from tcibsrc.common.git import revision
from tcibsrc.common.models import StrictModel
from tcibsrc.common.yamlio import load_yaml

CRD_DATA = "data/crds"


@dataclass(frozen=True)
class CrdSource:
    """Where a kind's CRD lives: the repository it is read from and the file in it."""

    repository: str
    path: str


OPENSTACK_OPERATOR = "openstack-k8s-operators/openstack-operator"
APPLICATION_API = "konflux-ci/application-api"
IMAGE_CONTROLLER = "konflux-ci/image-controller"
CRD_SOURCES = {
    "OpenStackControlPlane": CrdSource(
        OPENSTACK_OPERATOR, "config/crd/bases/core.openstack.org_openstackcontrolplanes.yaml"
    ),
    "OpenStackVersion": CrdSource(
        OPENSTACK_OPERATOR, "config/crd/bases/core.openstack.org_openstackversions.yaml"
    ),
    "Application": CrdSource(
        APPLICATION_API, "config/crd/bases/appstudio.redhat.com_applications.yaml"
    ),
    "Component": CrdSource(
        APPLICATION_API, "config/crd/bases/appstudio.redhat.com_components.yaml"
    ),
    "ImageRepository": CrdSource(
        IMAGE_CONTROLLER, "config/crd/bases/appstudio.redhat.com_imagerepositories.yaml"
    ),
}


class CrdError(ToolkitError):
    """A CRD schema is missing, or a manifest does not follow it."""


def _strip(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _strip(v) for k, v in node.items() if k != "description"}
    if isinstance(node, list):
        return [_strip(v) for v in node]
    return node


def read_crds(repository: str, checkout: Path) -> dict[str, dict[str, Any]]:
    """kind -> {source, apiVersion, schema} for the kinds `repository` defines, from a checkout."""
    found = revision(checkout)
    source = f"{repository} {found.commit} {found.date}"
    found = {}
    for kind, crd_source in CRD_SOURCES.items():
        if crd_source.repository != repository:
            continue
        path = checkout / crd_source.path
        if not path.is_file():
            raise CrdError(str(path), "missing", f"give a {repository} checkout")
        crd = load_yaml(path)
        version = next(v for v in crd["spec"]["versions"] if v.get("storage"))
        found[kind] = {
            "source": f"{source} {crd_source.path}",
            "apiVersion": f"{crd['spec']['group']}/{version['name']}",
            "schema": _strip(version["schema"]["openAPIV3Schema"]),
        }
    return found


def render_crd(data: dict[str, Any]) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":")) + "\n"


class CrdSchema(StrictModel):
    """data/crds/<kind>.json: a CRD's served version's OpenAPI schema, with its source."""

    model_config = ConfigDict(populate_by_name=True)

    source: str  # repository, commit, date, path
    api_version: str = Field(alias="apiVersion")
    openapi: dict[str, Any] = Field(alias="schema")


def load_crd(kind: str) -> dict[str, Any]:
    """The committed schema of `kind` (read once: every manifest of a run is checked on it)."""
    crd = load_data(f"crds/{kind}.json", CrdSchema, "run `make update-crds`")
    return {"source": crd.source, "apiVersion": crd.api_version, "schema": crd.openapi}


_TYPES = {
    "object": dict,
    "array": list,
    "string": str,
    "boolean": bool,
    "integer": int,
    "number": (int, float),
}


def problems(value: Any, schema: dict[str, Any], path: str) -> list[str]:
    """Every way `value` does not follow `schema`: unknown fields, types, enums, required."""
    found: list[str] = []
    if schema.get("x-kubernetes-int-or-string"):
        return [] if isinstance(value, int | str) else [f"{path}: not an integer or a string"]
    expected = schema.get("type")
    if value is None and schema.get("nullable"):
        return []
    if (expected and not isinstance(value, _TYPES[expected])) or (
        expected in ("integer", "number") and isinstance(value, bool)
    ):
        return [f"{path}: a {type(value).__name__}, the CRD wants {expected}"]
    if "enum" in schema and value not in schema["enum"]:
        return [f"{path}: {value!r} is not one of {schema['enum']}"]
    if isinstance(value, dict):
        properties = schema.get("properties")
        additional = schema.get("additionalProperties")
        for key, item in value.items():
            where = f"{path}.{key}"
            if properties is not None and key in properties:
                found += problems(item, properties[key], where)
            elif isinstance(additional, dict):
                found += problems(item, additional, where)
            elif properties is not None and not schema.get("x-kubernetes-preserve-unknown-fields"):
                found.append(f"{where}: a field the CRD does not know")
        for key in schema.get("required", []):
            # the API server fills a required field that has a default
            if key not in value and "default" not in (properties or {}).get(key, {}):
                found.append(f"{path}.{key}: required by the CRD")
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(value):
            found += problems(item, schema["items"], f"{path}[{index}]")
    return found


def validate(manifest: dict[str, Any], display: str) -> None:
    """One error naming the first problem (and how many more) of a manifest."""
    kind = manifest.get("kind", "")
    crd = load_crd(kind)
    if manifest.get("apiVersion") != crd["apiVersion"]:
        raise CrdError(
            f"{display}: apiVersion",
            f"{manifest.get('apiVersion')!r}, the CRD serves {crd['apiVersion']!r}",
            "regenerate with `make deploy-manifests`",
        )
    found = problems(manifest, crd["schema"], kind)
    if found:
        more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
        raise CrdError(
            display,
            found[0] + more,
            f"see {crd['source'].split()[-1]} at {crd['source'].split()[1][:8]}",
        )

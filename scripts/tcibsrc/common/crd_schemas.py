"""The operators' CRD schemas (OpenAPI v3), as data, and a validator that knows every field.

data/crds/<kind>.json holds the `openAPIV3Schema` of each CRD version the deploy and Konflux
manifests use, descriptions dropped, with the commit it came from (`make update-crds`). Kubernetes
silently prunes a field its schema does not know; here such a field is an error naming it,
so a typo in a manifest never becomes a setting that quietly does nothing.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
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


def as_json_schema(node: Any) -> Any:
    """A CRD's OpenAPI v3 schema as a JSON Schema (draft 4, whose boolean exclusiveMinimum
    OpenAPI shares), with Kubernetes' extensions made explicit: `nullable`, int-or-string, and
    a field the schema does not list is an error unless it says preserve-unknown-fields (the API
    server would prune it silently). A required field with a default is filled by the server."""
    if isinstance(node, list):
        return [as_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    schema = {
        key: as_json_schema(value)
        for key, value in node.items()
        if not key.startswith("x-kubernetes-") and key not in ("nullable", "example")
    }
    if node.get("x-kubernetes-int-or-string"):
        schema.pop("type", None)
        schema["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    properties = node.get("properties")
    if isinstance(properties, dict):
        if "additionalProperties" not in node and not node.get(
            "x-kubernetes-preserve-unknown-fields"
        ):
            schema["additionalProperties"] = False
        required = [
            key for key in node.get("required", []) if "default" not in properties.get(key, {})
        ]
        if required:
            schema["required"] = required
        else:
            schema.pop("required", None)
    if node.get("nullable"):
        return {"anyOf": [{"type": "null"}, schema]}
    return schema


def _path(kind: str, parts: Any) -> str:
    text = kind
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text


def _line(error: jsonschema.ValidationError, kind: str) -> str:
    """One error of the manifest, in the words of the check before it was a JSON Schema."""
    where = _path(kind, error.absolute_path)
    value, rule = error.instance, error.validator
    if rule == "additionalProperties":
        allowed = set((error.schema.get("properties") or {}).keys())
        extra = sorted(key for key in value if key not in allowed)
        return f"{where}.{extra[0]}: a field the CRD does not know"
    if rule == "required":
        missing = [key for key in error.validator_value if key not in value]
        return f"{where}.{missing[0]}: required by the CRD"
    if rule == "type":
        return f"{where}: a {type(value).__name__}, the CRD wants {error.validator_value}"
    if rule == "enum":
        return f"{where}: {value!r} is not one of {error.validator_value}"
    if rule == "pattern":
        return f"{where}: {value!r} does not match {error.validator_value!r}"
    if rule in ("minimum", "maximum"):
        word = "at least" if rule == "minimum" else "at most"
        return f"{where}: {value!r}, the CRD wants {word} {error.validator_value}"
    if rule in ("minLength", "maxLength"):
        word = "at least" if rule == "minLength" else "at most"
        return f"{where}: {len(value)} characters, the CRD wants {word} {error.validator_value}"
    if rule in ("minItems", "maxItems"):
        word = "at least" if rule == "minItems" else "at most"
        return f"{where}: {len(value)} items, the CRD wants {word} {error.validator_value}"
    if rule == "anyOf" and error.validator_value == [{"type": "integer"}, {"type": "string"}]:
        return f"{where}: not an integer or a string"
    return f"{where}: {error.message}"


@cache
def _validator(kind: str) -> jsonschema.Draft4Validator:
    schema = as_json_schema(load_crd(kind)["schema"])
    return jsonschema.Draft4Validator(
        schema, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER
    )


# what the API server holds every object's metadata to (RFC 1123 subdomain names; label values)
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def metadata_problems(manifest: dict[str, Any], kind: str) -> list[str]:
    """The metadata a CRD's schema leaves to the API server: name, namespace, label values."""
    metadata = manifest.get("metadata")
    if not isinstance(metadata, dict):
        return [f"{kind}.metadata: required by the API server"]
    found = []
    for key in ("name", "namespace"):
        value = metadata.get(key)
        if value is None:
            if key == "name":
                found.append(f"{kind}.metadata.name: required by the API server")
            continue
        if not isinstance(value, str) or len(value) > 253 or not _NAME.match(value):
            found.append(
                f"{kind}.metadata.{key}: {value!r} is not a DNS subdomain name (lower-case "
                "letters, digits, - and ., at most 253 characters)"
            )
    for label, value in sorted((metadata.get("labels") or {}).items()):
        if not isinstance(value, str) or len(value) > 63 or not _LABEL_VALUE.match(value):
            found.append(
                f"{kind}.metadata.labels.{label}: {value!r} is not a label value (at most 63 "
                "letters, digits, - _ and .)"
            )
    return found


def problems(manifest: dict[str, Any], kind: str) -> list[str]:
    """Every way the manifest does not follow its CRD's schema, ordered by path."""
    errors = sorted(
        _validator(kind).iter_errors(manifest),
        key=lambda error: ([str(part) for part in error.absolute_path], error.validator),
    )
    return metadata_problems(manifest, kind) + [_line(error, kind) for error in errors]


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
    found = problems(manifest, kind)
    if found:
        more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
        raise CrdError(
            display,
            found[0] + more,
            f"see {crd['source'].split()[-1]} at {crd['source'].split()[1][:8]}",
        )

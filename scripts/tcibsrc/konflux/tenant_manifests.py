"""make konflux-manifests: the tenant's side of the build, for its config repository.

konflux/ holds the Application, one Component per image (the builder included) and, when the
registry path is where image-controller creates the tenant's repositories, one ImageRepository
per Component. The Components take the PipelineRuns this repository already has
(`configure-pac-no-mr`) and carry `build-nudges-ref`: the Components whose Containerfiles name
this image in a FROM line, so a new digest of a parent opens its children's pull requests (the
nudge edits the digest in containerfiles/*/Containerfile). rule-data.yaml holds the release
policy rule data this deployment adds to the tenant's (its repository ids, signing keys and
registries). Every object is validated against its CRD's schema before anything is written.
"""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

from tcibsrc.common.config import Config
from tcibsrc.common.containerfile import from_lines
from tcibsrc.common.context import Context
from tcibsrc.common.crd_schemas import load_crd, validate
from tcibsrc.common.errors import ToolkitError
from tcibsrc.common.git import GitError, git
from tcibsrc.konflux.pipelines import Component, components
from tcibsrc.konflux.tenant_policy import rule_data
from tcibsrc.tcib.catalog import build_catalog

KONFLUX_DIR = "konflux"
APPLICATION_FILE = "application.yaml"
COMPONENTS_FILE = "components.yaml"
IMAGE_REPOSITORIES_FILE = "imagerepositories.yaml"
RULE_DATA_FILE = "rule-data.yaml"
UPSTREAM_PIPELINE = '{"name":"docker-build-multi-platform-oci-ta","bundle":"latest"}'


def git_url(ctx: Context, given: str | None) -> str:
    """GIT_URL=, else konflux.git_url, else this clone's origin remote as an https URL."""
    url = given or ctx.config.git_url
    if not url:
        try:
            origin = git(ctx.repo_root, "remote", "get-url", "origin")
        except GitError:
            origin = ""
        match = re.match(r"^git@([^:]+):(.+?)(?:\.git)?$", origin)
        url = f"https://{match[1]}/{match[2]}" if match else origin.removesuffix(".git")
    if not url.startswith("https://"):
        raise ToolkitError(
            "konflux-manifests",
            f"no https git URL for the Components (origin is {url or 'not set'!r})",
            "set konflux.git_url in config.yaml, or GIT_URL=https://...",
        )
    return url


def nudges(found: list[Component]) -> dict[str, list[str]]:
    """component name -> the components whose Containerfile builds FROM its image."""
    by_repository = {component.repository: component.name for component in found}
    children: dict[str, set[str]] = {component.name: set() for component in found}
    for component in found:
        for line in from_lines(component.containerfile):
            parent = by_repository.get(line.image)
            if parent and parent != component.name:
                children[parent].add(component.name)
    return {name: sorted(names) for name, names in children.items()}


def image_controller_path(config: Config) -> str | None:
    """Why ImageRepositories cannot be generated for this registry path, or None when they can.

    image-controller creates a tenant's repositories at quay.io/<its organization>/<tenant
    namespace>/<name> (it puts the namespace in front of any name without it); the
    PipelineRuns push to registry.host/registry.namespace, so the two must agree."""
    parts = config.registry_namespace.split("/")
    if len(parts) == 2 and parts[1] == config.konflux_tenant_namespace:
        return None
    return (
        f"registry.namespace {config.registry_namespace} is not <organization>/"
        f"{config.konflux_tenant_namespace}, where image-controller creates this tenant's "
        "repositories: ImageRepositories left out (set registry.namespace to "
        f"<organization>/{config.konflux_tenant_namespace} to have them)"
    )


def manifests(ctx: Context, url: str) -> tuple[dict[str, str], list[str]]:
    config = ctx.config
    found = components(ctx, build_catalog(ctx))
    children = nudges(found)
    metadata = {"namespace": config.konflux_tenant_namespace}
    application: dict[str, Any] = {
        "apiVersion": load_crd("Application")["apiVersion"],
        "kind": "Application",
        "metadata": {"name": config.konflux_application, **metadata},
        "spec": {"displayName": config.konflux_application},
    }
    component_objects = []
    repository_objects = []
    left_out = image_controller_path(config)
    for component in found:
        spec: dict[str, Any] = {
            "application": config.konflux_application,
            "componentName": component.name,
            "source": {
                "git": {
                    "url": url,
                    "revision": config.konflux_branch,
                    "context": ".",
                    "dockerfileUrl": component.dockerfile,
                }
            },
            "containerImage": component.repository,
        }
        if children[component.name]:
            spec["build-nudges-ref"] = children[component.name]
        component_objects.append(
            {
                "apiVersion": load_crd("Component")["apiVersion"],
                "kind": "Component",
                "metadata": {
                    "name": component.name,
                    **metadata,
                    "annotations": {
                        # the PipelineRuns are in .tekton/ already: no pull request to add them
                        "build.appstudio.openshift.io/request": "configure-pac-no-mr",
                        "build.appstudio.openshift.io/pipeline": UPSTREAM_PIPELINE,
                    },
                },
                "spec": spec,
            }
        )
        if left_out:
            continue
        repository_objects.append(
            {
                "apiVersion": load_crd("ImageRepository")["apiVersion"],
                "kind": "ImageRepository",
                "metadata": {
                    "name": component.name,
                    **metadata,
                    "labels": {
                        "appstudio.redhat.com/application": config.konflux_application,
                        "appstudio.redhat.com/component": component.name,
                    },
                    "annotations": {
                        "image-controller.appstudio.redhat.com/update-component-image": "true"
                    },
                },
                "spec": {
                    "image": {
                        "name": f"{config.konflux_tenant_namespace}/{component.name}",
                        "visibility": "public",
                    }
                },
            }
        )
    validate(application, f"{KONFLUX_DIR}/{APPLICATION_FILE}")
    for item in component_objects:
        validate(item, f"{KONFLUX_DIR}/{COMPONENTS_FILE}: {item['metadata']['name']}")
    for item in repository_objects:
        validate(item, f"{KONFLUX_DIR}/{IMAGE_REPOSITORIES_FILE}: {item['metadata']['name']}")
    header = "# Generated by `make konflux-manifests`; do not edit.\n"
    files = {
        f"{KONFLUX_DIR}/{APPLICATION_FILE}": header + _dump([application]),
        f"{KONFLUX_DIR}/{COMPONENTS_FILE}": header + _dump(component_objects),
        f"{KONFLUX_DIR}/{RULE_DATA_FILE}": (
            "# Generated by `make konflux-manifests`: rule data this deployment adds to the\n"
            "# tenant's release policy (a data source of its EnterpriseContractPolicy).\n"
            + yaml.safe_dump({"rule_data": rule_data(config)}, sort_keys=False, width=100)
        ),
    }
    if repository_objects:
        files[f"{KONFLUX_DIR}/{IMAGE_REPOSITORIES_FILE}"] = header + _dump(repository_objects)
    return files, [left_out] if left_out else []


def _dump(objects: list[dict[str, Any]]) -> str:
    return yaml.safe_dump_all(
        json.loads(json.dumps(objects)), sort_keys=False, width=100, explicit_start=True
    )

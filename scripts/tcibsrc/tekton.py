"""make pipelines: one shared Pipeline and two thin PipelineRuns per image, for Konflux.

The Pipeline is modelled on Konflux's docker-build-multi-platform-oci-ta (init, clone,
prefetch with hermeto, buildah-remote per platform, image index); its task bundles are pinned
`tag@sha256` in that one file, and a re-render keeps the references MintMaker updated there.
Each PipelineRun triggers on every input of its image, with Pipelines-as-Code semantics.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

import yaml

from tcibsrc.catalog import Catalog, build_catalog
from tcibsrc.context import Context
from tcibsrc.errors import ToolkitError
from tcibsrc.hermeto_input import as_json, prefetch_input
from tcibsrc.render import BUILDER, RENDER_DIR, TCIB_CONTEXT_PATH, Renderer, is_generated
from tcibsrc.rpm_inputs import RPMS_LOCK

TEKTON_DIR = ".tekton"
PIPELINE_FILE = f"{TEKTON_DIR}/build-pipeline.yaml"
PIPELINE_NAME = "tcibsrc-build"
EVENTS = {"pull-request": "pull_request", "push": "push"}
TCIB_GITLINK = "tcib"
_BUNDLE = re.compile(r"value:\s*(\S+/task-[a-z0-9-]+:[^@\s]+@sha256:[0-9a-f]{64})")


@cache
def default_bundles() -> dict[str, str]:
    text = resources.files("tcibsrc").joinpath("data/task_bundles.yaml").read_text()
    return yaml.safe_load(text)


def bundles_in(text: str) -> dict[str, str]:
    """task name -> bundle reference, from an existing Pipeline file (MintMaker edits it)."""
    found = {}
    for reference in _BUNDLE.findall(text):
        name = reference.rsplit("/", 1)[-1].split(":", 1)[0].removeprefix("task-")
        found[name] = reference
    return found


@dataclass(frozen=True)
class Component:
    """One image as a Konflux component."""

    image: str
    name: str
    repository: str
    dockerfile: str
    inputs: tuple[str, ...]  # pathChanged globs besides the .tekton files
    prefetch: str


def component_name(ctx: Context, image: str) -> str:
    return ctx.config.image_repository(image).rsplit("/", 1)[-1]


def image_inputs(image: str, containerfile: str, lock_files: list[str]) -> list[str]:
    """What the build of `image` reads: its directory, what it COPYs, its locks, the RPM lock."""
    globs = [f"{RENDER_DIR}/{image}/*"]
    for line in containerfile.splitlines():
        if not line.startswith("COPY ") or "--from=" in line:
            continue
        words = line.split()[1:]
        if words and words[0].startswith("["):
            words = json.loads(line[len("COPY ") :])
        words = [word for word in words if not word.startswith("--")]
        for source in words[:-1]:
            if source.startswith(f"{TCIB_CONTEXT_PATH}/"):
                globs.append(TCIB_GITLINK)  # a submodule change is one path: the gitlink
            elif not source.startswith(f"{RENDER_DIR}/{image}/"):
                globs.append(source)
    globs += lock_files
    globs.append(RPMS_LOCK)
    return list(dict.fromkeys(globs))


def components(ctx: Context, catalog: Catalog) -> list[Component]:
    renderer = Renderer(ctx, catalog)
    files = renderer.render()
    result = []
    for image in [*catalog.scope.ordered, BUILDER]:
        dockerfile = f"{RENDER_DIR}/{image}/Containerfile"
        plan = renderer.python_plan(catalog.images[image]) if image in catalog.images else None
        builds_wheels = bool(plan and plan.own)
        packages = prefetch_input(ctx, image, builds_wheels)
        locks = [
            path
            for package in packages
            if package["type"] == "pip"
            for key in ("requirements_files", "requirements_build_files")
            for path in package[key]
        ]
        result.append(
            Component(
                image=image,
                name=component_name(ctx, image),
                repository=ctx.config.image_repository(image),
                dockerfile=dockerfile,
                inputs=tuple(image_inputs(image, files[dockerfile], locks)),
                prefetch=as_json(packages),
            )
        )
    return result


def cel_expression(event: str, branch: str, globs: list[str]) -> str:
    changes = "\n    || ".join(f'"{glob}".pathChanged()' for glob in globs)
    return f'event == "{event}" && target_branch == "{branch}" && (\n    {changes}\n  )'


def pipelinerun_file(component: Component) -> dict[str, str]:
    return {kind: f"{TEKTON_DIR}/{component.name}-{kind}.yaml" for kind in EVENTS}


def render_pipelinerun(ctx: Context, component: Component, kind: str) -> str:
    config = ctx.config
    event = EVENTS[kind]
    own = pipelinerun_file(component)[kind]
    globs = [*component.inputs, PIPELINE_FILE, own]
    name = f"{component.name}-on-{kind}"
    pull = kind == "pull-request"
    tag = "on-pr-{{revision}}" if pull else "{{revision}}"
    annotations = [
        ("build.appstudio.openshift.io/repo", "{{source_url}}?rev={{revision}}"),
        ("build.appstudio.redhat.com/commit_sha", "{{revision}}"),
        *(
            [("build.appstudio.redhat.com/pull_request_number", "{{pull_request_number}}")]
            if pull
            else []
        ),
        ("build.appstudio.redhat.com/target_branch", "{{target_branch}}"),
        *([("pipelinesascode.tekton.dev/cancel-in-progress", "true")] if pull else []),
        ("pipelinesascode.tekton.dev/max-keep-runs", "3"),
        *(
            []
            if pull
            else [
                ("build.appstudio.openshift.io/build-nudge-files", f"{RENDER_DIR}/.*/Containerfile")
            ]
        ),
    ]
    lines = [
        f"# Generated by `make pipelines` for {component.image}; do not edit.",
        "apiVersion: tekton.dev/v1",
        "kind: PipelineRun",
        "metadata:",
        f"  name: {name}",
        f"  namespace: {config.konflux_tenant_namespace}",
        "  annotations:",
        *[f"    {key}: {json.dumps(value)}" for key, value in annotations],
        "    pipelinesascode.tekton.dev/on-cel-expression: |",
        *[
            f"      {line}"
            for line in cel_expression(event, config.konflux_branch, globs).splitlines()
        ],
        "  labels:",
        f"    appstudio.openshift.io/application: {config.konflux_application}",
        f"    appstudio.openshift.io/component: {component.name}",
        "    pipelines.appstudio.openshift.io/type: build",
        "spec:",
        "  params:",
        '    - {name: git-url, value: "{{source_url}}"}',
        '    - {name: revision, value: "{{revision}}"}',
        f'    - {{name: output-image, value: "{component.repository}:{tag}"}}',
        *(['    - {name: image-expires-after, value: "5d"}'] if pull else []),
        f"    - {{name: dockerfile, value: {component.dockerfile}}}",
        "    - {name: path-context, value: .}",
        '    - {name: hermetic, value: "true"}',
        f"    - {{name: prefetch-input, value: '{component.prefetch}'}}",
        '    - {name: build-image-index, value: "true"}',
        "    - name: build-platforms",
        "      value:",
        *[f"        - {platform}" for platform in config.konflux_build_platforms],
        "  pipelineRef:",
        f"    name: {PIPELINE_NAME}",
        "  taskRunTemplate:",
        f"    serviceAccountName: build-pipeline-{component.name}",
        "  workspaces:",
        "    - name: git-auth",
        "      secret:",
        "        secretName: '{{ git_auth_secret }}'",
    ]
    return "\n".join(lines) + "\n"


def _task(
    name: str,
    task: str,
    bundle: str,
    params: list[tuple[str, object]],
    run_after: list[str],
    extra: list[str] | None = None,
) -> list[str]:
    lines = [f"    - name: {name}"]
    if params:
        lines.append("      params:")
        for key, value in params:
            if isinstance(value, list):
                lines.append(f"        - name: {key}")
                lines.append("          value:")
                lines += [f"            - {json.dumps(item)}" for item in value]
            else:
                lines.append(f"        - {{name: {key}, value: {json.dumps(value)}}}")
    if run_after:
        lines.append(f"      runAfter: [{', '.join(run_after)}]")
    lines += extra or []
    lines += [
        "      taskRef:",
        "        resolver: bundles",
        "        params:",
        f"          - {{name: name, value: {task}}}",
        f"          - {{name: bundle, value: {bundle}}}",
        "          - {name: kind, value: task}",
    ]
    return lines


PIPELINE_PARAMS: list[tuple[str, str, object]] = [
    ("git-url", "string", None),
    ("revision", "string", ""),
    ("output-image", "string", None),
    ("path-context", "string", "."),
    ("dockerfile", "string", "Dockerfile"),
    ("hermetic", "string", "true"),
    ("prefetch-input", "string", ""),
    ("image-expires-after", "string", ""),
    ("build-image-index", "string", "true"),
    ("build-platforms", "array", ["linux/x86_64"]),
    ("buildah-format", "string", "docker"),
    ("git-clone-depth", "string", "1"),
    ("git-fetch-tags", "string", "false"),
    ("enable-package-registry-proxy", "string", "false"),
]


def render_pipeline(existing: str) -> str:
    found = bundles_in(existing)
    missing = sorted(set(default_bundles()) - set(found))
    if existing and missing:
        raise ToolkitError(
            PIPELINE_FILE,
            f"no tag@sha256 bundle found for {', '.join(missing)}",
            "fix the references MintMaker or a hand edit left, or delete the file "
            "to start from data/task_bundles.yaml",
        )
    bundles = {**default_bundles(), **found}
    lines = [
        "# Generated by `make pipelines`; do not edit, except the task bundle references, which",
        "# MintMaker updates here (a re-render keeps them).",
        "apiVersion: tekton.dev/v1",
        "kind: Pipeline",
        "metadata:",
        f"  name: {PIPELINE_NAME}",
        "spec:",
        "  description: >-",
        "    Hermetic multi-platform build of one image, modelled on Konflux's",
        "    docker-build-multi-platform-oci-ta: hermeto prefetches the locks, buildah builds",
        "    each platform without network, and the manifests become one image index.",
        "  params:",
    ]
    for name, kind, default in PIPELINE_PARAMS:
        lines.append(f"    - name: {name}")
        lines.append(f"      type: {kind}")
        if default is not None:
            lines.append(f"      default: {json.dumps(default)}")
    lines += [
        "  results:",
        "    - {name: IMAGE_URL, value: $(tasks.build-image-index.results.IMAGE_URL)}",
        "    - {name: IMAGE_DIGEST, value: $(tasks.build-image-index.results.IMAGE_DIGEST)}",
        "    - {name: CHAINS-GIT_URL, value: $(tasks.clone-repository.results.url)}",
        "    - {name: CHAINS-GIT_COMMIT, value: $(tasks.clone-repository.results.commit)}",
        "  workspaces:",
        "    - {name: git-auth, optional: true}",
        "    - {name: netrc, optional: true}",
        "  tasks:",
    ]
    lines += _task("init", "init", bundles["init"], [], [])
    lines += _task(
        "clone-repository",
        "git-clone-oci-ta",
        bundles["git-clone-oci-ta"],
        [
            ("url", "$(params.git-url)"),
            ("revision", "$(params.revision)"),
            ("ociStorage", "$(params.output-image).git"),
            ("ociArtifactExpiresAfter", "$(params.image-expires-after)"),
            ("depth", "$(params.git-clone-depth)"),
            ("fetchTags", "$(params.git-fetch-tags)"),
            ("submodules", "true"),
        ],
        ["init"],
        ["      workspaces:", "        - {name: basic-auth, workspace: git-auth}"],
    )
    lines += _task(
        "prefetch-dependencies",
        "prefetch-dependencies-oci-ta",
        bundles["prefetch-dependencies-oci-ta"],
        [
            ("input", "$(params.prefetch-input)"),
            ("SOURCE_ARTIFACT", "$(tasks.clone-repository.results.SOURCE_ARTIFACT)"),
            ("ociStorage", "$(params.output-image).prefetch"),
            ("ociArtifactExpiresAfter", "$(params.image-expires-after)"),
            ("enable-package-registry-proxy", "$(params.enable-package-registry-proxy)"),
        ],
        ["clone-repository"],
        [
            "      workspaces:",
            "        - {name: git-basic-auth, workspace: git-auth}",
            "        - {name: netrc, workspace: netrc}",
        ],
    )
    lines += _task(
        "build-images",
        "buildah-remote-oci-ta",
        bundles["buildah-remote-oci-ta"],
        [
            ("IMAGE", "$(params.output-image)"),
            ("DOCKERFILE", "$(params.dockerfile)"),
            ("CONTEXT", "$(params.path-context)"),
            ("HERMETIC", "$(params.hermetic)"),
            ("PREFETCH_INPUT", "$(params.prefetch-input)"),
            ("IMAGE_EXPIRES_AFTER", "$(params.image-expires-after)"),
            ("COMMIT_SHA", "$(tasks.clone-repository.results.commit)"),
            ("SOURCE_ARTIFACT", "$(tasks.prefetch-dependencies.results.SOURCE_ARTIFACT)"),
            ("CACHI2_ARTIFACT", "$(tasks.prefetch-dependencies.results.CACHI2_ARTIFACT)"),
            ("IMAGE_APPEND_PLATFORM", "true"),
            ("BUILDAH_FORMAT", "$(params.buildah-format)"),
        ],
        ["prefetch-dependencies"],
        [
            "      matrix:",
            "        params:",
            "          - name: PLATFORM",
            "            value: [$(params.build-platforms)]",
        ],
    )
    lines += _task(
        "build-image-index",
        "build-image-index",
        bundles["build-image-index"],
        [
            ("IMAGE", "$(params.output-image)"),
            ("ALWAYS_BUILD_INDEX", "$(params.build-image-index)"),
            ("IMAGES", ["$(tasks.build-images.results.IMAGE_REF[*])"]),
            ("BUILDAH_FORMAT", "$(params.buildah-format)"),
        ],
        ["build-images"],
    )
    return "\n".join(lines) + "\n"


def render_pipelines(ctx: Context) -> dict[str, str]:
    catalog = build_catalog(ctx)
    existing_path = ctx.repo_root / PIPELINE_FILE
    existing = existing_path.read_text(encoding="utf-8") if existing_path.is_file() else ""
    files = {PIPELINE_FILE: render_pipeline(existing)}
    for component in components(ctx, catalog):
        for kind, path in pipelinerun_file(component).items():
            files[path] = render_pipelinerun(ctx, component, kind)
    return files


def stale_tekton_files(ctx: Context, files: dict[str, str]) -> list[Path]:
    """Generated .tekton files the scope no longer produces (hand-written ones stay)."""
    directory = ctx.repo_root / TEKTON_DIR
    if not directory.is_dir():
        return []
    return [
        path
        for path in sorted(directory.glob("*.yaml"))
        if f"{TEKTON_DIR}/{path.name}" not in files and is_generated(path, "make pipelines")
    ]

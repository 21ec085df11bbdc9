"""make pipelines: one shared Pipeline and two thin PipelineRuns per image, for Konflux.

The Pipeline has every task and param of Konflux's docker-build-multi-platform-oci-ta (as
data/konflux_pipeline.yaml records them), wired here, with hermetic builds and the source image
on by default; its task bundles are pinned `tag@sha256` in that one file, and a re-render keeps
the references MintMaker updated there.
Each PipelineRun triggers on every input of its image, with Pipelines-as-Code semantics.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from packaging.version import Version

from tcibsrc.common.containerfile import context_sources
from tcibsrc.common.context import Context
from tcibsrc.common.datafiles import shown
from tcibsrc.common.errors import ToolkitError
from tcibsrc.common.yamlio import YamlError, parse_yaml
from tcibsrc.containers.render import BUILDER, RENDER_DIR, TCIB_CONTEXT_PATH, Renderer, is_generated
from tcibsrc.konflux.facts import PIPELINE_DATA, UpstreamTask, parse_bundle, upstream_pipeline
from tcibsrc.konflux.prefetch_input import as_json, prefetch_input
from tcibsrc.rpm.lock_inputs import RPMS_LOCK
from tcibsrc.tcib.catalog import Catalog, build_catalog

TEKTON_DIR = ".tekton"
PIPELINE_FILE = f"{TEKTON_DIR}/build-pipeline.yaml"
PIPELINE_NAME = "tcibsrc-build"
EVENTS = {"pull-request": "pull_request", "push": "push"}
TCIB_GITLINK = "tcib"


@dataclass(frozen=True)
class Component:
    """One image as a Konflux component."""

    image: str
    name: str
    repository: str
    dockerfile: str
    inputs: tuple[str, ...]  # pathChanged globs besides the .tekton files
    prefetch: str
    containerfile: str  # its rendered text (FROM lines: the image graph nudges follow)


def image_inputs(image: str, containerfile: str, lock_files: list[str]) -> list[str]:
    """What the build of `image` reads: its directory, what it COPYs, its locks, the RPM lock."""
    globs = [f"{RENDER_DIR}/{image}/*"]
    for source in context_sources(containerfile):
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
                name=ctx.config.component_name(image),
                repository=ctx.config.image_repository(image),
                dockerfile=dockerfile,
                inputs=tuple(image_inputs(image, files[dockerfile], locks)),
                prefetch=as_json(packages),
                containerfile=files[dockerfile],
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
        ("build.appstudio.openshift.io/repo", "{{repo_url}}?rev={{revision}}"),
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
    hermetic = "true" if config.hermetic(component.image) else "false"
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
        f'    - {{name: hermetic, value: "{hermetic}"}}',
        f"    - {{name: prefetch-input, value: '{component.prefetch}'}}",
        '    - {name: build-image-index, value: "true"}',
        '    - {name: build-source-image, value: "true"}',
        "    - name: build-platforms",
        "      value:",
        *[f"        - {platform}" for platform in config.build_platforms(component.image)],
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


@dataclass(frozen=True)
class PipelineTask:
    """How one task of the shared Pipeline is wired (its bundle comes from the data file)."""

    name: str
    params: tuple[tuple[str, object], ...]
    run_after: tuple[str, ...] = ()
    when_param: str | None = None  # runs only when $(params.<when_param>) is the when_value
    when_value: str = "true"
    matrix: str | None = None  # the param that takes each of build-platforms
    workspaces: tuple[tuple[str, str], ...] = ()


INDEX = "$(tasks.build-image-index.results.IMAGE_URL)"
INDEX_DIGEST = "$(tasks.build-image-index.results.IMAGE_DIGEST)"
PREFETCHED = (
    ("SOURCE_ARTIFACT", "$(tasks.prefetch-dependencies.results.SOURCE_ARTIFACT)"),
    ("CACHI2_ARTIFACT", "$(tasks.prefetch-dependencies.results.CACHI2_ARTIFACT)"),
)
SCANNED = (("image-digest", INDEX_DIGEST), ("image-url", INDEX))
SAST = (*SCANNED, ("TARGET_DIRS", "$(params.sast-target-dirs)"), *PREFETCHED)
AFTER_INDEX = ("build-image-index",)
PIPELINE_TASKS = (
    PipelineTask("init", (("enable-cache-proxy", "$(params.enable-cache-proxy)"),)),
    PipelineTask(
        "clone-repository",
        (
            ("url", "$(params.git-url)"),
            ("revision", "$(params.revision)"),
            ("ociStorage", "$(params.output-image).git"),
            ("ociArtifactExpiresAfter", "$(params.image-expires-after)"),
            ("submodules", "true"),  # the tcib gitlink is part of every build context
        ),
        ("init",),
        workspaces=(("basic-auth", "git-auth"),),
    ),
    PipelineTask(
        "prefetch-dependencies",
        (
            ("input", "$(params.prefetch-input)"),
            ("enable-package-registry-proxy", "$(params.enable-package-registry-proxy)"),
            ("SOURCE_ARTIFACT", "$(tasks.clone-repository.results.SOURCE_ARTIFACT)"),
            ("ociStorage", "$(params.output-image).prefetch"),
            ("ociArtifactExpiresAfter", "$(params.image-expires-after)"),
        ),
        ("clone-repository",),
        workspaces=(("git-basic-auth", "git-auth"), ("netrc", "netrc")),
    ),
    PipelineTask(
        "build-images",
        (
            ("IMAGE", "$(params.output-image)"),
            ("DOCKERFILE", "$(params.dockerfile)"),
            ("CONTEXT", "$(params.path-context)"),
            ("HERMETIC", "$(params.hermetic)"),
            ("PREFETCH_INPUT", "$(params.prefetch-input)"),
            ("IMAGE_EXPIRES_AFTER", "$(params.image-expires-after)"),
            ("COMMIT_SHA", "$(tasks.clone-repository.results.commit)"),
            ("BUILD_ARGS", ["$(params.build-args[*])"]),
            ("BUILD_ARGS_FILE", "$(params.build-args-file)"),
            ("PRIVILEGED_NESTED", "$(params.privileged-nested)"),
            ("SOURCE_URL", "$(tasks.clone-repository.results.url)"),
            ("BUILDAH_FORMAT", "$(params.buildah-format)"),
            ("HTTP_PROXY", "$(tasks.init.results.http-proxy)"),
            ("NO_PROXY", "$(tasks.init.results.no-proxy)"),
            ("SOURCE_DATE_EPOCH", "$(params.source-date-epoch)"),
            ("REWRITE_TIMESTAMP", "$(params.rewrite-timestamp)"),
            ("OMIT_HISTORY", "$(params.omit-history)"),
            *PREFETCHED,
            ("IMAGE_APPEND_PLATFORM", "true"),
        ),
        ("prefetch-dependencies",),
        matrix="PLATFORM",
    ),
    PipelineTask(
        "build-image-index",
        (
            ("IMAGE", "$(params.output-image)"),
            ("ALWAYS_BUILD_INDEX", "$(params.build-image-index)"),
            ("IMAGES", ["$(tasks.build-images.results.IMAGE_REF[*])"]),
            ("BUILDAH_FORMAT", "$(params.buildah-format)"),
        ),
        ("build-images",),
    ),
    PipelineTask(
        "build-source-image",
        (("BINARY_IMAGE", INDEX), ("BINARY_IMAGE_DIGEST", INDEX_DIGEST), *PREFETCHED),
        AFTER_INDEX,
        when_param="build-source-image",
    ),
    PipelineTask(
        "deprecated-base-image-check",
        (("IMAGE_URL", INDEX), ("IMAGE_DIGEST", INDEX_DIGEST)),
        AFTER_INDEX,
        when_param="skip-checks",
        when_value="false",
    ),
    PipelineTask(
        "clair-scan", SCANNED, AFTER_INDEX, "skip-checks", "false", matrix="image-platform"
    ),
    PipelineTask(
        "ecosystem-cert-preflight-checks",
        (("image-url", INDEX),),
        AFTER_INDEX,
        "skip-checks",
        "false",
        matrix="platform",
    ),
    PipelineTask("sast-snyk-check", SAST, AFTER_INDEX, "skip-checks", "false"),
    PipelineTask("clamav-scan", SCANNED, AFTER_INDEX, "skip-checks", "false", matrix="image-arch"),
    PipelineTask("sast-shell-check", SAST, AFTER_INDEX, "skip-checks", "false"),
    PipelineTask("sast-unicode-check", SAST, AFTER_INDEX, "skip-checks", "false"),
    PipelineTask("apply-tags", (("IMAGE_URL", INDEX), ("IMAGE_DIGEST", INDEX_DIGEST)), AFTER_INDEX),
    PipelineTask(
        "push-dockerfile",
        (
            ("IMAGE", INDEX),
            ("IMAGE_DIGEST", INDEX_DIGEST),
            ("DOCKERFILE", "$(params.dockerfile)"),
            ("CONTEXT", "$(params.path-context)"),
            PREFETCHED[0],
        ),
        AFTER_INDEX,
    ),
    PipelineTask(
        "rpms-signature-scan",
        (("image-url", INDEX), ("image-digest", INDEX_DIGEST)),
        AFTER_INDEX,
        "skip-checks",
        "false",
    ),
)
# Our defaults where upstream's differ: every build is hermetic, and the source image is built
# because the release policy requires source-build among the tasks that ran.
PARAM_DEFAULTS: dict[str, object] = {"hermetic": "true", "build-source-image": "true"}


def _task_lines(task: PipelineTask, catalog_task: str, bundle: str) -> list[str]:
    lines = [f"    - name: {task.name}", "      params:"]
    for key, value in task.params:
        if isinstance(value, list):
            lines.append(f"        - name: {key}")
            lines.append("          value:")
            lines += [f"            - {json.dumps(item)}" for item in value]
        else:
            lines.append(f"        - {{name: {key}, value: {json.dumps(value)}}}")
    if task.run_after:
        lines.append(f"      runAfter: [{', '.join(task.run_after)}]")
    if task.when_param:
        lines += [
            "      when:",
            f"        - input: $(params.{task.when_param})",
            "          operator: in",
            f'          values: ["{task.when_value}"]',
        ]
    if task.matrix:
        lines += [
            "      matrix:",
            "        params:",
            f"          - name: {task.matrix}",
            "            value: [$(params.build-platforms)]",
        ]
    if task.workspaces:
        lines.append("      workspaces:")
        lines += [f"        - {{name: {name}, workspace: {ws}}}" for name, ws in task.workspaces]
    lines += [
        "      taskRef:",
        "        resolver: bundles",
        "        params:",
        f"          - {{name: name, value: {catalog_task}}}",
        f"          - {{name: bundle, value: {bundle}}}",
        "          - {name: kind, value: task}",
    ]
    return lines


def bundles_in(existing: str) -> dict[str, str]:
    """pipeline task name -> bundle reference in an existing Pipeline file (MintMaker edits it)."""
    if not existing:
        return {}
    try:
        data = parse_yaml(existing, PIPELINE_FILE)
    except YamlError as exc:
        raise ToolkitError(
            PIPELINE_FILE,
            f"YAML does not parse ({exc.reason}, line {exc.line_number})",
            "fix the hand edit, or delete the file to start from the bundles of "
            f"{shown(PIPELINE_DATA)}",
        ) from exc
    found = {}
    for task in ((data or {}).get("spec") or {}).get("tasks") or []:
        params = {
            item.get("name"): item.get("value")
            for item in (task.get("taskRef") or {}).get("params") or []
        }
        if params.get("bundle"):
            found[task.get("name")] = str(params["bundle"])
    return found


def choose_bundle(task: UpstreamTask, existing: str | None) -> str:
    """The file's reference (MintMaker keeps it current), unless the data moved to a newer task
    version or the file's reference is not a bundle of this catalog task."""
    ours = parse_bundle(existing) if existing else None
    data = parse_bundle(task.bundle)
    if ours is None or data is None or ours.task != task.task:
        return task.bundle
    if ours.version is None or (data.version is not None and data.version > ours.version):
        return task.bundle
    if data.version == ours.version and ours.digest is None and data.digest:
        return task.bundle
    return existing or task.bundle


def render_pipeline(existing: str) -> str:
    upstream = upstream_pipeline()
    by_name = {task.name: task for task in upstream.tasks}
    ours = {task.name for task in PIPELINE_TASKS}
    if ours != set(by_name):
        raise ToolkitError(
            shown(PIPELINE_DATA),
            f"the upstream Pipeline's tasks ({', '.join(sorted(set(by_name) ^ ours))}) differ "
            "from the ones the generator wires",
            "wire the new tasks in scripts/tcibsrc/konflux/pipelines.py (PIPELINE_TASKS)",
        )
    found = bundles_in(existing)
    source = upstream.source
    lines = [
        "# Generated by `make pipelines`; do not edit, except the task bundle references, which",
        "# MintMaker updates here (a re-render keeps them unless `make update-bundles` moved a",
        "# task to a newer version).",
        f"# Tasks and params of {source['path'].rsplit('/', 1)[-1].removesuffix('.yaml')} at",
        f"# {source['repository']} {source['commit'][:12]} ({source['date']}).",
        "apiVersion: tekton.dev/v1",
        "kind: Pipeline",
        "metadata:",
        f"  name: {PIPELINE_NAME}",
        # Conforma picks the required tasks by the runtime label when the build task has none
        *(["  labels:"] if upstream.labels else []),
        *[f"    {key}: {json.dumps(value)}" for key, value in sorted(upstream.labels.items())],
        "spec:",
        "  description: >-",
        "    Hermetic multi-platform build of one image: Konflux's",
        "    docker-build-multi-platform-oci-ta with hermetic and source-image defaults on.",
        "    hermeto prefetches the locks, buildah builds each platform without network, the",
        "    manifests become one image index, and the release policy's scans run on it.",
        "  params:",
    ]
    for param in upstream.params:
        default = PARAM_DEFAULTS.get(param.name, param.default)
        lines.append(f"    - name: {param.name}")
        lines.append(f"      type: {param.type}")
        if default is not None:
            lines.append(f"      default: {json.dumps(default)}")
    lines += [
        "  results:",
        f"    - {{name: IMAGE_URL, value: {INDEX}}}",
        f"    - {{name: IMAGE_DIGEST, value: {INDEX_DIGEST}}}",
        "    - {name: CHAINS-GIT_URL, value: $(tasks.clone-repository.results.url)}",
        "    - {name: CHAINS-GIT_COMMIT, value: $(tasks.clone-repository.results.commit)}",
        "  workspaces:",
        "    - {name: git-auth, optional: true}",
        "    - {name: netrc, optional: true}",
        "  tasks:",
    ]
    chosen = {
        task.name: choose_bundle(by_name[task.name], found.get(task.name))
        for task in PIPELINE_TASKS
    }
    renamed = prefetch_result_renamed(chosen)
    for task in PIPELINE_TASKS:
        task_lines = _task_lines(task, by_name[task.name].task, chosen[task.name])
        if renamed:
            task_lines = [line.replace(OLD_RESULT, NEW_RESULT) for line in task_lines]
        lines += task_lines
    return "\n".join(lines) + "\n"


# prefetch-dependencies-oci-ta 0.11 renames its Trusted Artifact result (and its path, from
# /var/workdir/cachi2 to /var/workdir/prefetch); the consumers' params keep their names, and
# read the new path only from these versions on (container-build-catalog's CHANGELOG of the task)
OLD_RESULT = "results.CACHI2_ARTIFACT"
NEW_RESULT = "results.PREFETCH_ARTIFACT"
RENAMED_FROM = Version("0.11")
CONSUMERS_FROM = {
    "buildah-remote-oci-ta": Version("0.13"),
    "buildah-oci-ta": Version("0.13"),
    "source-build-oci-ta": Version("0.4"),
}


def prefetch_result_renamed(bundles: dict[str, str]) -> bool:
    """True when the prefetch task's bundle is 0.11 or later: its result is PREFETCH_ARTIFACT.
    Then every consumer must be at a version that reads it, or the Pipeline is refused."""
    prefetch = parse_bundle(bundles.get("prefetch-dependencies", ""))
    if prefetch is None or prefetch.version is None or prefetch.version < RENAMED_FROM:
        return False
    for name, reference in sorted(bundles.items()):
        bundle = parse_bundle(reference)
        if bundle is None or bundle.task not in CONSUMERS_FROM:
            continue
        needed = CONSUMERS_FROM[bundle.task]
        if bundle.version is not None and bundle.version < needed:
            raise ToolkitError(
                f"{PIPELINE_FILE}: task {name}",
                f"prefetch-dependencies-oci-ta {prefetch.version} renames its result to "
                f"PREFETCH_ARTIFACT and moves its path; {bundle.task} {bundle.version} "
                f"reads the old one",
                f"move {bundle.task} to {needed} or later (`make update-bundles`, or MintMaker's "
                "update of the Pipeline) together with the prefetch task",
            )
    return True


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

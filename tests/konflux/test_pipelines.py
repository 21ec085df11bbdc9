"""make pipelines / make affected: trigger matrix, PaC glob semantics, the .tekton validator."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import REFERENCE_TCIB, REPO_ROOT, shown
from tcibsrc.common.context import Context
from tcibsrc.common.errors import ToolkitError
from tcibsrc.containers.render import render_files
from tcibsrc.konflux.affected import affected, changed_files
from tcibsrc.konflux.pathglob import path_changed
from tcibsrc.konflux.pipeline_checks import tekton_problems
from tcibsrc.konflux.pipelines import PIPELINE_FILE, render_pipelines


@pytest.mark.parametrize(
    ("glob", "path", "matches"),
    [
        ("containerfiles/keystone/*", "containerfiles/keystone/Containerfile", True),
        ("containerfiles/keystone/*", "containerfiles/keystone/sub/dir/file", True),  # * crosses /
        ("containerfiles/keystone/*", "containerfiles/keystone-extra/Containerfile", False),
        ("tcib", "tcib", True),  # a submodule change is its gitlink path
        ("tcib", "tcib/container-images/kolla/base/start.sh", False),  # a bare directory: no
        ("requirements/keystone.txt", "requirements/keystone-build.txt", False),
        ("*.md", "docs/README.md", True),
        ("{a,b}.txt", "b.txt", True),
        ("file?.txt", "file1.txt", True),
    ],
)
def test_globs_behave_like_pipelines_as_code(glob: str, path: str, matches: bool) -> None:
    assert path_changed(glob, [path]) is matches


@pytest.fixture
def generated(pinned_repo: Context) -> Context:
    """A scratch repository with locks, Containerfiles and .tekton/ written."""
    for files in (render_files(pinned_repo), render_pipelines(pinned_repo)):
        for name, text in files.items():
            path = pinned_repo.repo_root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    return pinned_repo


def fired(ctx: Context, *changed: str) -> dict[str, set[str]]:
    result = affected(ctx.repo_root / ".tekton", list(changed), "main")
    return {event: set(names) for event, names in result.items()}


def names(component: str) -> dict[str, set[str]]:
    return {"pull_request": {f"{component}-on-pull-request"}, "push": {f"{component}-on-push"}}


NONE: dict[str, set[str]] = {"pull_request": set(), "push": set()}


def test_trigger_matrix(generated: Context) -> None:
    ctx = generated
    keystone, os_image = "keystone-centos10-epoxy", "os-centos10-epoxy"
    # its Containerfile directory, its locks, its own .tekton file
    assert fired(ctx, "containerfiles/keystone/Containerfile") == names(keystone)
    assert fired(ctx, "containerfiles/keystone/wheels.txt") == names(keystone)
    assert fired(ctx, "requirements/keystone.txt") == names(keystone)
    assert fired(ctx, "requirements/keystone-build.txt") == names(keystone)
    own = fired(ctx, f".tekton/{keystone}-push.yaml")
    assert own == {"pull_request": set(), "push": {f"{keystone}-on-push"}}
    # another image's files do not fire keystone
    assert fired(ctx, "containerfiles/os/Containerfile") == names(os_image)
    assert fired(ctx, "requirements/nova-base.txt")["pull_request"] == {
        "nova-base-centos10-epoxy-on-pull-request"
    }
    # the README fires nothing
    assert fired(ctx, "README.md") == NONE
    # the tcib gitlink fires the image that copies TCIB's files
    assert fired(ctx, "tcib") == names("base-centos10-epoxy")
    # the shared Pipeline and the RPM lock fire every image
    every = fired(ctx, PIPELINE_FILE)
    assert keystone + "-on-push" in every["push"] and len(every["push"]) == len(
        list((ctx.repo_root / ".tekton").glob("*-push.yaml"))
    )
    assert fired(ctx, "rpms.lock.yaml") == every


def test_generated_files_pass_the_validator(generated: Context) -> None:
    problems = shown(tekton_problems(generated.repo_root, generated.repo_root / ".tekton"))
    assert problems == []
    run = yaml.safe_load(
        (generated.repo_root / ".tekton/keystone-centos10-epoxy-push.yaml").read_text()
    )
    params = {p["name"]: p["value"] for p in run["spec"]["params"]}
    assert params["hermetic"] == "true"
    assert params["build-platforms"] == ["linux/x86_64"]
    assert params["build-image-index"] == "true"
    prefetch = json.loads(params["prefetch-input"])
    assert prefetch[0]["requirements_files"] == ["requirements/keystone.txt"]
    assert "allow_binary" not in prefetch[0] and "binary" not in prefetch[0]
    annotations = run["metadata"]["annotations"]
    assert (
        annotations["build.appstudio.openshift.io/build-nudge-files"]
        == "containerfiles/.*/Containerfile"
    )
    assert (
        run["spec"]["taskRunTemplate"]["serviceAccountName"]
        == "build-pipeline-keystone-centos10-epoxy"
    )
    pull = (generated.repo_root / ".tekton/keystone-centos10-epoxy-pull-request.yaml").read_text()
    assert len(pull.splitlines()) < 60


def test_a_broken_copy_fails_with_one_line_per_problem(generated: Context) -> None:
    tekton = generated.repo_root / ".tekton"
    pull = tekton / "keystone-centos10-epoxy-pull-request.yaml"
    text = pull.read_text()
    text = text.replace('event == "pull_request" && ', 'event == "pull_request" && (( ')
    text = text.replace(
        "value: containerfiles/keystone/Containerfile", "value: containerfiles/keystone/Missingfile"
    )
    text = text.replace(
        "    - {name: path-context, value: .}",
        "    - {name: path-context, value: .}\n    - {name: undeclared, value: x}",
    )
    pull.write_text(text)
    pipeline = tekton / "build-pipeline.yaml"
    pipeline.write_text(
        pipeline.read_text()
        .replace("$(params.buildah-format)", "$(params.no-such-param)", 1)
        .replace("@sha256:421003", "@sha256:zz", 1)
    )
    problems = shown(tekton_problems(generated.repo_root, tekton))
    joined = "\n".join(problems)
    assert ".tekton/keystone-centos10-epoxy-pull-request.yaml: CEL does not parse" in joined
    assert (
        "keystone-centos10-epoxy-pull-request.yaml: dockerfile "
        "containerfiles/keystone/Missingfile does not exist"
    ) in joined
    assert (
        "keystone-centos10-epoxy-pull-request.yaml: param undeclared is not a param of "
        "Pipeline tcibsrc-build"
    ) in joined
    assert ".tekton/build-pipeline.yaml: $(params.no-such-param) is used but not declared" in joined
    assert (
        ".tekton/build-pipeline.yaml: task init bundle quay.io/konflux-ci/tekton-catalog/"
        "task-init:0.4.2@sha256:zz" in joined
    )
    assert "is not a bundle reference" in joined
    assert "param undeclared differs between its pull-request and push runs" in joined
    assert all("\n" not in problem for problem in problems)


def _set_init_bundle(pipeline: Path, tag: str) -> None:
    text = pipeline.read_text()
    start = text.index("task-init:")
    end = text.index("}", start)  # the reference ends the flow mapping's value
    pipeline.write_text(text[:start] + tag + text[end:])


def test_bundle_updates_survive_a_rerender(generated: Context) -> None:
    """MintMaker's newer digest or version stays; a version older than the data's does not."""
    pipeline = generated.repo_root / PIPELINE_FILE
    for updated in ("task-init:0.4.2@sha256:" + "c" * 64, "task-init:0.5@sha256:" + "d" * 64):
        _set_init_bundle(pipeline, updated)
        assert updated in render_pipelines(generated)[PIPELINE_FILE]
    _set_init_bundle(pipeline, "task-init:0.3@sha256:" + "e" * 64)
    again = render_pipelines(generated)[PIPELINE_FILE]
    assert "task-init:0.3@" not in again
    assert "task-init:0.4.2@sha256:421003a5c077" in again  # data/konflux_pipeline.yaml's


@pytest.mark.skipif(not REFERENCE_TCIB.is_dir(), reason="no reference data (REFERENCE_DATA)")
def test_affected_on_a_real_commit_range(tmp_path: Path) -> None:
    """Clone this repository, change keystone's lock and the README in a commit, ask git."""
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(REPO_ROOT), str(clone)], check=True)
    (clone / "requirements" / "keystone.txt").write_text(
        (clone / "requirements" / "keystone.txt").read_text() + "\n"
    )
    (clone / "README.md").write_text((clone / "README.md").read_text() + "\n")
    for command in (
        ["add", "-A"],
        [
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.invalid",
            "commit",
            "-qm",
            "change keystone's lock",
        ],
    ):
        subprocess.run(["git", "-C", str(clone), *command], check=True)
    changed = changed_files(clone, "HEAD~1")
    assert sorted(changed) == ["README.md", "requirements/keystone.txt"]
    result = affected(clone / ".tekton", changed, "main")
    assert result == {
        "pull_request": ["keystone-centos10-epoxy-on-pull-request"],
        "push": ["keystone-centos10-epoxy-on-push"],
    }


def test_trigger_matrix_for_every_image(generated: Context) -> None:
    """Each image: its Containerfile and its lock fire only its own runs; others' do not."""
    tekton = generated.repo_root / ".tekton"
    components = sorted(p.name.removesuffix("-push.yaml") for p in tekton.glob("*-push.yaml"))
    assert len(components) >= 5
    wheel_images: set[str] = set()
    for component in components:
        image = component.removesuffix("-centos10-epoxy")
        assert fired(generated, f"containerfiles/{image}/Containerfile") == names(component)
        lock = generated.repo_root / "requirements" / f"{image}.txt"
        run = (tekton / f"{component}-push.yaml").read_text()
        # an image that builds wheels (it has a wheels stage) is triggered by its lock, and
        # the lock fires only it; one whose parent already installed everything is not
        builds_wheels = (
            generated.repo_root / "containerfiles" / image / "wheels-plan.json"
        ).exists()
        if builds_wheels:
            wheel_images.add(image)
            assert lock.is_file()
            assert f'"requirements/{image}.txt".pathChanged()' in run
            assert fired(generated, f"requirements/{image}.txt") == names(component)
        else:
            assert f"requirements/{image}.txt" not in run
        assert fired(generated, "README.md") == NONE
        expected_tcib = names(component) if image == "base" else NONE
        assert {
            e: n & names(component)[e] for e, n in fired(generated, "tcib").items()
        } == expected_tcib
    assert wheel_images == {"os", "keystone", "nova-base"}  # nova-api adds no Python of its own


def test_an_unreadable_bundle_reference_is_not_reset_silently(generated: Context) -> None:
    from tcibsrc.common.errors import ToolkitError

    pipeline = generated.repo_root / PIPELINE_FILE
    pipeline.write_text(pipeline.read_text().replace("    - name: init\n", "    - name: init\n  x"))
    with pytest.raises(ToolkitError, match=r"build-pipeline\.yaml: YAML does not parse"):
        render_pipelines(generated)


# Hand-written from Konflux's conventions (build-definitions' PipelineRun templates,
# Pipelines-as-Code's annotations) and this README; not produced by the generator.
EXPECTED_KEYSTONE_PUSH = {
    "apiVersion": "tekton.dev/v1",
    "kind": "PipelineRun",
    "metadata": {
        "name": "keystone-centos10-epoxy-on-push",
        "namespace": "tenant",
        "annotations": {
            # the repository's own URL: {{source_url}} is a fork's on a fork's pull request
            "build.appstudio.openshift.io/repo": "{{repo_url}}?rev={{revision}}",
            "build.appstudio.redhat.com/commit_sha": "{{revision}}",
            "build.appstudio.redhat.com/target_branch": "{{target_branch}}",
            "pipelinesascode.tekton.dev/max-keep-runs": "3",
            "build.appstudio.openshift.io/build-nudge-files": "containerfiles/.*/Containerfile",
            "pipelinesascode.tekton.dev/on-cel-expression": (
                'event == "push" && target_branch == "main" && (\n'
                '    "containerfiles/keystone/*".pathChanged()\n'
                '    || "requirements/keystone.txt".pathChanged()\n'
                '    || "requirements/keystone-build.txt".pathChanged()\n'
                '    || "requirements/keystone-build-extra.txt".pathChanged()\n'
                '    || "rpms.lock.yaml".pathChanged()\n'
                '    || ".tekton/build-pipeline.yaml".pathChanged()\n'
                '    || ".tekton/keystone-centos10-epoxy-push.yaml".pathChanged()\n'
                "  )\n"
            ),
        },
        "labels": {
            "appstudio.openshift.io/application": "app",
            "appstudio.openshift.io/component": "keystone-centos10-epoxy",
            "pipelines.appstudio.openshift.io/type": "build",
        },
    },
    "spec": {
        "params": [
            {"name": "git-url", "value": "{{source_url}}"},
            {"name": "revision", "value": "{{revision}}"},
            {
                "name": "output-image",
                "value": "quay.io/example/sig/keystone-centos10-epoxy:{{revision}}",
            },
            {"name": "dockerfile", "value": "containerfiles/keystone/Containerfile"},
            {"name": "path-context", "value": "."},
            {"name": "hermetic", "value": "true"},
            {
                "name": "prefetch-input",
                "value": [
                    {
                        "type": "pip",
                        "path": ".",
                        "requirements_files": ["requirements/keystone.txt"],
                        "requirements_build_files": [
                            "requirements/keystone-build.txt",
                            "requirements/keystone-build-extra.txt",
                        ],
                    },
                    {
                        "type": "rpm",
                        "path": ".",
                        "options": {
                            "dnf": {"stream-epoxy": {"gpgkey": "file:///etc/pki/rpm-gpg/KEY"}}
                        },
                    },
                ],
            },
            {"name": "build-image-index", "value": "true"},
            # the release policy requires a source image among the tasks that ran
            {"name": "build-source-image", "value": "true"},
            {"name": "build-platforms", "value": ["linux/x86_64"]},
        ],
        "pipelineRef": {"name": "tcibsrc-build"},
        "taskRunTemplate": {"serviceAccountName": "build-pipeline-keystone-centos10-epoxy"},
        "workspaces": [{"name": "git-auth", "secret": {"secretName": "{{ git_auth_secret }}"}}],
    },
}


def test_the_keystone_push_run_is_what_konflux_expects(generated: Context) -> None:
    run = yaml.safe_load(
        (generated.repo_root / ".tekton/keystone-centos10-epoxy-push.yaml").read_text()
    )
    for param in run["spec"]["params"]:
        if param["name"] == "prefetch-input":
            param["value"] = json.loads(param["value"])
    assert run == EXPECTED_KEYSTONE_PUSH


def test_the_pull_request_run_differs_where_konflux_wants(generated: Context) -> None:
    tekton = generated.repo_root / ".tekton"
    push = yaml.safe_load((tekton / "keystone-centos10-epoxy-push.yaml").read_text())
    pull = yaml.safe_load((tekton / "keystone-centos10-epoxy-pull-request.yaml").read_text())
    assert pull["metadata"]["name"] == "keystone-centos10-epoxy-on-pull-request"
    annotations = pull["metadata"]["annotations"]
    # a newer push to the pull request cancels the running build; PR numbers are recorded
    assert annotations["pipelinesascode.tekton.dev/cancel-in-progress"] == "true"
    assert annotations["build.appstudio.redhat.com/pull_request_number"] == (
        "{{pull_request_number}}"
    )
    assert "build.appstudio.openshift.io/build-nudge-files" not in annotations  # push only
    assert annotations["pipelinesascode.tekton.dev/on-cel-expression"].startswith(
        'event == "pull_request" && target_branch == "main" && (\n'
    )
    params = {p["name"]: p["value"] for p in pull["spec"]["params"]}
    # PR images are tagged on-pr-<revision> and expire after 5 days
    assert (
        params["output-image"] == "quay.io/example/sig/keystone-centos10-epoxy:on-pr-{{revision}}"
    )
    assert params["image-expires-after"] == "5d"
    push_params = {p["name"]: p["value"] for p in push["spec"]["params"]}
    assert "image-expires-after" not in push_params
    for name in ("dockerfile", "hermetic", "prefetch-input", "build-platforms"):
        assert params[name] == push_params[name]


EXPECTED_RENOVATE = {
    "$schema": "https://docs.renovatebot.com/renovate-schema.json",
    "description": "Generated by `make pipelines`; do not edit.",
    # MintMaker: task bundles, the RPM lock (from its input), the base image, the tcib gitlink
    "enabledManagers": ["tekton", "rpm-lockfile", "dockerfile", "git-submodules"],
    "tekton": {"managerFilePatterns": ["/^\\.tekton/.+\\.yaml$/"], "schedule": ["on monday"]},
    "rpm-lockfile": {"managerFilePatterns": ["/^rpms\\.in\\.yaml$/"]},
    "dockerfile": {"managerFilePatterns": ["/^containerfiles/.+/Containerfile$/"]},
    "git-submodules": {"enabled": True},
    # ... and the Python locks only by make pin-python-deps, within upper-constraints
    "pip_requirements": {"enabled": False},
    "pip-compile": {"enabled": False},
    "pep621": {"enabled": False},
    "packageRules": [
        {
            "description": "Python versions are chosen by make pin-python-deps within "
            "upper-constraints; never propose others.",
            "matchDatasources": ["pypi"],
            "enabled": False,
        },
        {
            "description": "Our own images' digests come from Konflux nudges.",
            "matchManagers": ["dockerfile"],
            "matchPackageNames": ["/^quay\\.io/example/sig//"],
            "enabled": False,
        },
        {
            "description": "The distro base image: its digest, pinned in the Containerfiles.",
            "matchManagers": ["dockerfile"],
            "matchPackageNames": ["quay.io/centos/centos"],
            "pinDigests": True,
        },
    ],
}


def test_renovate_configuration(generated: Context) -> None:
    from tcibsrc.konflux.renovate import render_renovate

    renovate = render_renovate("quay.io/centos/centos:stream10", "quay.io/example/sig/")
    assert json.loads(renovate) == EXPECTED_RENOVATE


def test_the_shared_pipeline_wires_the_hermetic_build(generated: Context) -> None:
    """An excerpt, hand-written from the task definitions (prefetch-dependencies-oci-ta,
    buildah-remote-oci-ta): hermeto's input, its output artifact, network off, per platform."""
    pipeline = yaml.safe_load((generated.repo_root / PIPELINE_FILE).read_text())
    tasks = {task["name"]: task for task in pipeline["spec"]["tasks"]}
    prefetch = {p["name"]: p["value"] for p in tasks["prefetch-dependencies"]["params"]}
    assert prefetch["input"] == "$(params.prefetch-input)"
    assert prefetch["SOURCE_ARTIFACT"] == "$(tasks.clone-repository.results.SOURCE_ARTIFACT)"
    build = tasks["build-images"]
    params = {p["name"]: p["value"] for p in build["params"]}
    assert params["HERMETIC"] == "$(params.hermetic)"
    assert params["PREFETCH_INPUT"] == "$(params.prefetch-input)"
    assert params["CACHI2_ARTIFACT"] == "$(tasks.prefetch-dependencies.results.CACHI2_ARTIFACT)"
    assert params["SOURCE_ARTIFACT"] == "$(tasks.prefetch-dependencies.results.SOURCE_ARTIFACT)"
    assert params["DOCKERFILE"] == "$(params.dockerfile)"
    assert build["matrix"] == {
        "params": [{"name": "PLATFORM", "value": ["$(params.build-platforms)"]}]
    }
    assert "prefetch-dependencies" in build["runAfter"]
    clone = {p["name"]: p["value"] for p in tasks["clone-repository"]["params"]}
    assert clone["submodules"] == "true"  # the tcib submodule is part of the build context
    index = {p["name"]: p["value"] for p in tasks["build-image-index"]["params"]}
    assert index["IMAGES"] == ["$(tasks.build-images.results.IMAGE_REF[*])"]


def _set_bundle(pipeline: Path, task: str, tag: str) -> None:
    text = pipeline.read_text()
    start = text.index(f"task-{task}:")
    end = text.index("}", start)
    pipeline.write_text(text[:start] + f"task-{task}:{tag}" + text[end:])


def test_the_prefetch_result_follows_the_prefetch_task_version(generated: Context) -> None:
    """prefetch-dependencies-oci-ta 0.11 renames CACHI2_ARTIFACT to PREFETCH_ARTIFACT: the
    Pipeline reads whichever the pinned bundle gives, and refuses a buildah that cannot."""
    pipeline = generated.repo_root / PIPELINE_FILE
    before = render_pipelines(generated)[PIPELINE_FILE]
    assert "$(tasks.prefetch-dependencies.results.CACHI2_ARTIFACT)" in before
    assert "PREFETCH_ARTIFACT" not in before
    # MintMaker moves the prefetch task alone: buildah 0.10 would read the old path
    _set_bundle(pipeline, "prefetch-dependencies-oci-ta", "0.11.0@sha256:" + "a" * 64)
    with pytest.raises(ToolkitError) as caught:
        render_pipelines(generated)
    assert "buildah-remote-oci-ta 0.10" in caught.value.problem
    assert "0.13" in caught.value.fix
    # with buildah 0.13 and source-build 0.4 the new result name is wired everywhere
    _set_bundle(pipeline, "buildah-remote-oci-ta", "0.13.0@sha256:" + "b" * 64)
    _set_bundle(pipeline, "source-build-oci-ta", "0.4@sha256:" + "c" * 64)
    after = render_pipelines(generated)[PIPELINE_FILE]
    assert "CACHI2_ARTIFACT)" not in after
    wired = after.count("$(tasks.prefetch-dependencies.results.PREFETCH_ARTIFACT)")
    assert wired == before.count("$(tasks.prefetch-dependencies.results.CACHI2_ARTIFACT)")
    assert "{name: CACHI2_ARTIFACT, value:" in after  # the consumers' param keeps its name

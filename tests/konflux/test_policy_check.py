"""The release policy as a check: what Conforma would deny, found in .tekton/ before a build."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from conftest import shown
from tcibsrc.common.context import Context
from tcibsrc.interface.cli import main
from tcibsrc.konflux.pipelines import render_pipeline
from tcibsrc.konflux.policy_check import policy_problems

# After every rule of the policy data took effect, and before the latest of them did.
LATER = datetime(2027, 1, 1, tzinfo=UTC)
EARLIER = datetime(2026, 8, 20, tzinfo=UTC)
# One catalog task of the shared Pipeline for each of the docker build type's required tasks
# (Conforma's tasks.required_tasks_found; rhtap-ec-policy data/required_tasks.yml), by hand.
REQUIRED = (
    "init",
    "git-clone-oci-ta",
    "prefetch-dependencies-oci-ta",
    "buildah-remote-oci-ta",
    "clair-scan",
    "clamav-scan",
    "deprecated-image-check",
    "rpms-signature-scan",
    "sast-shell-check-oci-ta",
    "sast-snyk-check-oci-ta",
    "sast-unicode-check-oci-ta",
    "source-build-oci-ta",
)


def pipeline() -> dict:
    return yaml.safe_load(render_pipeline(""))


def run(**params: object) -> dict:
    """A PipelineRun as `make pipelines` writes them, with `params` changed."""
    values = {"git-url": "u", "output-image": "i", "hermetic": "true", **params}
    return {
        "kind": "PipelineRun",
        "metadata": {"name": "r"},
        "spec": {
            "pipelineRef": {"name": "tcibsrc-build"},
            "params": [{"name": k, "value": v} for k, v in values.items()],
        },
    }


def check(pipeline_data: dict, *runs: dict, now: datetime = LATER) -> list[str]:
    documents = {".tekton/build-pipeline.yaml": pipeline_data}
    documents |= {f".tekton/run-{i}.yaml": r for i, r in enumerate(runs)}
    return shown(policy_problems(documents, now))


def bundle_reference(data: dict, task_name: str) -> dict:
    task = next(t for t in data["spec"]["tasks"] if t["name"] == task_name)
    return next(p for p in task["taskRef"]["params"] if p["name"] == "bundle")


def test_the_generated_pipeline_passes_the_policy() -> None:
    assert check(pipeline(), run(), run()) == []


@pytest.mark.parametrize("catalog_task", REQUIRED)
def test_a_pipeline_without_a_required_task_is_rejected_naming_the_rule(catalog_task: str) -> None:
    data = pipeline()
    data["spec"]["tasks"] = [
        t for t in data["spec"]["tasks"] if t["taskRef"]["params"][0]["value"] != catalog_task
    ]
    problems = check(data, run(), run())
    required = [p for p in problems if "(tasks.required_tasks_found)" in p]
    assert len(required) == 1, problems
    assert required[0].startswith("all 2 PipelineRuns: required task ")
    assert catalog_task in required[0]
    # and the upstream Pipeline's task is missing from ours
    assert any(f"({catalog_task}) of Konflux's docker-build-multi-platform-oci-ta" in p
               for p in problems)  # fmt: skip


def test_skipped_checks_and_no_source_image_count_as_missing_tasks() -> None:
    problems = check(pipeline(), run(**{"skip-checks": "true", "build-source-image": "false"}))
    lines = [p for p in problems if "(tasks.required_tasks_found)" in p]
    assert len(lines) == 8  # 7 scans and checks, and the source image
    assert any(
        "source-build or source-build-oci-ta does not run (build-source-image is skipped by "
        "its when)" in line
        for line in lines
    )
    assert all(line.startswith(".tekton/run-0.yaml: ") for line in lines)


def test_a_denied_task_version_fails_once_in_effect_and_warns_before() -> None:
    data = pipeline()
    bundle_reference(data, "clone-repository")["value"] = (
        "quay.io/konflux-ci/tekton-catalog/task-git-clone-oci-ta:0.1@sha256:" + "a" * 64
    )
    denied = (
        ".tekton/build-pipeline.yaml: task clone-repository: git-clone-oci-ta 0.1 is denied (<0.2)"
    )
    later = check(data, run())
    assert any(p.startswith(denied) and p.endswith("or let MintMaker update it") for p in later)
    assert any("(trusted_task.trusted)" in p for p in later)
    earlier = check(data, run(), now=EARLIER)
    assert (
        f"warning: {denied} (in effect from 2026-09-05) (trusted_task.trusted): run "
        in "\n".join(earlier)
    )


def test_a_task_from_an_untrusted_location_is_rejected() -> None:
    data = pipeline()
    bundle_reference(data, "init")["value"] = "quay.io/someone/task-init:0.4@sha256:" + "b" * 64
    problems = check(data, run())
    assert problems == [
        ".tekton/build-pipeline.yaml: task init: quay.io/someone/task-init is not a trusted task "
        "location (trusted_task.trusted; trusted: oci://quay.io/konflux-ci/tekton-catalog/task-*)"
    ]


@pytest.mark.parametrize(
    ("param", "value", "expected"),
    [
        (
            "enable-package-registry-proxy",
            "false",
            "task prefetch-dependencies: enable-package-registry-proxy is 'false', not \"true\" "
            "(prefetch_dependencies.package_registry_proxy_enabled)",
        ),
        (
            "hermetic",
            "false",
            "task build-images: HERMETIC is 'false', not \"true\" (hermetic_task.hermetic)",
        ),
        (
            "dockerfile",
            "https://example.invalid/Containerfile",
            "task build-images: DOCKERFILE 'https://example.invalid/Containerfile' matches the "
            "disallowed '^https?://' (buildah_build_task.buildah_uses_local_dockerfile)",
        ),
        (
            "build-platforms",
            ["linux/x86_64", "linux-root/arm64"],  # each value the matrix takes is checked
            "task build-images: PLATFORM 'linux-root/arm64' matches the disallowed '.*root.*' "
            "(buildah_build_task.platform_param)",
        ),
        (
            "privileged-nested",
            "true",
            'task build-images: PRIVILEGED_NESTED is "true" '
            "(buildah_build_task.privileged_nested_param)",
        ),
    ],
)
def test_param_rules_name_the_rule(param: str, value: object, expected: str) -> None:
    problems = check(pipeline(), run(**{param: value}), run())
    assert problems == [f".tekton/run-0.yaml: {expected}"]


def test_the_rules_dates_decide_between_error_and_warning() -> None:
    before = datetime(2026, 5, 1, tzinfo=UTC)
    problems = check(pipeline(), run(**{"enable-package-registry-proxy": "false"}), now=before)
    assert problems == [
        "warning: .tekton/run-0.yaml: task prefetch-dependencies: enable-package-registry-proxy "
        "is 'false', not \"true\" (in effect from 2026-05-13) "
        "(prefetch_dependencies.package_registry_proxy_enabled)"
    ]


def _git_repo(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    env = {"GIT_AUTHOR_DATE": "2026-08-01T00:00:00Z", "GIT_COMMITTER_DATE": "2026-08-01T00:00:00Z"}
    for command in (
        ["git", "init", "-q"],
        ["git", "add", "."],
        ["git", "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", "x"],
    ):
        subprocess.run(command, cwd=root, check=True, env={**env, "PATH": "/usr/bin:/bin"})
    return root


PIPE = "docker-build-multi-platform-oci-ta"
PREFIX = "quay.io/konflux-ci/tekton-catalog/task-"
UPSTREAM = """
metadata:
  labels: {pipelines.openshift.io/runtime: generic}
spec:
  params:
    - {name: git-url, type: string}
    - {name: hermetic, type: string, default: "false"}
    - {name: build-platforms, type: array, default: [linux/x86_64]}
  tasks:
    - name: init
      taskRef: {name: init, version: "0.4"}
    - name: preflight
      taskRef: {name: preflight, version: "0.2"}
"""
POLICY_FILES = {
    "data/required_tasks.yml": """
pipeline-required-tasks:
  docker:
    - effective_on: "2025-04-01T00:00:00Z"
      tasks: [init, [git-clone, git-clone-oci-ta]]
  fbc: []
""",
    "data/trusted_task_rules.yaml": """
rule_data:
  trusted_task_rules:
    allow:
      defaults: [{pattern: "oci://quay.io/konflux-ci/tekton-catalog/task-*"}]
    deny:
      defaults:
        - {pattern: oci://quay.io/konflux-ci/tekton-catalog/task-init, versions: ['<0.4'],
           effective_on: "2026-09-05T00:00:00Z"}
        - {pattern: oci://quay.io/konflux-ci/tekton-catalog/task-other, versions: ['<9']}
        - {pattern: "oci://quay.io/konflux-ci/tekton-catalog/task-pre*"}
""",
    "data/rule_data.yml": "rule_data:\n  required_hermetic_tasks: [buildah-remote-oci-ta]\n",
}


def test_update_bundles_reads_both_checkouts(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", "/usr/bin:/bin")  # no skopeo: the registry is not asked
    digest = "sha256:" + "1" * 64
    definitions = _git_repo(
        tmp_path / "build-definitions",
        {
            f"pipelines/{PIPE}/{PIPE}.yaml": UPSTREAM,
            "external-task/init/0.4/init.yaml": (
                f"task_bundle: quay.io/konflux-ci/tekton-catalog/task-init:0.4.2@{digest}\n"
            ),
            "task/preflight/0.2/preflight.yaml": "kind: Task\n",
        },
    )
    policy = _git_repo(tmp_path / "rhtap-ec-policy", POLICY_FILES)
    pinned = "sha256:" + "2" * 64
    mintmaker = _git_repo(
        tmp_path / "pinned",
        {".tekton/p.yaml": f"value: {PREFIX}preflight:0.2@{pinned}\nvalue: {PREFIX}init:0.1\n"},
    )
    repo = tmp_path / "repo"
    (repo / "scripts/tcibsrc/data").mkdir(parents=True)
    (repo / "config.yaml").write_text("")
    ctx = Context(repo_root=repo, config_file=repo / "config.yaml", tcib_dir=repo, given={})
    monkeypatch.chdir(repo)
    command = [
        "--config", str(repo / "config.yaml"), "--tcib-dir", str(repo), "update-bundles",
        "--build-definitions", str(definitions), "--ec-policy-data", str(policy),
    ]  # fmt: skip
    # a task built inside build-definitions: its digest is not in git, and never left out
    assert main(command) == 1
    err = capsys.readouterr().err
    assert "preflight 0.2: built inside build-definitions" in err and "PINNED_BUNDLES=" in err
    assert not (repo / "scripts/tcibsrc/data/konflux_pipeline.yaml").exists()
    code = main([*command, "--pinned-bundles", str(mintmaker)])
    assert code == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    data_dir = ctx.repo_root / "scripts/tcibsrc/data"
    upstream = yaml.safe_load((data_dir / "konflux_pipeline.yaml").read_text())
    commit = subprocess.run(
        ["git", "-C", str(definitions), "log", "-1", "--format=%H"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    assert upstream["source"]["commit"] == commit
    assert upstream["params"][1] == {"name": "hermetic", "type": "string", "default": "false"}
    assert upstream["tasks"][0]["bundle"] == (
        f"quay.io/konflux-ci/tekton-catalog/task-init:0.4.2@{digest}"
    )
    # ... its digest where MintMaker pinned it in another repository
    assert upstream["tasks"][1]["bundle"] == f"{PREFIX}preflight:0.2@{pinned}"
    assert upstream["tasks"][1]["from"].startswith("pinned ")
    assert upstream["labels"] == {"pipelines.openshift.io/runtime": "generic"}
    assert "konflux_pipeline.yaml: updated" in out
    rules = yaml.safe_load((data_dir / "konflux_policy.yaml").read_text())
    assert rules["required_tasks"][0]["tasks"] == ["init", ["git-clone", "git-clone-oci-ta"]]
    # only the deny rules of the Pipeline's own tasks are kept; one without versions denies all
    assert rules["trusted_tasks"]["deny"] == {
        "init": [{"versions": "<0.4", "effective_on": "2026-09-05T00:00:00Z"}],
        "preflight": [{"versions": "any"}],
    }
    assert rules["params"][0]["tasks"] == ["buildah-remote-oci-ta"]
    # a second run changes nothing
    assert main([*command, "--pinned-bundles", str(mintmaker)]) == 0
    assert "konflux_pipeline.yaml: unchanged" in capsys.readouterr().out


def test_update_bundles_without_checkouts_says_what_to_set(
    capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BUILD_DEFINITIONS", raising=False)
    monkeypatch.delenv("EC_POLICY_DATA", raising=False)
    assert main(["update-bundles"]) != 0
    err = capsys.readouterr().err
    assert "BUILD_DEFINITIONS=" in err and "EC_POLICY_DATA=" in err


def test_a_bundle_without_a_digest_is_unpinned() -> None:
    data = pipeline()
    bundle_reference(data, "apply-tags")["value"] = f"{PREFIX}apply-tags:0.3"
    assert check(data, run()) == [
        f".tekton/build-pipeline.yaml: task apply-tags: {PREFIX}apply-tags:0.3 is not pinned by "
        "digest (tasks.pinned_task_refs): run `make update-bundles` where skopeo reaches "
        "quay.io (or with PINNED_BUNDLES=), or let MintMaker pin it"
    ]


def test_a_tag_without_a_version_is_denied_as_conforma_does() -> None:
    data = pipeline()
    bundle_reference(data, "init")["value"] = f"{PREFIX}init:latest@sha256:" + "c" * 64
    problems = check(data, run())
    assert any(
        "task init: init latest names no version, which Conforma denies" in p
        and p.endswith("(trusted_task.trusted): run `make update-bundles` and `make pipelines`, "
                       "or let MintMaker update it")
        for p in problems
    ), problems  # fmt: skip


def test_a_tag_too_coarse_for_a_patch_level_rule_is_a_warning() -> None:
    """prefetch-dependencies-oci-ta is denied below 0.7.1: a 0.7 tag may be 0.7.0 or 0.7.2."""
    data = pipeline()
    bundle_reference(data, "prefetch-dependencies")["value"] = (
        f"{PREFIX}prefetch-dependencies-oci-ta:0.7@sha256:" + "d" * 64
    )
    assert check(data, run()) == [
        "warning: .tekton/build-pipeline.yaml: task prefetch-dependencies: whether "
        "prefetch-dependencies-oci-ta 0.7 is denied (<0.7.1) depends on the patch version the "
        "tag does not show (trusted_task.trusted reads the bundle's version annotation)"
    ]
    bundle_reference(data, "prefetch-dependencies")["value"] = (
        f"{PREFIX}prefetch-dependencies-oci-ta:0.6@sha256:" + "d" * 64
    )
    assert "prefetch-dependencies-oci-ta 0.6 is denied (<0.7.1)" in "\n".join(check(data, run()))


def test_a_notin_when_is_evaluated() -> None:
    data = pipeline()
    task = next(t for t in data["spec"]["tasks"] if t["name"] == "clamav-scan")
    task["when"] = [{"input": "$(params.skip-checks)", "operator": "notin", "values": ["false"]}]
    problems = check(data, run())
    assert problems == [
        ".tekton/run-0.yaml: required task clamav-scan does not run (clamav-scan is skipped by "
        "its when) (tasks.required_tasks_found)"
    ]
    assert check(data, run(**{"skip-checks": "true"})) != []  # the other scans skip instead


def test_a_newer_upstream_pipeline_is_parity_missed(monkeypatch: pytest.MonkeyPatch) -> None:
    """When make update-bundles brings a task or param the Pipeline lacks, check says so."""
    from tcibsrc.konflux import policy_check as konflux_policy
    from tcibsrc.konflux.facts import UpstreamParam, UpstreamTask, upstream_pipeline

    data = pipeline()  # rendered from today's data
    new_param = UpstreamParam(name="new-param", type="string", default="x")
    new_task = UpstreamTask(
        name="new-scan", task="new-scan", version="0.1", bundle=f"{PREFIX}new-scan:0.1", origin="x"
    )
    newer = upstream_pipeline().model_copy(
        update={
            "params": (*upstream_pipeline().params, new_param),
            "tasks": (*upstream_pipeline().tasks, new_task),
        }
    )
    monkeypatch.setattr(konflux_policy, "upstream_pipeline", lambda: newer)
    assert check(data, run()) == [
        ".tekton/build-pipeline.yaml: param new-param of Konflux's "
        "docker-build-multi-platform-oci-ta is not declared (run `make pipelines`)",
        ".tekton/build-pipeline.yaml: task new-scan (new-scan) of Konflux's "
        "docker-build-multi-platform-oci-ta is missing (run `make pipelines`)",
    ]


def test_a_required_list_dated_ahead_warns_only_for_what_it_adds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tcibsrc.konflux import policy_check as konflux_policy
    from tcibsrc.konflux.facts import RequiredTasks, release_policy

    today = release_policy().required_now(LATER)
    assert today is not None
    ahead = RequiredTasks(
        effective_on="2099-01-01T00:00:00Z", groups=(("init",), ("brand-new-check",))
    )
    policy = release_policy().model_copy(update={"required": (today, ahead)})
    monkeypatch.setattr(konflux_policy, "release_policy", lambda: policy)
    data = pipeline()
    data["spec"]["tasks"] = [t for t in data["spec"]["tasks"] if t["name"] != "clamav-scan"]
    problems = [p for p in check(data, run()) if "required_tasks_found" in p]
    assert problems == [
        ".tekton/run-0.yaml: required task clamav-scan does not run (tasks.required_tasks_found)",
        "warning: .tekton/run-0.yaml: required task brand-new-check does not run (in effect "
        "from 2099-01-01) (tasks.required_tasks_found)",
    ]


def test_a_capability_added_to_the_build_is_rejected() -> None:
    data = pipeline()
    build = next(t for t in data["spec"]["tasks"] if t["name"] == "build-images")
    build["params"].append({"name": "ADD_CAPABILITIES", "value": "SETFCAP"})
    assert check(data, run()) == [
        ".tekton/run-0.yaml: task build-images: ADD_CAPABILITIES is set ('SETFCAP'); the rule "
        "allows none (buildah_build_task.add_capabilities_param)"
    ]


def _commit_file(root: Path, name: str, text: str) -> None:
    (root / name).write_text(text)
    env = {"GIT_AUTHOR_DATE": "2026-09-01T00:00:00Z", "GIT_COMMITTER_DATE": "2026-09-01T00:00:00Z"}
    for command in (
        ["git", "add", "."],
        ["git", "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", "bump"],
    ):
        subprocess.run(command, cwd=root, check=True, env={**env, "PATH": "/usr/bin:/bin"})


def _prefetch_task(version: str, hermeto: str) -> str:
    return (
        "kind: Task\nmetadata:\n  name: prefetch-dependencies-oci-ta\n  labels:\n"
        f"    app.kubernetes.io/version: {version}\nspec:\n  steps:\n"
        "    - name: skip-ta\n      image: quay.io/konflux-ci/task-runner:1\n"
        f"    - name: prefetch-dependencies\n      image: {hermeto}\n"
    )


def test_update_bundles_takes_hermeto_from_the_pinned_prefetch_task_in_the_catalog(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The local hermeto is the one the pinned task version runs, read from the catalog's
    history of that task; a newer catalog version is said, not written."""
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    digest = "sha256:" + "1" * 64
    upstream = UPSTREAM.replace(
        '    - name: preflight\n      taskRef: {name: preflight, version: "0.2"}\n',
        "    - name: prefetch-dependencies\n"
        '      taskRef: {name: prefetch-dependencies-oci-ta, version: "0.10"}\n',
    )
    definitions = _git_repo(
        tmp_path / "build-definitions",
        {
            f"pipelines/{PIPE}/{PIPE}.yaml": upstream,
            "external-task/init/0.4/init.yaml": f"task_bundle: {PREFIX}init:0.4.2@{digest}\n",
            "external-task/prefetch-dependencies-oci-ta/0.10/prefetch-dependencies-oci-ta.yaml": (
                f"task_bundle: {PREFIX}prefetch-dependencies-oci-ta:0.10.1@{digest}\n"
            ),
        },
    )
    policy = _git_repo(tmp_path / "rhtap-ec-policy", POLICY_FILES)
    task_file = "task/prefetch-dependencies-oci-ta/prefetch-dependencies-oci-ta.yaml"
    old_hermeto = "quay.io/konflux-ci/hermeto:0.61.0@sha256:" + "6" * 64
    catalog = _git_repo(tmp_path / "catalog", {task_file: _prefetch_task("0.10.1", old_hermeto)})
    _commit_file(catalog, task_file, _prefetch_task("0.10.3", "quay.io/konflux-ci/hermeto:0.62"))
    repo = tmp_path / "repo"
    (repo / "scripts/tcibsrc/data").mkdir(parents=True)
    (repo / "config.yaml").write_text("")
    monkeypatch.chdir(repo)
    command = [
        "--config", str(repo / "config.yaml"), "--tcib-dir", str(repo), "update-bundles",
        "--build-definitions", str(definitions), "--ec-policy-data", str(policy),
    ]  # fmt: skip
    # without the catalog: the image cannot be read, and that is said
    assert main(command) == 0
    assert "give CATALOG= a clone of konflux-ci/container-build-catalog" in capsys.readouterr().err
    assert main([*command, "--catalog", str(catalog)]) == 0
    err = capsys.readouterr().err
    assert "prefetch-dependencies-oci-ta: 0.10.3 in the catalog, 0.10.1 pinned" in err
    data = yaml.safe_load((repo / "scripts/tcibsrc/data/konflux_pipeline.yaml").read_text())
    assert data["hermeto"]["image"] == old_hermeto  # the pinned 0.10.1's, not the newest
    assert "(version 0.10.1)" in data["hermeto"]["from"]
    # a later run without the catalog keeps what was read
    assert main(command) == 0
    data = yaml.safe_load((repo / "scripts/tcibsrc/data/konflux_pipeline.yaml").read_text())
    assert data["hermeto"]["image"] == old_hermeto

"""Deploy manifests (validated against the operators' CRD schemas) and the staged deploy,
against a kubectl stand-in on PATH that records its calls and replays conditions."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
import yaml

from conftest import ConfigWriter
from tcibsrc.common.context import Context
from tcibsrc.common.crd_schemas import CrdError, validate
from tcibsrc.common.errors import ToolkitError
from tcibsrc.deploy.cluster import deploy, deploy_check
from tcibsrc.deploy.manifests import DeploySettings, controlplane, stages_data
from tcibsrc.interface.cli import main

DIGEST = "sha256:" + "ab" * 32


def snapshot(tmp_path: Path, components: dict[str, str]) -> Path:
    path = tmp_path / "snapshot.json"
    path.write_text(
        json.dumps(
            {
                "apiVersion": "appstudio.redhat.com/v1alpha1",
                "kind": "Snapshot",
                "spec": {
                    "application": "app",
                    "components": [
                        {"name": name, "containerImage": image}
                        for name, image in components.items()
                    ],
                },
            }
        )
    )
    return path


def built(*images: str) -> dict[str, str]:
    return {
        f"{image}-centos10-epoxy": f"quay.io/example/sig/{image}-centos10-epoxy@{DIGEST}"
        for image in images
    }


def cli(ctx: Context, *args: str) -> int:
    return main(["--config", str(ctx.config_file), "--tcib-dir", str(ctx.tcib_dir), *args])


def test_manifests_name_every_built_image_by_digest_and_validate(
    repo: Context, tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(repo.repo_root)
    path = snapshot(tmp_path, built("base", "os", "keystone", "nova-base", "nova-api"))
    assert cli(repo, "deploy-manifests", "--snapshot", str(path), "--storage-class", "ceph") == 0
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "note: base: no customContainerImages key (a parent image only)",
        "note: os: no customContainerImages key (a parent image only)",
        "note: nova-base: no customContainerImages key (a parent image only)",
    ]
    version = yaml.safe_load((repo.repo_root / "deploy/openstackversion.yaml").read_text())
    assert version == {
        "apiVersion": "core.openstack.org/v1beta1",
        "kind": "OpenStackVersion",
        "metadata": {"name": "openstack", "namespace": "openstack"},
        "spec": {
            "targetVersion": "0.0.1",
            "customContainerImages": {
                "keystoneAPIImage": f"quay.io/example/sig/keystone-centos10-epoxy@{DIGEST}",
                "novaAPIImage": f"quay.io/example/sig/nova-api-centos10-epoxy@{DIGEST}",
            },
        },
    }
    plane = yaml.safe_load((repo.repo_root / "deploy/openstackcontrolplane.yaml").read_text())
    assert plane["spec"]["storageClass"] == "ceph"
    assert plane["spec"]["galera"]["templates"]["openstack"]["storageClass"] == "ceph"
    on = sorted(k for k, v in plane["spec"].items() if isinstance(v, dict) and v.get("enabled"))
    assert on == [
        "galera", "glance", "keystone", "memcached", "neutron", "nova", "ovn", "placement",
        "rabbitmq",
    ]  # fmt: skip
    assert plane["spec"]["cinder"] == {"enabled": False}
    assert "openstackclient" in plane["spec"]


@pytest.mark.parametrize(
    ("components", "expected"),
    [
        (
            {**built("keystone"), "nova-api-centos10-epoxy": "quay.io/example/sig/nova-api:latest"},
            "nova-api-centos10-epoxy: 'quay.io/example/sig/nova-api:latest' is not pinned by "
            "digest",
        ),
        (built("keystone"), "nova-api-centos10-epoxy (image nova-api) is missing"),
    ],
    ids=["not-a-digest", "missing-image"],
)
def test_a_bad_snapshot_is_one_line(
    repo: Context,
    tmp_path: Path,
    capsys: pytest.CaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    components: dict[str, str],
    expected: str,
) -> None:
    monkeypatch.chdir(repo.repo_root)
    assert cli(repo, "deploy-manifests", "--snapshot", str(snapshot(tmp_path, components))) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and expected in err[0], err
    assert not (repo.repo_root / "deploy").exists()


def test_a_field_the_crd_does_not_know_is_an_error_naming_it() -> None:
    plane = controlplane(DeploySettings())
    plane["spec"]["keystone"]["template"]["replica"] = 3  # the CRD spells it `replicas`
    with pytest.raises(CrdError) as caught:
        validate(plane, "deploy/openstackcontrolplane.yaml")
    assert caught.value.line().startswith(
        "deploy/openstackcontrolplane.yaml: OpenStackControlPlane.spec.keystone.template.replica: "
        "a field the CRD does not know"
    )
    plane = controlplane(DeploySettings())
    plane["spec"]["galera"]["templates"]["openstack"]["replicas"] = "one"
    with pytest.raises(CrdError, match=r"replicas: a str, the CRD wants integer"):
        validate(plane, "x")


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda m: m["spec"]["galera"]["templates"]["openstack"].update(replicas=-1),
            "OpenStackControlPlane.spec.galera.templates.openstack.replicas: -1, the CRD wants "
            "at least 0",
        ),
        (
            lambda m: m["spec"]["galera"]["templates"]["openstack"].update(replicas=None),
            "OpenStackControlPlane.spec.galera.templates.openstack.replicas: a NoneType, the CRD "
            "wants integer",
        ),
        (
            lambda m: m["metadata"].update(name="Open_Stack"),
            "OpenStackControlPlane.metadata.name: 'Open_Stack' is not a DNS subdomain name",
        ),
        (
            lambda m: m["spec"]["keystone"]["template"].update(apiTimeout="60"),
            "OpenStackControlPlane.spec.keystone.template.apiTimeout: a str, the CRD wants integer",
        ),
    ],
    ids=["below-minimum", "null", "bad-name", "string-for-integer"],
)
def test_the_crd_schema_holds_patterns_bounds_and_names(change, expected: str) -> None:
    plane = controlplane(DeploySettings())
    change(plane)
    with pytest.raises(CrdError) as caught:
        validate(plane, "deploy/openstackcontrolplane.yaml")
    assert expected in caught.value.line()


KUBECTL = """#!{python}
import json, os, pathlib, sys
state = pathlib.Path({state!r})
data = json.loads(state.read_text())
args = sys.argv[1:]
stdin = sys.stdin.read() if args[:3] == ["apply", "-f", "-"] else ""
data["calls"].append({{"args": args, "stdin": stdin}})
code, out = 0, ""
if args[:1] == ["version"]:
    code = 0 if data["cluster"] else 1
elif args[:2] == ["get", "openstackcontrolplane"]:
    data["polls"] += 1
    ready = [c for c, after in data["ready_after"].items() if data["polls"] >= after]
    found = [{{"type": c, "status": "True"}} for c in ready]
    out = json.dumps({{"status": {{"conditions": found}}}})
elif args[:1] == ["exec"]:
    code = 1 if "image create" in args[-1] else 0
    if code:
        sys.stderr.write("HTTP 503: glance unavailable\\n")
state.write_text(json.dumps(data))
sys.stdout.write(out)
sys.exit(code)
"""


@pytest.fixture
def fake_kubectl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    state = tmp_path / "kubectl-state.json"
    state.write_text(json.dumps({"calls": [], "polls": 0, "cluster": True, "ready_after": {}}))
    program = bin_dir / "kubectl"
    program.write_text(KUBECTL.format(python=sys.executable, state=str(state)))
    program.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    return state


def set_state(state: Path, **changes: object) -> None:
    data = json.loads(state.read_text())
    data.update(changes)
    state.write_text(json.dumps(data))


def write_manifests(repo: Context, tmp_path: Path) -> None:
    """deploy/ for a Snapshot of keystone and nova-api (and their parents)."""
    path = snapshot(tmp_path, built("keystone", "nova-api"))
    assert cli(repo, "deploy-manifests", "--snapshot", str(path)) == 0


def test_stages_apply_in_order_and_wait_for_their_conditions(
    repo: Context, tmp_path: Path, fake_kubectl: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(repo.repo_root)
    write_manifests(repo, tmp_path)
    infra = ["MariaDB", "RabbitMQ", "Memcached", "OVN"]
    set_state(
        fake_kubectl,
        ready_after={
            **{f"OpenStackControlPlane{c}Ready": 2 for c in infra},  # on the second poll
            "OpenStackControlPlaneKeystoneAPIReady": 3,
            "OpenStackControlPlaneClientReady": 3,
        },
    )
    said: list[str] = []
    deploy(repo, "identity", DeploySettings(), timeout=5, interval=0, say=said.append)
    calls = json.loads(fake_kubectl.read_text())["calls"]
    applied = [yaml.safe_load(c["stdin"]) for c in calls if c["args"][:1] == ["apply"]]
    assert [m["kind"] for m in applied] == [
        "OpenStackVersion", "OpenStackControlPlane", "OpenStackControlPlane",
    ]  # fmt: skip

    def enabled(manifest: dict) -> set[str]:
        spec = manifest["spec"]
        return {k for k, v in spec.items() if isinstance(v, dict) and v.get("enabled")} | (
            {"openstackclient"} if "openstackclient" in spec else set()
        )

    assert enabled(applied[1]) == {"galera", "rabbitmq", "memcached", "ovn"}
    assert enabled(applied[2]) == {
        "galera",
        "rabbitmq",
        "memcached",
        "ovn",
        "keystone",
        "openstackclient",
    }
    polls = [c["args"][:2] for c in calls].count(["get", "openstackcontrolplane"])
    assert polls == 3  # infra waited one poll; identity was ready on the next
    assert said[0].startswith("stage infra: applied; waiting for OpenStackControlPlaneMariaDBReady")
    assert said[-1] == "stage identity: ready"


def test_a_stage_that_is_not_ready_in_time_says_what_is_not(
    repo: Context, tmp_path: Path, fake_kubectl: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(repo.repo_root)
    write_manifests(repo, tmp_path)
    set_state(fake_kubectl, ready_after={"OpenStackControlPlaneMariaDBReady": 1})
    with pytest.raises(ToolkitError) as caught:
        deploy(repo, "infra", DeploySettings(), timeout=0.2, interval=0.05, say=lambda _: None)
    line = caught.value.line()
    assert line.startswith(
        "stage infra: not ready after 0 s: OpenStackControlPlaneRabbitMQReady=absent"
    )
    assert "MariaDB" not in line.split("(")[0]


def test_without_a_cluster_the_targets_say_so_in_one_line(
    repo: Context,
    tmp_path: Path,
    fake_kubectl: Path,
    capsys: pytest.CaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(repo.repo_root)
    set_state(fake_kubectl, cluster=False)
    for command in (["deploy", "--stage", "infra"], ["deploy-check"]):
        assert cli(repo, *command) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1
        assert err[0].endswith(
            "kubectl: no cluster is reachable from the current context "
            "(log in (`oc login`, or set KUBECONFIG) and try again)"
        )


def test_deploy_check_runs_the_smoke_through_openstackclient(fake_kubectl: Path) -> None:
    said: list[str] = []
    assert deploy_check(DeploySettings(), say=said.append) == 1
    assert said == [
        "endpoints: passed",
        "token: passed",
        "network: passed",
        "image: failed: HTTP 503: glance unavailable",
    ]
    calls = json.loads(fake_kubectl.read_text())["calls"]
    execs = [c["args"] for c in calls if c["args"][:1] == ["exec"]]
    assert execs[0] == ["exec", "-n", "openstack", "openstackclient", "--", "bash", "-c",
                        "openstack endpoint list"]  # fmt: skip


def test_enabled_services_join_the_plane_crd_valid_and_images_outside_it_are_notes(
    repo: Context,
    tmp_path: Path,
    capsys: pytest.CaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    write_config: ConfigWriter,
) -> None:
    """The plane runs the `minimal` subset: an image beyond it that the Snapshot lacks keeps
    the operator's default (a note); ENABLE= switches services on with a CRD-valid template."""
    write_config(images={"scope": ["keystone", "nova-api"], "subsets": {"minimal": ["keystone"]}})
    monkeypatch.chdir(repo.repo_root)
    path = snapshot(tmp_path, built("keystone"))
    assert cli(repo, "deploy-manifests", "--snapshot", str(path), "--enable", "cinder,heat") == 0
    err = capsys.readouterr().err
    assert "note: nova-api: not in the Snapshot" in err and "default image stays" in err
    version = yaml.safe_load((repo.repo_root / "deploy/openstackversion.yaml").read_text())
    assert list(version["spec"]["customContainerImages"]) == ["keystoneAPIImage"]
    text = (repo.repo_root / "deploy/openstackcontrolplane.yaml").read_text()
    assert text.startswith("# Generated by `make deploy-manifests`: the minimal control plane "
                           "with cinder, heat.")  # fmt: skip
    plane = yaml.safe_load(text)
    cinder = plane["spec"]["cinder"]
    assert cinder["enabled"] is True
    assert cinder["template"]["secret"] == "osp-secret"
    assert cinder["template"]["databaseInstance"] == "openstack"
    assert plane["spec"]["heat"]["enabled"] is True
    assert plane["spec"]["swift"] == {"enabled": False}
    validate(plane, "plane")  # what the file holds is CRD-valid (manifests() checked it too)


def test_every_service_that_can_be_enabled_gives_a_crd_valid_plane() -> None:
    extras = tuple(stages_data().extras)
    assert {"cinder", "heat", "horizon", "swift", "octavia", "manila", "designate", "barbican",
            "ironic", "telemetry", "watcher"} <= set(extras)  # fmt: skip
    image = "quay.io/example/sig/octavia-api@" + DIGEST
    plane = controlplane(DeploySettings(extras=extras), images={"octaviaAPIImage": image})
    validate(plane, "plane")
    assert plane["spec"]["octavia"]["template"]["apacheContainerImage"] == image
    # a required field taken out is named by the CRD check
    del plane["spec"]["cinder"]["template"]["cinderAPI"]
    with pytest.raises(CrdError, match=r"spec.cinder.template.cinderAPI: required by the CRD"):
        validate(plane, "plane")


@pytest.mark.parametrize(
    ("enable", "expected"),
    [
        ("cinder,nosuch", "ENABLE=cinder,nosuch: nosuch: not a service this deploy can enable"),
        ("octavia", "the template needs the image of octaviaAPIImage"),
    ],
    ids=["unknown", "octavia-without-its-image"],
)
def test_a_service_that_cannot_be_enabled_is_one_line(
    repo: Context,
    tmp_path: Path,
    capsys: pytest.CaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    enable: str,
    expected: str,
) -> None:
    monkeypatch.chdir(repo.repo_root)
    path = snapshot(tmp_path, built("keystone", "nova-api"))
    monkeypatch.setenv("ENABLE", enable)
    assert cli(repo, "deploy-manifests", "--snapshot", str(path)) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and expected in err[0], err
    assert not (repo.repo_root / "deploy").exists()


def test_enabled_services_join_the_last_stage(
    repo: Context, tmp_path: Path, fake_kubectl: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(repo.repo_root)
    write_manifests(repo, tmp_path)
    conditions = {c for stage in stages_data().stages.values() for c in stage.conditions}
    set_state(fake_kubectl, ready_after={c: 1 for c in conditions})
    deploy(repo, "all", DeploySettings(extras=("heat",)), timeout=5, interval=0, say=print)
    calls = json.loads(fake_kubectl.read_text())["calls"]
    planes = [yaml.safe_load(c["stdin"]) for c in calls if c["args"][:1] == ["apply"]]
    planes = [p for p in planes if p["kind"] == "OpenStackControlPlane"]
    assert [p["spec"]["heat"]["enabled"] for p in planes[-3:]] == [False, False, True]

"""The staged deploy: the manifests applied with kubectl (or oc) to the current context, stage
by stage, each waiting for its conditions (data/deploy.yaml); and the smoke checks run in the
openstackclient pod. Everything a cluster is asked goes through one runner, so the tests can
replay a cluster."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import yaml

from tcibsrc.common.context import Context
from tcibsrc.common.crd_schemas import validate
from tcibsrc.deploy.manifests import (
    DEPLOY_DIR,
    VERSION_FILE,
    DeployError,
    DeploySettings,
    controlplane,
    stages_data,
)

Runner = Callable[[list[str], str | None], subprocess.CompletedProcess[str]]


def kubectl() -> str:
    for name in ("oc", "kubectl"):
        found = shutil.which(name)
        if found:
            return found
    raise DeployError("kubectl, oc", "neither is installed", "install kubectl and log in")


def _run(command: list[str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, input=stdin, capture_output=True, text=True, check=False)


def cluster_reachable(program: str, run: Runner = _run) -> None:
    result = run([program, "version", "--request-timeout=10s"], None)
    if result.returncode != 0:
        raise DeployError(
            program, "no cluster is reachable from the current context",
            "log in (`oc login`, or set KUBECONFIG) and try again",
        )  # fmt: skip


def conditions(program: str, settings: DeploySettings, run: Runner = _run) -> dict[str, str]:
    result = run(
        [program, "get", "openstackcontrolplane", settings.name, "-n", settings.namespace,
         "-o", "json"], None,
    )  # fmt: skip
    if result.returncode != 0:
        return {}
    status = json.loads(result.stdout or "{}").get("status") or {}
    return {c["type"]: c.get("status", "Unknown") for c in status.get("conditions", [])}


def deploy(
    ctx: Context,
    stage: str,
    settings: DeploySettings,
    *,
    timeout: float,
    interval: float = 10.0,
    run: Runner = _run,
    say: Callable[[str], None] = print,
) -> None:
    """Apply the OpenStackVersion, then the control plane stage by stage, waiting for each."""
    data = stages_data()
    order = list(data.stages)
    if stage not in order:
        raise DeployError(f"STAGE={stage}", "unknown stage", f"use one of: {', '.join(order)}")
    program = kubectl()
    cluster_reachable(program, run)
    root = ctx.repo_root / DEPLOY_DIR
    version_text = (root / VERSION_FILE).read_text(encoding="utf-8") if (
        root / VERSION_FILE
    ).is_file() else None  # fmt: skip
    if version_text is None:
        raise DeployError(f"{DEPLOY_DIR}/{VERSION_FILE}", "missing", "run `make deploy-manifests`")
    result = run([program, "apply", "-f", "-"], version_text)
    if result.returncode != 0:
        raise DeployError("OpenStackVersion", f"kubectl apply failed: {result.stderr.strip()}")
    try:
        version = yaml.safe_load(version_text)
        images = dict(version["spec"]["customContainerImages"])
    except (yaml.YAMLError, TypeError, KeyError) as exc:
        raise DeployError(
            f"{DEPLOY_DIR}/{VERSION_FILE}", f"not an OpenStackVersion ({exc})",
            "run `make deploy-manifests` again",
        ) from exc  # fmt: skip
    enabled: set[str] = set()
    for name in order[: order.index(stage) + 1]:
        enabled |= set(data.stages[name].services)
        if name == order[-1]:
            enabled |= set(settings.extras)  # ENABLE= services join the last stage
        plane = controlplane(settings, enabled, images)
        validate(plane, f"stage {name}")
        result = run([program, "apply", "-f", "-"], yaml.safe_dump(plane, sort_keys=False))
        if result.returncode != 0:
            raise DeployError(f"stage {name}", f"kubectl apply failed: {result.stderr.strip()}")
        wanted = data.stages[name].conditions
        say(f"stage {name}: applied; waiting for {', '.join(wanted)}")
        deadline = time.monotonic() + timeout
        while True:
            found = conditions(program, settings, run)
            missing = [c for c in wanted if found.get(c) != "True"]
            if not missing:
                say(f"stage {name}: ready")
                break
            if time.monotonic() >= deadline:
                shown = ", ".join(f"{c}={found.get(c, 'absent')}" for c in missing)
                raise DeployError(
                    f"stage {name}", f"not ready after {timeout:.0f} s: {shown}",
                    f"see `{Path(program).name} get openstackcontrolplane {settings.name} "
                    f"-n {settings.namespace} -o yaml`",
                )  # fmt: skip
            time.sleep(interval)


CHECKS = (
    ("endpoints", "openstack endpoint list"),
    ("token", "openstack token issue"),
    ("network", "openstack network create tcibsrc-smoke && openstack network delete tcibsrc-smoke"),
    ("image", "openstack image create --disk-format raw --container-format bare tcibsrc-smoke "
     "&& openstack image delete tcibsrc-smoke"),
)  # fmt: skip


def deploy_check(
    settings: DeploySettings, run: Runner = _run, say: Callable[[str], None] = print
) -> int:
    """The smoke checks through the openstackclient pod; the number that failed."""
    program = kubectl()
    cluster_reachable(program, run)
    failed = 0
    for name, command in CHECKS:
        result = run(
            [program, "exec", "-n", settings.namespace, "openstackclient", "--",
             "bash", "-c", command], None,
        )  # fmt: skip
        ok = result.returncode == 0
        failed += not ok
        detail = "" if ok else f": {(result.stderr.strip().splitlines() or [''])[-1]}"
        say(f"{name}: {'passed' if ok else 'failed'}{detail}")
    return failed

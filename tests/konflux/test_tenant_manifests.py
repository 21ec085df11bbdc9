"""The tenant's side: repository ids, signing keys, registries, and konflux/ manifests."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from conftest import BASE_CONFIG, ConfigWriter, shown
from tcibsrc.common.config import load_config
from tcibsrc.common.context import Context
from tcibsrc.common.crd_schemas import CrdError, validate
from tcibsrc.interface.cli import main
from tcibsrc.konflux.prefetch_input import rpm_input
from tcibsrc.konflux.tenant_policy import rule_data, tenant_problems
from tcibsrc.rpm.lock_inputs import render_rpms_repo

POLICY = {
    "rpm_signing_keys": {"KEY": "0123456789ABCDEF"},
    "base_image_registries": ["quay.io/centos/"],
}


def konflux(**extra: object) -> dict:
    return {**BASE_CONFIG["konflux"], **extra}


def test_repository_ids_follow_the_configured_scheme(write_config: ConfigWriter) -> None:
    rpm = copy.deepcopy(BASE_CONFIG["rpm"])
    rpm["repository_id"] = "{distro}-stream-{major}-for-$basearch-{id}-rpms"
    config = load_config(write_config(rpm=rpm))
    assert "[centos-stream-10-for-$basearch-stream-epoxy-rpms]" in render_rpms_repo(config)
    # hermeto reads the lock's repoids, which dnf expanded per arch: one option set for each
    assert rpm_input(config)["options"]["dnf"] == {
        "centos-stream-10-for-x86_64-stream-epoxy-rpms": {"gpgkey": "file:///etc/pki/rpm-gpg/KEY"},
        "centos-stream-10-for-aarch64-stream-epoxy-rpms": {"gpgkey": "file:///etc/pki/rpm-gpg/KEY"},
    }


def test_an_unknown_repository_id_placeholder_is_a_config_error(
    write_config: ConfigWriter, capsys: pytest.CaptureFixture
) -> None:
    rpm = {**BASE_CONFIG["rpm"], "repository_id": "{id}-for-$basearch-{nope}"}
    path = write_config(rpm=rpm)
    assert main(["--config", str(path), "check"]) != 0
    assert "rpm.repository_id" in capsys.readouterr().err


def test_the_tenant_policy_allows_the_keys_and_the_base_image(write_config: ConfigWriter) -> None:
    config = load_config(write_config(konflux=konflux(policy=POLICY)))
    assert shown(tenant_problems(config, "config.yaml")) == []
    data = rule_data(config)
    assert data["allowed_rpm_signature_keys"] == ["0123456789abcdef"]
    assert data["extra_rpm_repositories"] == ["stream-epoxy"]
    assert data["allowed_registry_prefixes"] == ["quay.io/centos/", "quay.io/example/sig/"]


def test_a_key_the_tenant_does_not_allow_is_a_problem(write_config: ConfigWriter) -> None:
    policy = {**POLICY, "rpm_signing_keys": {"OTHER-KEY": "0123456789abcdef"}}
    config = load_config(write_config(konflux=konflux(policy=policy)))
    assert shown(tenant_problems(config, "config.yaml")) == [
        "config.yaml: rpm repository stream-epoxy is signed with KEY, which "
        "konflux.policy.rpm_signing_keys does not allow (rpm_signature.allowed): add the key "
        "there, and to the tenant's allowed_rpm_signature_keys"
    ]


def test_an_unrecorded_key_id_and_a_foreign_base_image(write_config: ConfigWriter) -> None:
    policy = {"rpm_signing_keys": {"KEY": None}, "base_image_registries": ["registry.example/"]}
    config = load_config(write_config(konflux=konflux(policy=policy)))
    problems = shown(tenant_problems(config, "config.yaml"))
    assert problems[0].startswith(
        "warning: config.yaml: konflux.policy.rpm_signing_keys: the key id of KEY (stream-epoxy) "
        "is not recorded"
    )
    assert problems[1] == (
        "config.yaml: distro.base_image quay.io/centos/centos:stream10 is not under "
        "konflux.policy.base_image_registries (base_image_registries.base_image_permitted)"
    )
    assert rule_data(config)["allowed_rpm_signature_keys"] == []


def test_a_key_id_must_be_sixteen_hex_digits(
    write_config: ConfigWriter, capsys: pytest.CaptureFixture
) -> None:
    policy = {**POLICY, "rpm_signing_keys": {"KEY": "8483c65d"}}  # a short id
    path = write_config(konflux=konflux(policy=policy))
    assert main(["--config", str(path), "check"]) != 0
    assert "konflux.policy.rpm_signing_keys.KEY" in capsys.readouterr().err


def test_without_a_tenant_policy_check_warns() -> None:
    from tcibsrc.common.config import Config

    config = Config.__new__(Config)
    object.__setattr__(config, "tenant_policy", None)
    assert shown(tenant_problems(config, "config.yaml")) == [
        "warning: config.yaml: konflux.policy is not set: the RPM signing keys and base image "
        "registries the tenant's release policy allows cannot be checked"
    ]


@pytest.fixture
def manifests_dir(
    pinned_repo: Context, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> Path:
    ctx = pinned_repo
    monkeypatch.chdir(ctx.repo_root)
    code = main(
        ["--config", str(ctx.config_file), "--tcib-dir", str(ctx.tcib_dir), "konflux-manifests",
         "--git-url", "https://example.invalid/sig/images"]
    )  # fmt: skip
    assert code == 0, capsys.readouterr().err
    return ctx.repo_root / "konflux"


def test_konflux_manifests_are_valid_and_nudge_along_the_image_graph(manifests_dir: Path) -> None:
    components = list(yaml.safe_load_all((manifests_dir / "components.yaml").read_text()))
    by_name = {c["metadata"]["name"]: c for c in components}
    # one Component per image of the scope and its parents, and the builder
    assert set(by_name) == {
        f"{image}-centos10-epoxy"
        for image in (
            "base",
            "os",
            "keystone",
            "nova-base",
            "nova-api",
            "builder",
        )
    }
    # a parent's new digest opens its children's pull requests (they build FROM it)
    assert by_name["base-centos10-epoxy"]["spec"]["build-nudges-ref"] == ["os-centos10-epoxy"]
    assert by_name["os-centos10-epoxy"]["spec"]["build-nudges-ref"] == [
        "keystone-centos10-epoxy",
        "nova-base-centos10-epoxy",
    ]
    assert by_name["nova-base-centos10-epoxy"]["spec"]["build-nudges-ref"] == [
        "nova-api-centos10-epoxy"
    ]
    assert (
        "keystone-centos10-epoxy" in by_name["builder-centos10-epoxy"]["spec"]["build-nudges-ref"]
    )
    assert "build-nudges-ref" not in by_name["keystone-centos10-epoxy"]["spec"]  # a leaf
    keystone = by_name["keystone-centos10-epoxy"]
    assert keystone["spec"]["source"]["git"] == {
        "url": "https://example.invalid/sig/images",
        "revision": "main",
        "context": ".",
        "dockerfileUrl": "containerfiles/keystone/Containerfile",
    }
    assert keystone["spec"]["containerImage"] == "quay.io/example/sig/keystone-centos10-epoxy"
    # the PipelineRuns are committed already: Konflux must not open a pull request for them
    annotations = keystone["metadata"]["annotations"]
    assert annotations["build.appstudio.openshift.io/request"] == "configure-pac-no-mr"
    # the fixture's registry path is not image-controller's for its tenant: no ImageRepositories
    assert not (manifests_dir / "imagerepositories.yaml").exists()
    rules = yaml.safe_load((manifests_dir / "rule-data.yaml").read_text())["rule_data"]
    assert rules["extra_rpm_repositories"] == ["stream-epoxy"]


def test_a_field_the_component_crd_does_not_know_is_an_error(manifests_dir: Path) -> None:
    component = next(yaml.safe_load_all((manifests_dir / "components.yaml").read_text()))
    component["spec"]["build-nudge-refs"] = ["typo"]
    with pytest.raises(CrdError, match=r"Component.spec.build-nudge-refs: a field the CRD"):
        validate(component, "konflux/components.yaml")
    (application,) = yaml.safe_load_all((manifests_dir / "application.yaml").read_text())
    del application["spec"]["displayName"]
    with pytest.raises(CrdError, match=r"Application.spec.displayName: required by the CRD"):
        validate(application, "konflux/application.yaml")


def test_the_component_crd_holds_its_lengths_and_patterns(manifests_dir: Path) -> None:
    component = next(yaml.safe_load_all((manifests_dir / "components.yaml").read_text()))
    component["spec"]["componentName"] = "k" * 80
    with pytest.raises(CrdError, match=r"componentName: 80 characters, the CRD wants at most 63"):
        validate(component, "konflux/components.yaml")
    component = next(yaml.safe_load_all((manifests_dir / "components.yaml").read_text()))
    component["spec"]["application"] = "Open Stack"
    with pytest.raises(CrdError, match=r"spec.application: 'Open Stack' does not match"):
        validate(component, "konflux/components.yaml")


def test_image_repositories_where_image_controller_creates_them(
    pinned_repo: Context, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """image-controller makes quay.io/<organization>/<tenant namespace>/<name>: with the
    registry path set to that, every Component gets its ImageRepository."""
    ctx = pinned_repo
    monkeypatch.chdir(ctx.repo_root)
    data = yaml.safe_load(ctx.config_file.read_text())
    data["registry"]["namespace"] = "example/tenant"
    ctx.config_file.write_text(yaml.safe_dump(data))
    code = main(
        ["--config", str(ctx.config_file), "--tcib-dir", str(ctx.tcib_dir), "konflux-manifests",
         "--git-url", "https://example.invalid/sig/images"]
    )  # fmt: skip
    assert code == 0, capsys.readouterr().err
    directory = ctx.repo_root / "konflux"
    components = list(yaml.safe_load_all((directory / "components.yaml").read_text()))
    repositories = list(yaml.safe_load_all((directory / "imagerepositories.yaml").read_text()))
    assert [r["metadata"]["name"] for r in repositories] == [
        c["metadata"]["name"] for c in components
    ]
    keystone = next(r for r in repositories if r["metadata"]["name"] == "keystone-centos10-epoxy")
    assert keystone["spec"]["image"] == {
        "name": "tenant/keystone-centos10-epoxy",
        "visibility": "public",
    }
    assert keystone["metadata"]["labels"] == {
        "appstudio.redhat.com/application": "app",
        "appstudio.redhat.com/component": "keystone-centos10-epoxy",
    }
    component = next(c for c in components if c["metadata"]["name"] == "keystone-centos10-epoxy")
    # the repository the PipelineRuns push to is the one image-controller made
    assert component["spec"]["containerImage"] == (
        f"quay.io/example/{keystone['spec']['image']['name']}"
    )


def test_konflux_manifests_need_an_https_git_url(
    pinned_repo: Context, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GIT_URL", raising=False)
    ctx = pinned_repo  # a scratch directory without an origin remote
    monkeypatch.chdir(ctx.repo_root)
    code = main(["--config", str(ctx.config_file), "--tcib-dir", str(ctx.tcib_dir),
                 "konflux-manifests"])  # fmt: skip
    assert code != 0
    err = capsys.readouterr().err
    assert "set konflux.git_url in config.yaml, or GIT_URL=https://" in err
    assert not (ctx.repo_root / "konflux").exists()

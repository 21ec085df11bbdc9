"""The tenant's side of the release policy: signing keys, base image registries, repo ids.

Konflux judges every RPM in an image by its signature key (Conforma's rpm_signature.allowed, rule
data `allowed_rpm_signature_keys`), every base image by its registry (base_image_registries,
`allowed_registry_prefixes`) and every RPM's repository id (rpm_repos.ids_known, Konflux's known
ids plus the tenant's `extra_rpm_repositories`). config.yaml's konflux.policy records what this
tenant allows; this check holds rpms.repo and the base image to it, and `make konflux-manifests`
writes the rule data that adds this deployment's repository ids and keys.
"""

from __future__ import annotations

from collections.abc import Iterator

from tcibsrc.common.config import Config
from tcibsrc.common.errors import Problem, warning

CONFIG_KEY = "konflux.policy"


def key_file(gpgkey: str) -> str:
    return gpgkey.rstrip("/").rsplit("/", 1)[-1]


def tenant_problems(config: Config, display: str) -> Iterator[Problem]:
    policy = config.tenant_policy
    if policy is None:
        yield warning(
            display,
            f"{CONFIG_KEY} is not set: the RPM signing keys and base image registries the "
            "tenant's release policy allows cannot be checked",
        )
        return
    unrecorded: dict[str, list[str]] = {}
    for repo in config.rpm_repositories:
        if not repo.enabled:
            continue
        name = key_file(repo.gpgkey)
        if name not in policy.rpm_signing_keys:
            yield Problem(
                display,
                f"rpm repository {repo.id} is signed with {name}, which "
                f"{CONFIG_KEY}.rpm_signing_keys does not allow (rpm_signature.allowed): add the "
                "key there, and to the tenant's allowed_rpm_signature_keys",
            )
        elif policy.rpm_signing_keys[name] is None:
            unrecorded.setdefault(name, []).append(repo.id)
    for name, repos in sorted(unrecorded.items()):
        yield warning(
            display,
            f"{CONFIG_KEY}.rpm_signing_keys: the key id of {name} ({', '.join(repos)}) is not "
            "recorded, so the rule data cannot allow it: "
            f"`gpg --show-keys --with-colons /etc/pki/rpm-gpg/{name}` in the base image gives it",
        )
    if not any(config.base_image.startswith(prefix) for prefix in policy.base_image_registries):
        yield Problem(
            display,
            f"distro.base_image {config.base_image} is not under "
            f"{CONFIG_KEY}.base_image_registries",
            "base_image_registries.base_image_permitted",
        )


def rule_data(config: Config) -> dict[str, list[str]]:
    """The tenant's rule data additions this deployment needs (Conforma's rule data keys)."""
    policy = config.tenant_policy
    keys = sorted(
        {
            key
            for repo in config.rpm_repositories
            if repo.enabled and policy
            for key in [policy.rpm_signing_keys.get(key_file(repo.gpgkey))]
            if key
        }
    )
    repositories = sorted(
        {
            repo.id_for(arch)
            for repo in config.rpm_repositories
            if repo.enabled
            for arch in config.arches
        }
    )
    prefixes = sorted(
        {
            *(policy.base_image_registries if policy else ()),
            f"{config.registry_host}/{config.registry_namespace}/",
        }
    )
    return {
        "allowed_rpm_signature_keys": keys,
        "extra_rpm_repositories": repositories,
        "allowed_registry_prefixes": prefixes,
    }

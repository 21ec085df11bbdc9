"""What hermeto and a careful packager would reject in rpms.lock.yaml and rpms.repo.

Hermeto verifies sizes and checksums but not signatures, and its repo file says gpgcheck=1
with no key; so every repository must be gpg-checked with its key, and every lock entry must
carry a checksum, a size and the repoid of such a repository. The lock must cover every arch
and every requested package (else it is stale: run make lock-rpms).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from importlib import resources
from typing import Any

import jsonschema

from tcibsrc.common.errors import Problem, warning
from tcibsrc.common.yamlio import YamlError, parse_yaml
from tcibsrc.rpm.lock_inputs import parse_repo_file

_ARCH = re.compile(r"\b(x86_64|aarch64|ppc64le|s390x|amd64|arm64)\b")
_CHECKSUM = re.compile(r"^[a-z0-9]+:[0-9a-f]{32,}$")


def repo_problems(text: str, display: str) -> Iterator[Problem]:
    """Every enabled repository: gpgcheck=1, a gpgkey, $basearch rather than an arch."""
    for repoid, options in repo_sections(text, display).items():
        if options.get("enabled", "1").strip() in ("0", "false", "False", "no"):
            continue
        if options.get("gpgcheck", "0").strip() not in ("1", "true", "True", "yes"):
            yield (
                Problem(
                    display,
                    f"[{repoid}] has gpgcheck={options.get('gpgcheck', '(unset)')}: every "
                    "enabled repository must be gpg-checked",
                )
            )
        if not options.get("gpgkey", "").strip():
            yield Problem(
                display, f"[{repoid}] has no gpgkey (hermeto's repo file has none either)"
            )
        if "$basearch" not in repoid:
            yield (
                warning(
                    display,
                    f"[{repoid}] is arch-less: Konflux's rpm_repos.ids_known knows archful ids; "
                    "set rpm.repository_id with $basearch in config.yaml",
                )
            )
        for key in ("baseurl", "metalink", "mirrorlist"):
            found = _ARCH.search(options.get(key, ""))
            if found:
                yield (
                    Problem(
                        display,
                        f"[{repoid}] {key} names the arch '{found.group(1)}'",
                        "use $basearch",
                    )
                )


def repo_sections(text: str, display: str) -> dict[str, dict[str, str]]:
    return parse_repo_file(text, display)


def _name_of(entry: dict[str, Any]) -> str | None:
    if entry.get("name"):
        return str(entry["name"])
    filename = str(entry.get("url", "")).rsplit("/", 1)[-1]
    match = re.match(r"^(?P<name>.+)-[^-]+-[^-]+\.[^.]+\.rpm$", filename)
    return match.group("name") if match else None


def lock_problems(
    lock_text: str,
    lock_display: str,
    requested: list[str],
    arches: list[str],
    repos: dict[str, dict[str, str]],
) -> Iterator[Problem]:
    """Problems of the lock against the requested packages, arches and repositories."""
    try:
        lock = parse_yaml(lock_text, lock_display)
    except YamlError as exc:
        yield Problem(lock_display, f"malformed YAML ({exc.reason}, line {exc.line_number})")
        return
    if not isinstance(lock, dict):
        yield Problem(lock_display, "not a mapping")
        return
    if lock.get("lockfileVersion") != 1:
        yield Problem(
            lock_display, f"lockfileVersion is {lock.get('lockfileVersion')!r}, hermeto reads 1"
        )
    if lock.get("lockfileVendor") != "redhat":
        yield (
            Problem(
                lock_display,
                f"lockfileVendor is {lock.get('lockfileVendor')!r}, hermeto reads 'redhat'",
            )
        )
    by_arch = {
        str(item.get("arch")): item for item in lock.get("arches") or [] if isinstance(item, dict)
    }
    for arch in arches:
        if arch not in by_arch:
            yield (
                Problem(
                    lock_display,
                    f"no packages for {arch}",
                    "the lock must cover every arch; run make lock-rpms",
                )
            )
    checked = {
        repoid
        for repoid, options in repos.items()
        if options.get("gpgcheck", "0").strip() in ("1", "true", "True", "yes")
        and options.get("gpgkey", "").strip()
    }
    for arch, item in sorted(by_arch.items()):
        # dnf expands $basearch in section ids: the lock names the arch's own repoids
        sections = {section.replace("$basearch", arch): section for section in repos}
        seen_urls: set[str] = set()
        seen_names: dict[str, str] = {}
        packages = item.get("packages") or []
        for index, entry in enumerate(packages):
            where = f"{lock_display}: {arch} packages[{index}]"
            if not isinstance(entry, dict) or not entry.get("url"):
                yield Problem(where, "no url")
                continue
            name = _name_of(entry) or entry["url"]
            where = f"{lock_display}: {arch} {name}"
            checksum = str(entry.get("checksum", ""))
            if not _CHECKSUM.match(checksum):
                yield Problem(where, "no checksum (hermeto verifies every file against it)")
            size = entry.get("size")
            if not isinstance(size, int) or size <= 0:
                yield Problem(where, "no size")
            repoid = entry.get("repoid")
            if not repoid:
                yield Problem(where, "no repoid")
            elif repoid not in sections:
                yield Problem(where, f"repoid {repoid} is not in rpms.repo")
            elif sections[repoid] not in checked:
                yield Problem(where, f"repoid {repoid} is not gpg-checked with a key")
            if entry["url"] in seen_urls:
                yield Problem(where, f"listed twice ({entry['url']})")
            seen_urls.add(entry["url"])
            if (
                name in seen_names
                and seen_names[name] != entry["url"]
                and not entry.get("url", "").endswith(".src.rpm")
            ):
                yield Problem(
                    where, f"two versions in one arch ({seen_names[name]}, {entry['url']})"
                )
            seen_names.setdefault(name, entry["url"])
        names = {_name_of(entry) for entry in packages if isinstance(entry, dict)}
        for wanted in sorted(set(requested)):
            if wanted not in names:
                yield (
                    Problem(
                        lock_display,
                        f"stale lock: {wanted} is in rpms.in.yaml but not locked for {arch}",
                        "run make lock-rpms",
                    )
                )


def rpms_in_problems(text: str, display: str) -> Iterator[Problem]:
    """rpms.in.yaml against the input schema of rpm-lockfile-prototype (the keys we use)."""
    schema = json.loads(
        resources.files("tcibsrc")
        .joinpath("schemas/rpms-in.schema.json")
        .read_text(encoding="utf-8")
    )
    try:
        data = parse_yaml(text, display)
    except YamlError as exc:
        yield Problem(display, f"malformed YAML ({exc.reason}, line {exc.line_number})")
        return
    for error in sorted(
        jsonschema.Draft202012Validator(schema).iter_errors(data),
        key=lambda e: list(map(str, e.absolute_path)),
    ):
        path = ".".join(str(p) for p in error.absolute_path) or "(top level)"
        yield Problem(display, f"{path}: {error.message}")


def requested_packages(rpms_in: dict[str, Any]) -> list[str]:
    """Names from rpms.in.yaml `packages` (strings or {name, arches}) for every arch."""
    names = []
    for item in rpms_in.get("packages") or []:
        if isinstance(item, str):
            names.append(item)
        elif isinstance(item, dict) and "name" in item and not item.get("arches"):
            names.append(str(item["name"]))
    return names


def locked_versions(lock_text: str, lock_display: str) -> dict[str, str]:
    """RPM name -> its upstream version (the `evr` less epoch and release) in the lock; the
    first arch's where arches differ. Empty for a lock that does not parse (check says why)."""
    try:
        lock = parse_yaml(lock_text, lock_display)
    except YamlError:
        return {}
    found: dict[str, str] = {}
    arches = lock.get("arches") if isinstance(lock, dict) else None
    for item in arches if isinstance(arches, list) else []:
        packages = item.get("packages") if isinstance(item, dict) else None
        for entry in packages if isinstance(packages, list) else []:
            if not isinstance(entry, dict):
                continue
            name, evr = _name_of(entry), str(entry.get("evr", ""))
            if name and evr:
                found.setdefault(name, evr.split(":", 1)[-1].rsplit("-", 1)[0])
    return found

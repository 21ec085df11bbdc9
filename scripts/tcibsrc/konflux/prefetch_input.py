"""The hermeto `prefetch-input` of an image: its Python locks and the RPM lock, with keys.

Hermeto's models reject unknown keys, so only its current schema is written: pip with
`requirements_files` and `requirements_build_files`, and a `binary` filter naming only the
packages a policy installs from wheels (packages.<name>.install: wheel; never the deprecated
`allow_binary`): hermeto then fetches those packages' wheels for the arches and Python the
images target, the ones whose sha256 the lock lists, and sdists for the rest; rpm with
`options.dnf.<repoid>.gpgkey` for every repository, because the repo
file hermeto generates says gpgcheck=1 and names no key; generic with the image's
`artifacts.lock.yaml` where it unpacks an upstream release (novnc without RDO's repository).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tcibsrc.common.config import Config
from tcibsrc.common.context import Context
from tcibsrc.containers.artifacts import ARTIFACTS_LOCK
from tcibsrc.containers.render import RENDER_DIR
from tcibsrc.python.lockfile import (
    BUILD_INFO_FILE,
    REQUIREMENTS_DIR,
    read_build_info,
    read_lock_file,
)


def rpm_input(config: Config) -> dict[str, Any]:
    # the lock's repoids are dnf's, with $basearch expanded: one entry per arch
    options = {
        repo.id_for(arch): {"gpgkey": repo.gpgkey}
        for repo in config.rpm_repositories
        if repo.enabled
        for arch in (config.arches if "$basearch" in repo.id else config.arches[:1])
    }
    return {"type": "rpm", "path": ".", "options": {"dnf": options}}


def pip_input(ctx: Context, image: str) -> dict[str, Any] | None:
    directory = ctx.repo_root / REQUIREMENTS_DIR
    runtime = directory / f"{image}.txt"
    if not runtime.is_file():
        return None
    build = [
        f"{REQUIREMENTS_DIR}/{name}"
        for name in (f"{image}-build.txt", f"{image}-build-extra.txt")
        if (directory / name).is_file()
    ]
    entry: dict[str, Any] = {
        "type": "pip",
        "path": ".",
        # the git sources have their own file: hermeto refuses VCS lines among hashed ones
        "requirements_files": [
            f"{REQUIREMENTS_DIR}/{name}"
            for name in (f"{image}.txt", f"{image}-git.txt")
            if (directory / name).is_file()
        ],
        "requirements_build_files": build,
    }
    as_wheels = wheel_packages(ctx, [runtime, *(ctx.repo_root / path for path in build)])
    if as_wheels:
        config = ctx.config
        entry["binary"] = {
            "packages": ",".join(as_wheels),
            "arch": ",".join(config.arches),
            "os": "linux",
            "py_version": int(config.python_version.replace(".", "")),
        }
    return entry


def wheel_packages(ctx: Context, locks: list[Path]) -> list[str]:
    """The locked projects installed from wheels (install: wheel, as build-info.json records
    it at pin time: what the locks and the wheels stage were made for), sorted."""
    info_path = ctx.repo_root / REQUIREMENTS_DIR / BUILD_INFO_FILE
    info = read_build_info(info_path, ctx.display(info_path)) if info_path.is_file() else {}
    names = {
        str(pin.name)
        for path in locks
        for pin in read_lock_file(path, ctx.display(path)).values()
        if info.get(pin.key, {}).get("install") == "wheel"
    }
    return sorted(names)


def generic_input(ctx: Context, image: str) -> dict[str, Any] | None:
    """hermeto's generic fetcher, for the releases `make render` locked for the image."""
    lockfile = f"{RENDER_DIR}/{image}/{ARTIFACTS_LOCK}"
    if not (ctx.repo_root / lockfile).is_file():
        return None
    return {"type": "generic", "path": ".", "lockfile": lockfile}


def prefetch_input(ctx: Context, image: str, builds_wheels: bool) -> list[dict[str, Any]]:
    """What hermeto prefetches for `image`: pip when it builds wheels, always rpm, generic
    when it unpacks a release."""
    packages: list[dict[str, Any]] = []
    if builds_wheels:
        pip = pip_input(ctx, image)
        if pip is not None:
            packages.append(pip)
    packages.append(rpm_input(ctx.config))
    generic = generic_input(ctx, image)
    if generic is not None:
        packages.append(generic)
    return packages


def as_json(packages: list[dict[str, Any]]) -> str:
    return json.dumps(packages, separators=(",", ":"), sort_keys=True)

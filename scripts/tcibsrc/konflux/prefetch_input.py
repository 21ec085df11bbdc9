"""The hermeto `prefetch-input` of an image: its Python locks and the RPM lock, with keys.

Hermeto's models reject unknown keys, so only its current schema is written: pip with
`requirements_files` and `requirements_build_files` (sdists only: no `binary`, no deprecated
`allow_binary`), rpm with `options.dnf.<repoid>.gpgkey` for every repository, because the repo
file hermeto generates says gpgcheck=1 and names no key.
"""

from __future__ import annotations

import json
from typing import Any

from tcibsrc.common.config import Config
from tcibsrc.common.context import Context
from tcibsrc.python.lockfile import REQUIREMENTS_DIR


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
    return {
        "type": "pip",
        "path": ".",
        "requirements_files": [f"{REQUIREMENTS_DIR}/{image}.txt"],
        "requirements_build_files": build,
    }


def prefetch_input(ctx: Context, image: str, builds_wheels: bool) -> list[dict[str, Any]]:
    """What hermeto prefetches for `image`: pip when it builds wheels, always rpm."""
    packages: list[dict[str, Any]] = []
    if builds_wheels:
        pip = pip_input(ctx, image)
        if pip is not None:
            packages.append(pip)
    packages.append(rpm_input(ctx.config))
    return packages


def as_json(packages: list[dict[str, Any]]) -> str:
    return json.dumps(packages, separators=(",", ":"), sort_keys=True)

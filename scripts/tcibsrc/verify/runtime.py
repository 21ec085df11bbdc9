"""make verify-runtime: start an image's services from exactly its wheels, offline.

The wheels come from make verify-hermetic's program (built offline from the locks, or its
wheel cache). Rust sdists that cannot be built here are replaced by PyPI's binary wheels of the
same version, listed as "binary stand-in", never silently. Then, inside `unshare -n`,
in_image/runtime_check.py installs the wheels into a fresh virtualenv of the target Python and
runs the checks of data/runtime_checks.yaml: pip check, the contract's scripts, the entry points
the services load, and a scenario shaped like the operator's configuration.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from packaging.utils import canonicalize_name

from tcibsrc.common.context import Context
from tcibsrc.python.lockfile import REQUIREMENTS_DIR, read_lock_file
from tcibsrc.tcib.catalog import build_catalog
from tcibsrc.tcib.contract_data import project_contracts
from tcibsrc.verify.hermetic import VerifyError, verify_image
from tcibsrc.verify.namespace import run_offline

RUNTIME_DATA = "data/runtime_checks.yaml"
# the manylinux tags CentOS Stream 10's glibc (2.39) runs, newest first
MANYLINUX = ("manylinux_2_34", "manylinux_2_28", "manylinux_2_17", "manylinux2014")


def _data_text() -> str:
    override = os.environ.get("TCIBSRC_RUNTIME_CHECKS")
    if override:
        return Path(override).read_text(encoding="utf-8")
    return resources.files("tcibsrc").joinpath(RUNTIME_DATA).read_text(encoding="utf-8")


@cache
def _load(text: str) -> dict[str, Any]:
    return yaml.safe_load(text) or {}


def runtime_checks() -> dict[str, Any]:
    return _load(_data_text())


def _scripts(ctx: Context, image: str) -> list[dict[str, str | bool | None]]:
    """The contract's scripts of the image's projects and its parents', once each."""
    catalog = build_catalog(ctx)
    contracts = project_contracts()
    import_only = set(runtime_checks().get("import_only_scripts") or ())
    scripts: dict[str, dict[str, str | bool | None]] = {}
    cursor: str | None = image
    while cursor is not None:
        for project in catalog.images[cursor].python_projects:
            contract = contracts.get(canonicalize_name(project))
            for script in contract.scripts if contract else ():
                scripts.setdefault(
                    script.name,
                    {
                        "name": script.name,
                        "wsgi": script.wsgi,
                        "console": script.console,
                        "import_only": script.name in import_only,
                    },
                )
        cursor = catalog.images[cursor].parent
    return list(scripts.values())


def stand_in(
    name: str, version: str, wheels: Path, index_url: str, python_version: str
) -> str | None:
    """Download PyPI's binary wheel of name==version for the target; None, or why not."""
    arch = platform.machine()
    platforms = [part for tag in MANYLINUX for part in ("--platform", f"{tag}_{arch}")]
    command = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
        "--python-version", python_version, "--implementation", "cp", *platforms,
        "--index-url", index_url, "--dest", str(wheels), f"{name}=={version}",
    ]  # fmt: skip
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        env={**os.environ, "PIP_CONFIG_FILE": os.devnull},
        check=False,
    )
    if result.returncode != 0:
        lines = [line for line in (result.stderr or result.stdout).splitlines() if line.strip()]
        return lines[-1] if lines else f"pip download exit {result.returncode}"
    return None


def verify_runtime(
    ctx: Context,
    image: str,
    *,
    index_url: str,
    jobs: int,
    workdir: Path,
    install_system: bool,
    cargo_home: Path | None = None,
) -> dict[str, Any]:
    data = runtime_checks()
    settings = (data.get("images") or {}).get(image)
    if settings is None:
        known = ", ".join(sorted(data.get("images") or {})) or "none"
        raise VerifyError(
            f"scripts/tcibsrc/{RUNTIME_DATA}",
            f"no runtime checks for image '{image}'",
            f"images with runtime checks: {known}",
        )
    lock_path = ctx.repo_root / REQUIREMENTS_DIR / f"{image}.txt"
    if not lock_path.is_file():
        raise VerifyError(ctx.display(lock_path), "missing", "run `make pin-python-deps`")
    pins = read_lock_file(lock_path, ctx.display(lock_path))
    build_dir = workdir / "hermetic"
    build_dir.mkdir(parents=True, exist_ok=True)
    built = verify_image(
        ctx,
        image,
        index_url=index_url,
        jobs=jobs,
        hermeto_output=None,
        cargo_home=cargo_home,
        install_system=install_system,
        workdir=build_dir,
    )
    wheels = build_dir / "stand-ins"
    wheels.mkdir(exist_ok=True)
    statuses = {row["package"]: row for row in built["packages"] if row["role"] == "runtime"}
    stand_ins: dict[str, str] = {}
    for pin in pins.values():
        row = statuses.get(pin.key)
        if row is not None and row["status"] == "proven":
            continue
        problem = stand_in(pin.name, pin.version, wheels, index_url, ctx.config.python_version)
        why = (row.get("reason") or row["status"]) if row else "not built"
        stand_ins[pin.key] = (
            f"binary stand-in ({why})" if problem is None else f"missing: {problem}"
        )
    scenario_name = settings.get("scenario")
    scenario = (data.get("scenarios") or {}).get(scenario_name) if scenario_name else None
    plan = {
        "work": str(workdir / "run"),
        "python": built["python"].split(" (not ")[0],
        "wheels": [*built["wheel_dirs"], str(wheels)],
        "requirements": sorted(pin.key for pin in pins.values()),
        "scripts": _scripts(ctx, image),
        "entry_point_groups": list(settings.get("entry_points", [])),
        "scenario": scenario,
        "env": {},
    }
    Path(plan["work"]).mkdir(parents=True, exist_ok=True)
    outcome = run_offline(
        "tcibsrc.in_image.runtime_check",
        plan,
        workdir / "runtime-plan.json",
        workdir / "runtime-results.json",
        "the runtime checks",
    )
    return {
        "image": image,
        "python": built["python"],
        "network": outcome["network"],
        "wheels": {
            "built offline": len(
                {row["package"] for row in built["packages"] if row["status"] == "proven"}
            ),
            "stand-ins": stand_ins,
        },
        "scenario": scenario_name,
        "checks": outcome["checks"],
    }

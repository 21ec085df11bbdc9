"""make verify-runtime: start an image's services from exactly its wheels, offline.

The wheels come from make verify-hermetic's program (built offline from the locks, or its
wheel cache; a package installed from wheels, packages.<name>.install: wheel, is its locked
wheel for this machine). Rust sdists that cannot be built here are replaced by PyPI's binary
wheels of the same version, listed as "binary stand-in", never silently. Then, inside `unshare -n`,
in_image/runtime_check.py installs the wheels into a fresh virtualenv of the target Python and
runs the checks of data/runtime_checks.yaml: pip check, the contract's scripts, the entry points
the services load, and a scenario shaped like the operator's configuration.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Literal

from packaging.utils import canonicalize_name
from pydantic import ConfigDict, Field, StrictInt, model_validator

from tcibsrc.common.context import Context
from tcibsrc.common.datafiles import load_data
from tcibsrc.common.models import StrictModel
from tcibsrc.python.lockfile import (
    BUILD_INFO_FILE,
    REQUIREMENTS_DIR,
    image_pins,
    read_build_info,
)
from tcibsrc.tcib.catalog import build_catalog
from tcibsrc.tcib.contract import project_contracts
from tcibsrc.verify.hermetic import VerifyError, verify_image
from tcibsrc.verify.namespace import run_offline

RUNTIME_DATA = "data/runtime_checks.yaml"
# the manylinux tags CentOS Stream 10's glibc (2.39) runs, newest first
MANYLINUX = ("manylinux_2_34", "manylinux_2_28", "manylinux_2_17", "manylinux2014")


class Request(StrictModel):
    """An HTTP request to the started service; `expect` lists the statuses that pass, `save`
    keeps response headers as values later requests fill in ({token})."""

    name: str | None = None
    method: str = "GET"
    path: str
    headers: dict[str, str] = Field(default_factory=dict)
    body: Any = Field(default=None, alias="json")
    expect: tuple[StrictInt, ...] = (200,)
    save: dict[str, str] = Field(default_factory=dict)


class CopiedFile(StrictModel):
    """A file of the scenario copied from the installed wheels ({venv}/etc/...)."""

    model_config = ConfigDict(populate_by_name=True)

    source: str = Field(alias="copy")


class Scenario(StrictModel):
    """An operator-shaped run of a service: loopback services, config files, commands, then
    the WSGI application served and asked."""

    services: tuple[Literal["memcached", "ovn", "mariadb", "rabbitmq"], ...] = ()
    databases: tuple[str, ...] = ()  # created in MariaDB before the commands run
    files: dict[str, str | CopiedFile] = Field(default_factory=dict)
    env: dict[str, str] = Field(default_factory=dict)
    commands: tuple[str, ...] = ()
    wsgi: str | None = None  # module:attribute of the WSGI application
    # or the WSGI script the operator's httpd runs (`cinder-wsgi`), executed as mod_wsgi does
    wsgi_script: str | None = None
    requests: tuple[Request, ...] = ()


class ImageChecks(StrictModel):
    entry_points: tuple[str, ...] = ()  # groups, or group:name where drivers need extras
    scenario: str | None = None


class RuntimeChecks(StrictModel):
    """data/runtime_checks.yaml."""

    import_only_scripts: tuple[str, ...] = ()
    images: dict[str, ImageChecks] = Field(default_factory=dict)
    scenarios: dict[str, Scenario] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _scenarios_exist(self) -> RuntimeChecks:
        for image, checks in sorted(self.images.items()):
            if checks.scenario is not None and checks.scenario not in self.scenarios:
                raise ValueError(f"images.{image}.scenario: no scenario named {checks.scenario!r}")
        return self


# the programs each loopback service of a scenario needs: (command, Debian package)
SERVICE_TOOLS = {
    "memcached": (("memcached", "memcached"),),
    "ovn": (("ovsdb-server", "ovn-central"), ("ovsdb-tool", "openvswitch-common")),
    "mariadb": (("mariadbd", "mariadb-server"), ("mariadb-install-db", "mariadb-server")),
    "rabbitmq": (("rabbitmq-server", "rabbitmq-server"), ("rabbitmqctl", "rabbitmq-server")),
}


def missing_service_tools(scenario: Scenario | None) -> list[tuple[str, str]]:
    """The programs the scenario's services need that are not on PATH."""
    needed = [
        tool
        for service in (scenario.services if scenario else ())
        for tool in SERVICE_TOOLS[service]
    ]
    return [(command, package) for command, package in needed if shutil.which(command) is None]


def runtime_checks() -> RuntimeChecks:
    return load_data(
        "runtime_checks.yaml", RuntimeChecks, "fix the entry", override="TCIBSRC_RUNTIME_CHECKS"
    )


def _scripts(ctx: Context, image: str) -> list[dict[str, str | bool | None]]:
    """The contract's scripts of the image's projects and its parents', once each."""
    catalog = build_catalog(ctx)
    contracts = project_contracts()
    import_only = set(runtime_checks().import_only_scripts)
    scripts: dict[str, dict[str, str | bool | None]] = {}
    for name in catalog.chain(image):
        for project in catalog.images[name].python_projects:
            contract = contracts.get(canonicalize_name(project))
            for script in contract.scripts if contract else ():
                scripts.setdefault(
                    script.name,
                    {
                        "name": script.name,
                        "wsgi": script.wsgi or script.wsgi_factory,
                        "console": script.console,
                        "import_only": script.name in import_only,
                    },
                )
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
    settings = data.images.get(image)
    if settings is None:
        known = ", ".join(sorted(data.images)) or "none"
        raise VerifyError(
            f"scripts/tcibsrc/{RUNTIME_DATA}",
            f"no runtime checks for image '{image}'",
            f"images with runtime checks: {known}",
        )
    absent = missing_service_tools(data.scenarios.get(settings.scenario or ""))
    if absent:
        packages = " ".join(dict.fromkeys(package for _command, package in absent))
        raise VerifyError(
            ", ".join(command for command, _package in absent),
            f"not installed, and {image}'s scenario starts them on loopback",
            f"apt-get install {packages}",
        )
    # an image that adds no Python of its own (manila-api) runs its nearest parent's wheels
    catalog = build_catalog(ctx)
    chain = catalog.chain(image) if image in catalog.images else [image]
    locks = [ctx.repo_root / REQUIREMENTS_DIR / f"{name}.txt" for name in chain]
    lock_path = next((path for path in locks if path.is_file()), locks[0])
    if not lock_path.is_file():
        if image in catalog.images and not any(
            catalog.images[name].python_projects for name in chain
        ):
            raise VerifyError(
                image,
                "installs no Python in this config, so there is nothing to prove",
                "the base installs crudini and dumb-init from wheels only without RDO's "
                "repository: prove it under such a config",
            )
        raise VerifyError(ctx.display(lock_path), "missing", "run `make pin-python-deps`")
    locked_image = lock_path.name.removesuffix(".txt")
    # its hash-locked pins and its git sources
    info_path = ctx.repo_root / REQUIREMENTS_DIR / BUILD_INFO_FILE
    info = read_build_info(info_path, ctx.display(info_path)) if info_path.is_file() else {}
    pins = image_pins(ctx.repo_root / REQUIREMENTS_DIR, locked_image, info, ctx.display)
    build_dir = workdir / "hermetic"
    build_dir.mkdir(parents=True, exist_ok=True)
    built = verify_image(
        ctx,
        locked_image,
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
        if row is not None and row["status"] in ("proven", "wheel"):
            continue  # built offline, or its locked wheel (install: wheel), hash-checked
        problem = stand_in(pin.name, pin.version, wheels, index_url, ctx.config.python_version)
        why = (row.get("reason") or row["status"]) if row else "not built"
        stand_ins[pin.key] = (
            f"binary stand-in ({why})" if problem is None else f"missing: {problem}"
        )
    scenario_name = settings.scenario
    chosen = data.scenarios[scenario_name] if scenario_name else None
    scenario = chosen.model_dump(mode="json", by_alias=True, exclude_none=True) if chosen else None
    plan = {
        "work": str(workdir / "run"),
        "python": built["python"].split(" (not ")[0],
        "wheels": [*built["wheel_dirs"], str(wheels)],
        "requirements": sorted(pin.key for pin in pins.values()),
        "scripts": _scripts(ctx, image),
        "entry_point_groups": list(settings.entry_points),
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
            "locked wheels": len(
                {row["package"] for row in built["packages"] if row["status"] == "wheel"}
            ),
            "stand-ins": stand_ins,
        },
        "scenario": scenario_name,
        "checks": outcome["checks"],
    }

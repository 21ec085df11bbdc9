"""make verify-hermetic: prove offline that an image's locks build every wheel.

1. The image's sdists (runtime and build locks) are put in hermeto's layout, a flat
   `deps/pip/` directory: downloaded and hash-checked, or taken from a real hermeto output.
2. The Debian names of the system packages the compiled sdists need are installed (the local
   stand-in for the builder image's RPMs).
3. Inside `unshare -n` (a network namespace with only loopback, down), pip builds every sdist
   from those files only; see offline_build.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tcibsrc.atomic import write_text_atomic
from tcibsrc.cache import cache_dir
from tcibsrc.checksum import sha256_file
from tcibsrc.context import Context
from tcibsrc.errors import ToolkitError
from tcibsrc.index import SimpleIndex
from tcibsrc.lockfile import read_build_info, read_lock_file
from tcibsrc.pinning import ALL, BUILD_INFO_FILE
from tcibsrc.python_inputs import REQUIREMENTS_DIR
from tcibsrc.sdists import fetch_all
from tcibsrc.sysdeps import system_table
from tcibsrc.target_python import find_python


class VerifyError(ToolkitError):
    """The proof cannot be set up."""


@dataclass
class Locked:
    name: str
    version: str
    sha256: str
    role: str  # runtime, build

    @property
    def key(self) -> str:
        return f"{self.name}=={self.version}"


def lock_files(ctx: Context, image: str) -> list[Path]:
    directory = ctx.repo_root / REQUIREMENTS_DIR
    files = [
        directory / f"{image}.txt",
        directory / f"{image}-build.txt",
        directory / f"{image}-build-extra.txt",
    ]
    if not files[0].is_file():
        listing = ", ".join(images_with_locks(ctx)) or "none; run make pin-python-deps"
        raise VerifyError(
            ctx.display(files[0]), f"no lock for image '{image}'", f"images with locks: {listing}"
        )
    return [path for path in files if path.is_file()]


def locked_sdists(ctx: Context, image: str) -> list[Locked]:
    found: dict[str, Locked] = {}
    for path in lock_files(ctx, image):
        role = "runtime" if path.name == f"{image}.txt" else "build"
        for pin in read_lock_file(path, ctx.display(path)).values():
            if len(pin.hashes) != 1:
                raise VerifyError(
                    ctx.display(path),
                    f"{pin.key} has {len(pin.hashes)} hashes",
                    "locks carry exactly the sdist's hash: re-run make pin-python-deps",
                )
            found.setdefault(
                f"{pin.name}=={pin.version}", Locked(pin.name, pin.version, pin.hashes[0], role)
            )
    return sorted(found.values(), key=lambda item: item.key)


def dependency_edges(ctx: Context, image: str) -> dict[str, set[str]]:
    """name==version -> its runtime dependencies, from the `# via` lines of the build locks."""
    edges: dict[str, set[str]] = {}
    for path in lock_files(ctx, image)[1:]:
        pins = read_lock_file(path, ctx.display(path))
        for pin in pins.values():
            for consumer in pin.via:
                key = canonicalize_name(consumer)
                if key in pins:
                    edges.setdefault(f"{key}=={pins[key].version}", set()).add(
                        f"{pin.name}=={pin.version}"
                    )
    return edges


def populate_deps(
    ctx: Context, items: list[Locked], deps: Path, index_url: str, hermeto_output: Path | None
) -> dict[str, str]:
    """Fill `deps` (flat, hermeto's layout); returns key -> file name."""
    deps.mkdir(parents=True, exist_ok=True)
    names: dict[str, str] = {}
    if hermeto_output is not None:
        source = hermeto_output / "deps" / "pip"
        if not source.is_dir():
            raise VerifyError(
                str(hermeto_output),
                "no deps/pip directory",
                "give the --output directory of `hermeto fetch-deps`",
            )
        by_hash = {sha256_file(path): path for path in source.iterdir() if path.is_file()}
        for item in items:
            path = by_hash.get(item.sha256)
            if path is None:
                raise VerifyError(
                    str(source),
                    f"{item.key}: no file with the locked sha256 {item.sha256}",
                    "re-run hermeto fetch-deps on these locks",
                )
            shutil.copy2(path, deps / path.name)
            names[item.key] = path.name
        return names
    fetched = fetch_all(
        SimpleIndex(index_url),
        [(i.name, i.version, i.sha256) for i in items],
        label="verify: sdists",
    )
    for item in items:
        sdist = fetched[(item.name, item.version)]
        target = deps / sdist.filename
        if not target.exists():
            try:
                os.link(sdist.path, target)
            except OSError:
                shutil.copy2(sdist.path, target)
        names[item.key] = sdist.filename
    return names


def _build_info(ctx: Context) -> dict[str, Any]:
    path = ctx.repo_root / REQUIREMENTS_DIR / BUILD_INFO_FILE
    if not path.is_file():
        raise VerifyError(ctx.display(path), "missing", "run make pin-python-deps")
    return read_build_info(path, ctx.display(path))


def _needs(entry: dict[str, Any], versions: dict[str, str]) -> list[str]:
    names = []
    for text in [*entry.get("requires", []), *entry.get("dynamic_requires", [])]:
        name = canonicalize_name(Requirement(text).name)
        if name in versions:
            names.append(f"{name}=={versions[name]}")
    return names


def _served_otherwise(name: str, python: str | None) -> bool:
    """A package whose command is on PATH (rustup's cargo), or headers the target has."""
    command = system_table().get("commands", {}).get(name)
    if command and shutil.which(command):
        return True
    if name == "python3-dev" and python:
        result = subprocess.run(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['include'])"],
            capture_output=True,
            text=True,
            check=False,
        )
        return result.returncode == 0 and (Path(result.stdout.strip()) / "Python.h").is_file()
    return False


def missing_debian_packages(names: list[str], python: str | None = None) -> list[str]:
    """The Debian packages neither installed (dpkg) nor served by a tool on PATH."""
    missing = []
    for name in names:
        if _served_otherwise(name, python):
            continue
        if shutil.which("dpkg-query"):
            result = subprocess.run(
                ["dpkg-query", "-W", "-f=${Status}", name],
                capture_output=True,
                text=True,
                check=False,
            )
            if "install ok installed" in result.stdout:
                continue
        missing.append(name)
    return missing


def install_debian_packages(names: list[str], python: str | None = None) -> list[str]:
    """Install what is missing with apt-get (as root); returns what is still missing."""
    missing = missing_debian_packages(names, python)
    if missing and shutil.which("apt-get") and os.geteuid() == 0:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        missing = missing_debian_packages(missing, python)
    return missing


def verify_image(
    ctx: Context,
    image: str,
    *,
    index_url: str,
    jobs: int,
    hermeto_output: Path | None,
    cargo_home: Path | None,
    install_system: bool,
    workdir: Path,
) -> dict[str, Any]:
    items = locked_sdists(ctx, image)
    runtime_deps = dependency_edges(ctx, image)
    info = _build_info(ctx)
    deps = workdir / "deps" / "pip"
    files = populate_deps(ctx, items, deps, index_url, hermeto_output)
    versions: dict[str, str] = {}
    for item in items:
        versions.setdefault(item.name, item.version)
    system_debian = sorted(
        {
            name
            for item in items
            for name in info.get(item.key, {}).get("system", {}).get("debian", [])
        }
    )
    python, exact = find_python(ctx.config.python_version)
    still_missing = (
        install_debian_packages(system_debian, python)
        if install_system
        else missing_debian_packages(system_debian, python)
    )
    packages = []
    for item in items:
        entry = info.get(item.key, {})
        system = entry.get("system", {})
        unprovable = None
        if system.get("rust") and cargo_home is None:
            unprovable = (
                "Rust sdist: its crates cannot be fetched here (crates.io is out of "
                "reach); give CARGO_HOME with vendored crates, as hermeto does"
            )
        elif set(system.get("debian", [])) & set(still_missing):
            lacking = sorted(set(system.get("debian", [])) & set(still_missing))
            unprovable = f"system packages missing: {', '.join(lacking)}"
        packages.append(
            {
                "name": item.name,
                "version": item.version,
                "sha256": item.sha256,
                "filename": files[item.key],
                "role": item.role,
                "backend": entry.get("backend", "?"),
                "build_constraints": entry.get("build_constraints", []),
                "build_env": entry.get("build_env", []),
                "needs": _needs(entry, versions),
                "deps": sorted(runtime_deps.get(item.key, ())),
                "unprovable": unprovable,
            }
        )
    plan = {
        "packages": packages,
        "deps": str(deps),
        "wheels": str(workdir / "wheels"),
        "wheel_cache": str(
            cache_dir() / "wheels" / f"py{ctx.config.python_version}"
            if exact
            else cache_dir() / "wheels" / "host"
        ),
        "scratch": str(workdir),
        "home": str(workdir / "home"),
        "python": python,
        "jobs": jobs,
        "cargo_home": str(cargo_home) if cargo_home else None,
    }
    (workdir / "home").mkdir(exist_ok=True)
    plan_path = workdir / "plan.json"
    results_path = workdir / "results.json"
    plan_path.write_text(json.dumps(plan, indent=1))
    command = [
        "unshare",
        "-n",
        sys.executable,
        "-m",
        "tcibsrc.offline_build",
        str(plan_path),
        str(results_path),
    ]
    if not shutil.which("unshare"):
        raise VerifyError("unshare", "not installed", "apt-get install util-linux")
    result = subprocess.run(command, check=False, stderr=None)
    if result.returncode != 0 or not results_path.is_file():
        raise VerifyError(
            "unshare -n",
            f"the offline build did not run (exit {result.returncode})",
            "run as root, or enable unprivileged user namespaces",
        )
    outcome = json.loads(results_path.read_text())
    rows = []
    for package in packages:
        key = f"{package['name']}=={package['version']}"
        rows.append(
            {
                "package": key,
                "role": package["role"],
                "backend": package["backend"],
                **outcome["results"][key],
            }
        )
    return {
        "image": image,
        "python": python
        + (
            ""
            if exact
            else f" (not {ctx.config.python_version}: the target "
            "interpreter is not on this machine)"
        ),
        "network": outcome["network"],
        "system_packages": {"debian": system_debian, "missing": still_missing},
        "packages": rows,
    }


def images_with_locks(ctx: Context) -> list[str]:
    directory = ctx.repo_root / REQUIREMENTS_DIR
    return sorted(
        p.stem
        for p in directory.glob("*.txt")
        if p.stem != ALL
        and not p.stem.endswith(("-build", "-build-extra"))
        and p.name != "constraints.txt"
    )


def write_report(path: Path, report: dict[str, Any]) -> None:
    write_text_atomic(path, json.dumps(report, indent=1, sort_keys=True) + "\n")


def scratch_dir(base: Path, image: str) -> Path:
    base.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f"{image}-", dir=base))

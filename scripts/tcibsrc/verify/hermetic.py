"""make verify-hermetic: prove offline that an image's locks build every wheel.

1. The image's sdists (runtime and build locks) are put in hermeto's layout, a flat
   `deps/pip/` directory: downloaded and hash-checked, or taken from a real hermeto output.
2. The Debian names of the system packages the compiled sdists need are installed (the local
   stand-in for the builder image's RPMs).
3. Inside `unshare -n` (a network namespace with only loopback, down), pip builds every sdist
   from those files only; see in_image/build_wheels.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from tcibsrc.common.atomic import write_text_atomic
from tcibsrc.common.cache import cache_dir
from tcibsrc.common.checksum import sha256_file
from tcibsrc.common.context import Context
from tcibsrc.common.errors import ToolkitError
from tcibsrc.containers.render import RENDER_DIR
from tcibsrc.python.git_sources import hermeto_tarball, tarball_name
from tcibsrc.python.index import SimpleIndex
from tcibsrc.python.lockfile import BUILD_INFO_FILE, REQUIREMENTS_DIR, read_build_info
from tcibsrc.python.sdists import fetch, fetch_all
from tcibsrc.python.system_needs import system_table
from tcibsrc.python.target_python import find_python
from tcibsrc.python.wheels_plan import (
    PLAN_FILE,
    Locked,
    Plan,
    lock_files,
    read_plan,
)
from tcibsrc.tcib.catalog import build_catalog
from tcibsrc.verify.namespace import run_offline


class VerifyError(ToolkitError):
    """The proof cannot be set up."""


def populate_deps(
    ctx: Context, items: list[Locked], deps: Path, index_url: str, hermeto_output: Path | None
) -> dict[str, str]:
    """Fill `deps` (flat, hermeto's layout): each sdist, and every locked wheel (all arches)
    of a package locked as wheels; returns key -> file name (the sdist's, or a wheel's)."""
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
            if item.git is not None:  # hermeto's name for it: <repo>-gitcommit-<commit>
                found_git = source / tarball_name(*item.git)
                if not found_git.is_file():
                    raise VerifyError(
                        str(source),
                        f"{item.key}: no {found_git.name}",
                        "re-run hermeto fetch-deps with the image's -git.txt",
                    )
                shutil.copy2(found_git, deps / found_git.name)
                names[item.key] = found_git.name
                continue
            found = [by_hash[sha] for sha in item.hashes if sha in by_hash]
            if not found:
                raise VerifyError(
                    str(source),
                    f"{item.key}: no file with a locked sha256 ({item.hashes[0]})",
                    "re-run hermeto fetch-deps on these locks",
                )
            for path in found:
                shutil.copy2(path, deps / path.name)
            names[item.key] = found[0].name
        return names
    index = SimpleIndex(index_url)
    for item in items:
        if item.git is not None:  # what hermeto's pip VCS fetch writes, made from the mirror
            names[item.key] = hermeto_tarball(*item.git, deps).name
    sdists = [item for item in items if not item.wheels and item.git is None]
    fetched = fetch_all(
        index,
        [(i.name, i.version, i.sha256) for i in sdists],
        label="verify: sdists",
    )
    for item in sdists:
        sdist = fetched[(item.name, item.version)]
        _place(sdist.path, deps / sdist.filename)
        names[item.key] = sdist.filename
    for item in items:
        if item.wheels:
            files = {file.sha256: file for file in index.files(item.name) if file.sha256}
            for sha in item.wheels:
                if sha not in files:
                    raise VerifyError(
                        f"index {index_url}",
                        f"{item.key}: no wheel with the locked sha256 {sha}",
                        "re-run make pin-python-deps",
                    )
                wheel = fetch(files[sha], item.name, item.version, sha)
                _place(wheel.path, deps / wheel.filename)
                names.setdefault(item.key, wheel.filename)
    return names


def _place(path: Path, target: Path) -> None:
    if not target.exists():
        try:
            os.link(path, target)
        except OSError:
            shutil.copy2(path, target)


def _build_info(ctx: Context) -> dict[str, Any]:
    path = ctx.repo_root / REQUIREMENTS_DIR / BUILD_INFO_FILE
    if not path.is_file():
        raise VerifyError(ctx.display(path), "missing", "run make pin-python-deps")
    return read_build_info(path, ctx.display(path))


def _served_otherwise(name: str, python: str | None) -> bool:
    """A package whose command is on PATH (rustup's cargo), or headers the target has."""
    command = system_table().commands.get(name)
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


def plan_chain(ctx: Context, image: str) -> list[tuple[str, Plan]]:
    """The wheels stages an image's Python comes from: its parents' first, then its own."""
    lock_files(ctx, image)  # an image without a lock is an error naming the known ones
    catalog = build_catalog(ctx)
    if image not in catalog.images:
        raise VerifyError(image, "not an image in scope", "`make images` lists them")
    chain: list[str] = []
    cursor: str | None = image
    while cursor is not None:
        chain.append(cursor)
        cursor = catalog.images[cursor].parent
    stages = []
    for name in reversed(chain):
        path = ctx.repo_root / RENDER_DIR / name / PLAN_FILE
        if path.is_file():
            stages.append((name, read_plan(ctx, path)))
    if not stages:
        raise VerifyError(
            ctx.display(ctx.repo_root / RENDER_DIR / image / PLAN_FILE),
            "no wheels stage in the image or its parents",
            "run `make render`",
        )
    return stages


def _unprovable(
    system: dict[str, Any], cargo_home: Path | None, still_missing: list[str]
) -> str | None:
    if system.get("rust") and cargo_home is None:
        return (
            "Rust sdist: its crates cannot be fetched here (crates.io is out of "
            "reach); give CARGO_HOME with vendored crates, as hermeto does"
        )
    lacking = sorted(set(system.get("debian", [])) & set(still_missing))
    return f"system packages missing: {', '.join(lacking)}" if lacking else None


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
    """Run the committed wheels plans of the image (and its parents), as the wheels stages do,
    inside `unshare -n`, from the locked sdists fetched by hash; report every package."""
    stages = plan_chain(ctx, image)
    info = _build_info(ctx)
    wanted: dict[str, Locked] = {}
    for _name, plan in stages:
        for package in plan.packages:
            key = f"{package['name']}=={package['version']}"
            wheels = tuple(package.get("wheel_sha256", ()))
            git = package.get("git")
            wanted.setdefault(
                key,
                Locked(
                    package["name"],
                    package["version"],
                    wheels[0] if wheels else package["sha256"],
                    package["role"],
                    wheels,
                    (git["url"], git["commit"]) if git else None,
                ),
            )
    items = sorted(wanted.values(), key=lambda item: item.key)
    deps = workdir / "deps" / "pip"
    files = populate_deps(ctx, items, deps, index_url, hermeto_output)
    system_debian = sorted(
        {
            name
            for item in items
            if not item.wheels  # nothing builds a package taken as wheels
            for name in info.get(item.key, {}).get("system", {}).get("debian", [])
        }
    )
    python, exact = find_python(ctx.config.python_version)
    still_missing = (
        install_debian_packages(system_debian, python)
        if install_system
        else missing_debian_packages(system_debian, python)
    )
    rows: list[dict[str, Any]] = []
    network = ""
    runtime_dirs: list[str] = []
    for name, plan in stages:
        stage_dir = workdir / name
        stage_dir.mkdir(parents=True, exist_ok=True)
        packages = [
            {
                **package,
                "filename": files[f"{package['name']}=={package['version']}"],
                "unprovable": None
                if package.get("install") == "wheel"
                else _unprovable(
                    info.get(f"{package['name']}=={package['version']}", {}).get("system", {}),
                    cargo_home,
                    still_missing,
                ),
            }
            for package in plan.packages
        ]
        settings = {
            "packages": packages,
            "deps": str(deps),
            "wheels": str(stage_dir / "wheels"),
            "build_wheels": str(stage_dir / "build-wheels"),
            "wheel_cache": str(
                cache_dir() / "wheels" / f"py{ctx.config.python_version}"
                if exact
                else cache_dir() / "wheels" / "host"
            ),
            "scratch": str(stage_dir),
            "home": str(stage_dir / "home"),
            "python": python,
            "jobs": jobs,
            "cargo_home": str(cargo_home) if cargo_home else None,
        }
        outcome = run_offline(
            "tcibsrc.in_image.build_wheels",
            settings,
            stage_dir / "plan.json",
            stage_dir / "results.json",
            "the offline build",
        )
        network = outcome["network"]
        runtime_dirs.append(settings["wheels"])
        for package in packages:
            key = f"{package['name']}=={package['version']}"
            rows.append(
                {
                    "image": name,
                    "package": key,
                    "role": package["role"],
                    "backend": package["backend"],
                    **outcome["results"][key],
                }
            )
    return {
        "image": image,
        "stages": [name for name, _plan in stages],
        "python": python
        + (
            ""
            if exact
            else f" (not {ctx.config.python_version}: the target "
            "interpreter is not on this machine)"
        ),
        "network": network,
        "system_packages": {"debian": system_debian, "missing": still_missing},
        "packages": rows,
        "wheel_dirs": runtime_dirs,
    }


def write_report(path: Path, report: dict[str, Any]) -> None:
    write_text_atomic(path, json.dumps(report, indent=1, sort_keys=True) + "\n")


def scratch_dir(base: Path, image: str) -> Path:
    base.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f"{image}-", dir=base))

"""Cold wheel build of one image's wheels stage: the previous path against the current one.

Both run in one go, on the same machine, from the same sdists (fetched once by hash into a
flat directory, as hermeto lays them out), inside `unshare -n`, with every cache empty (pip's,
uv's and ours: a fresh HOME each, no wheel cache):

- previous: what the wheels stage ran before the wheels plan: one `pip wheel --no-deps
  --require-hashes` over the image's own wheels from sdists only, so every isolated build
  environment builds its build tools from their sdists again;
- current: the wheels stage's program (in_image/build_wheels.py) on the image's committed
  wheels-plan.json: build tools first, once each, then the wheels.

Prints seconds, wheels built and how many times each sdist was built (the previous path's pip
logs count them). Usage: python bench/wheels.py [IMAGE] (default keystone; minutes).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from tcibsrc.common.context import Context
from tcibsrc.python.index import index_url_from_environment
from tcibsrc.python.target_python import find_python
from tcibsrc.python.wheels_plan import PLAN_FILE, Locked, read_plan
from tcibsrc.verify.hermetic import populate_deps
from tcibsrc.verify.namespace import run_offline

ROOT = Path(__file__).resolve().parent.parent
LOG = ROOT / "build" / "bench" / "wheels-previous.log"  # pip's own account of the old path


def previous_path(plan: dict, deps: Path, python: str, work: Path) -> tuple[float, int, Counter]:
    """pip wheel over the own wheels, isolated builds from sdists only (the old stage)."""
    groups: dict[tuple[str, ...], list[dict]] = {}
    for package in plan["packages"]:
        if package["role"] == "runtime" and not package["unprovable"]:
            groups.setdefault(tuple(package["build_constraints"]), []).append(package)
    wheels = work / "wheels"
    wheels.mkdir()
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(work / "home"),
        "PIP_CONFIG_FILE": os.devnull,
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": str(deps),
        "LANG": "C.UTF-8",
    }
    started = time.monotonic()
    log = ""
    for index, (constraints, packages) in enumerate(sorted(groups.items())):
        requirements = work / f"wheels-{index}.txt"
        requirements.write_text(
            "".join(f"{p['name']}=={p['version']} --hash=sha256:{p['sha256']}\n" for p in packages)
        )
        group_env = dict(env)
        if constraints:
            path = work / f"wheels-{index}.constraints"
            path.write_text("\n".join(constraints) + "\n")
            group_env["PIP_CONSTRAINT"] = str(path)
        command = [
            "unshare", "-n", python, "-m", "pip", "wheel", "-v", "--no-deps", "--require-hashes",
            "--no-cache-dir", "--wheel-dir", str(wheels), "-r", str(requirements),
        ]  # fmt: skip
        result = subprocess.run(command, capture_output=True, text=True, env=group_env, check=False)
        log += result.stdout + result.stderr
    seconds = time.monotonic() - started
    LOG.parent.mkdir(parents=True, exist_ok=True)
    LOG.write_text(log)
    # every wheel pip builds from an sdist, in the stage or in a build environment (a build
    # environment's pip keeps what it built in HOME's wheel cache and reuses it)
    builds = Counter(
        re.sub(r"[-_.]+", "-", match.group(1)).lower()
        for match in re.finditer(r"Created wheel for ([A-Za-z0-9_.\-]+?):", log)
    )
    return seconds, len(list(wheels.glob("*.whl"))), builds


def current_path(plan: dict, deps: Path, python: str, work: Path) -> tuple[float, int, dict]:
    settings = {
        **plan,
        "deps": str(deps),
        "wheels": str(work / "wheels"),
        "build_wheels": str(work / "build-wheels"),
        "python": python,
        "jobs": os.cpu_count() or 1,
        "scratch": str(work),
        "home": str(work / "home"),
        "wheel_cache": None,
    }
    (work / "home").mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    outcome = run_offline(
        "tcibsrc.in_image.build_wheels",
        settings,
        work / "plan.json",
        work / "results.json",
        "the offline build",
    )["results"]
    seconds = time.monotonic() - started
    built = sum(1 for r in outcome.values() if r["status"] == "proven")
    failed = sum(1 for r in outcome.values() if r["status"] == "failed")
    if failed:
        print(f"current path: {failed} failed", file=sys.stderr)
    return seconds, built, outcome


def main() -> int:
    image = sys.argv[1] if len(sys.argv) > 1 else "keystone"
    ctx = Context.from_environment(repo_root=ROOT)
    plan = read_plan(ctx, ROOT / "containerfiles" / image / PLAN_FILE)
    python, exact = find_python(ctx.config.python_version)
    with tempfile.TemporaryDirectory(prefix="bench-wheels-") as scratch:
        base = Path(scratch)
        os.environ["TCIBSRC_CACHE"] = str(base / "cache")  # cold: our sdist cache too
        deps = base / "deps"
        items = [Locked(p["name"], p["version"], p["sha256"], p["role"]) for p in plan.packages]
        files = populate_deps(ctx, items, deps, index_url_from_environment(), None)
        info = json.loads((ROOT / "requirements" / "build-info.json").read_text())["packages"]
        rust = {key for key, entry in info.items() if entry["system"].get("rust")}
        # crates.io is out of reach here: Rust sdists are left out of both paths alike
        packages = [
            {
                **p,
                "filename": files[f"{p['name']}=={p['version']}"],
                "unprovable": "Rust" if f"{p['name']}=={p['version']}" in rust else None,
            }
            for p in plan.packages
        ]
        data = {"packages": packages}
        runtime = sum(1 for p in packages if p["role"] == "runtime")
        print(f"{image}: {runtime} wheels, {len(packages) - runtime} build tools in the plan; "
              f"python {python}{'' if exact else ' (not the target version)'}; "
              f"{os.cpu_count()} cores")  # fmt: skip
        (base / "previous").mkdir()
        old_seconds, old_wheels, builds = previous_path(data, deps, python, base / "previous")
        twice = {name: count for name, count in builds.items() if count > 1}
        print(f"previous path: {old_seconds:7.1f} s, {old_wheels} wheels, "
              f"{sum(builds.values())} sdist builds, {len(twice)} sdists built more than once "
              f"({', '.join(f'{n} x{c}' for n, c in sorted(twice.items())[:8])})")  # fmt: skip
        (base / "current").mkdir()
        new_seconds, built, _outcome = current_path(data, deps, python, base / "current")
        print(f"current path:  {new_seconds:7.1f} s, {built} wheels built once each "
              f"({runtime} installed, {built - runtime} build tools)")  # fmt: skip
        print(f"speed-up: {old_seconds / new_seconds:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())

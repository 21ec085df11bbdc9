"""The wheels stage's program: build an image's wheels from sdists, with no network.

The same program runs in the image's `wheels` stage (in the builder, from hermeto's prefetched
sdists: `python3 build-wheels.py wheels-plan.json`) and under `make verify-hermetic` (inside
`unshare -n`, with a results file), so the proof covers the Konflux path. Standard library only.

Reads a plan (wheels_plan.py writes it). Build requirements come only from the deps directory
(sdists) and the wheels built earlier in the same run, through pip's own build isolation
(`--no-index --find-links`): build tools are built first, in dependency order, into their own
directory, which every later build finds its wheels in, so no build environment compiles a
tool again; a tool that can install without compiling itself (Cython) does so when it is only
a build tool. Runtime wheels go to another directory (the image installs those only). Every sdist
is checked against its sha256 first. A package locked as wheels (packages.<name>.install:
wheel) is not built: pip picks the prefetched wheel this machine installs, whose sha256 must
be one the lock lists (status "wheel"). In parallel; under verify-hermetic with a wheel cache keyed
by the sdist's sha256, the interpreter and the build constraints and environment.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import zipfile
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

LOG_TAIL = 15
TIMEOUT = 3600


def log_tail(output: str) -> str:
    """The lines that say why: pip's errors and tracebacks' last lines, then the end."""
    lines = [line.rstrip() for line in output.strip().splitlines() if line.strip()]
    noise = ("See above for output", "originates from a subprocess")
    telling = [
        line
        for line in lines
        if re.search(r"(Error|error:|ERROR|No matching distribution|not found)", line)
        and not any(text in line for text in noise)
    ]
    return "\n".join(dict.fromkeys([*telling[-LOG_TAIL:], *lines[-5:]]))


def network_is_off() -> bool:
    """True when the only interface is loopback (a fresh network namespace)."""
    return all(name == "lo" for _index, name in socket.if_nameindex())


def _find_links(plan: dict[str, Any]) -> list[str]:
    """The sdists, and the wheels built so far (build tools, then runtime wheels)."""
    links = []
    for directory in (plan["deps"], plan["build_wheels"], plan["wheels"]):
        links += ["--find-links", str(directory)]
    return links


def _key(item: dict[str, Any]) -> str:
    return f"{item['name']}=={item['version']}"


def cache_key(item: dict[str, Any], plan: dict[str, Any]) -> str:
    """What decides a wheel: the sdist, the interpreter, and how its build environment is made.

    A wheel built under another build constraint (setuptools<82 for pbr) or another build
    environment must not stand in for this one.
    """
    decided_by = {
        "sdist": item["sha256"],
        "python": plan["python"],
        "build_constraints": sorted(item.get("build_constraints", [])),
        "build_env": sorted(item.get("build_env", [])),
        "build_environment": item.get("build_environment", {}),
    }
    text = json.dumps(decided_by, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def valid_wheel(path: Path, item: dict[str, Any]) -> bool:
    """A whole wheel of the package: its name says the project and version, and every member
    of the zip reads back (a copy cut short by a kill is not one)."""
    parts = path.name.removesuffix(".whl").split("-")
    if len(parts) < 5 or _normal(parts[0]) != _normal(item["name"]):
        return False
    if parts[1].replace("_", "-").lower() != str(item["version"]).replace("_", "-").lower():
        return False
    try:
        with zipfile.ZipFile(path) as archive:
            return archive.testzip() is None
    except (zipfile.BadZipFile, OSError, EOFError):
        return False


def _store(built: Path, cache: Path) -> None:
    """Into the cache under a temporary name, then renamed: a killed copy is never a wheel."""
    cache.mkdir(parents=True, exist_ok=True)
    partial = cache / f".{built.name}.{os.getpid()}.part"
    shutil.copy2(built, partial)
    os.replace(partial, cache / built.name)


def _take_wheel(item: dict[str, Any], plan: dict[str, Any], wheels: Path) -> dict[str, Any]:
    """An `install: wheel` package: pip picks, from the prefetched wheels (every arch), the one
    this interpreter and machine install, offline; its sha256 must be one the lock lists."""
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="wheel-", dir=plan["scratch"]) as out:
        command = [
            plan["python"],
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--no-index",
            "--only-binary",
            ":all:",
            "--no-cache-dir",
            "--find-links",
            str(plan["deps"]),
            "--dest",
            out,
            _key(item),
        ]
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": plan["home"],
            "PIP_CONFIG_FILE": os.devnull,
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        }
        result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
        seconds = round(time.monotonic() - started, 1)
        found = sorted(Path(out).glob("*.whl"))
        if result.returncode != 0 or not found:
            tail = log_tail(result.stdout + result.stderr) or "no wheel for this machine"
            return {"status": "failed", "seconds": seconds, "log_tail": tail}
        if _sha256(found[0]) not in item["wheel_sha256"]:
            return {
                "status": "failed",
                "seconds": seconds,
                "log_tail": f"{found[0].name}: not one of the locked wheels of {_key(item)}",
            }
        shutil.move(str(found[0]), wheels / found[0].name)
    return {"status": "wheel", "seconds": seconds, "note": f"prefetched {found[0].name}"}


def _build(item: dict[str, Any], plan: dict[str, Any], wheels: Path) -> dict[str, Any]:
    """Build one sdist into `wheels` (its role's directory)."""
    if item.get("install") == "wheel":
        return _take_wheel(item, plan, wheels)
    sdist = Path(plan["deps"]) / item["filename"]
    # a git source is pinned by its commit (hermeto cloned it at that commit); its tarball's
    # bytes are not fixed, so there is no sha256 to check, only that it was fetched
    checked = not item.get("git")
    if not sdist.is_file() or (checked and _sha256(sdist) != item["sha256"]):
        return {
            "status": "failed",
            "seconds": 0.0,
            "log_tail": f"{sdist}: missing, or not the locked sha256 {item['sha256']}",
        }
    cache = Path(plan["wheel_cache"]) / cache_key(item, plan) if plan.get("wheel_cache") else None
    cached = sorted(cache.glob("*.whl")) if cache is not None and cache.is_dir() else []
    for wheel in [wheel for wheel in cached if not valid_wheel(wheel, item)]:
        wheel.unlink(missing_ok=True)  # cut short or not this package's: build it again
        cached.remove(wheel)
    if cached:
        shutil.copy2(cached[0], wheels / cached[0].name)
        return {
            "status": "proven",
            "seconds": 0.0,
            "note": "wheel cache (same sdist, interpreter and build environment)",
        }
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": plan["home"],
        "PIP_NO_INDEX": "1",
        "PIP_CONFIG_FILE": os.devnull,
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PIP_NO_INPUT": "1",
        "LANG": "C.UTF-8",
    }
    # a build tool's own switch to install without compiling itself (data/build_tools.yaml)
    env.update(item.get("build_environment", {}))
    if plan.get("cargo_home"):
        env["CARGO_HOME"] = plan["cargo_home"]
        env["CARGO_NET_OFFLINE"] = "true"
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="wheel-", dir=plan["scratch"]) as out:
        if item.get("build_constraints"):
            # a reconciled conflict: this build uses the extra lock's versions; pip passes
            # PIP_CONSTRAINT on to the isolated build environment it creates
            constraints = Path(out) / "build-constraints.txt"
            constraints.write_text("\n".join(item["build_constraints"]) + "\n")
            env["PIP_CONSTRAINT"] = str(constraints)
        python, isolation = plan["python"], []
        if item.get("build_env"):
            # undeclared build requirements: build without isolation in a venv that has them
            venv = Path(out) / "build-env"
            links = ["--no-index", *_find_links(plan)]
            setup = subprocess.run(
                [plan["python"], "-m", "venv", str(venv)],
                capture_output=True,
                text=True,
                env=env,
                check=False,
            )
            if setup.returncode == 0:
                setup = subprocess.run(
                    [
                        str(venv / "bin" / "python"),
                        "-m",
                        "pip",
                        "install",
                        "--no-cache-dir",
                        *links,
                        *item["build_env"],
                    ],
                    capture_output=True,
                    text=True,
                    env=env,
                    check=False,
                )
            if setup.returncode != 0:
                return {
                    "status": "failed",
                    "seconds": round(time.monotonic() - started, 1),
                    "log_tail": log_tail(setup.stdout + setup.stderr),
                }
            python, isolation = str(venv / "bin" / "python"), ["--no-build-isolation"]
        command = [
            python,
            "-m",
            "pip",
            "wheel",
            *isolation,
            "--no-deps",
            "--no-index",
            "--no-cache-dir",
            *_find_links(plan),
            "--wheel-dir",
            out,
            str(sdist),
        ]
        try:
            result = subprocess.run(
                command, capture_output=True, text=True, env=env, timeout=TIMEOUT, check=False
            )
            output, code = result.stdout + result.stderr, result.returncode
        except subprocess.TimeoutExpired:
            output, code = f"timed out after {TIMEOUT} s", -1
        seconds = round(time.monotonic() - started, 1)
        built = sorted(Path(out).glob("*.whl"))
        if code != 0 or not built:
            tail = log_tail(output)
            return {"status": "failed", "seconds": seconds, "log_tail": tail}
        if not valid_wheel(built[0], item):
            tail = f"{built[0].name}: not a whole wheel of {_key(item)}\n{log_tail(output)}"
            return {"status": "failed", "seconds": seconds, "log_tail": tail}
        if cache is not None:
            _store(built[0], cache)
        shutil.move(str(built[0]), wheels / built[0].name)
    return {"status": "proven", "seconds": seconds}


def run(plan: dict[str, Any]) -> dict[str, Any]:
    if not network_is_off():
        raise SystemExit(
            "build_wheels: a network interface other than lo is present; run me inside `unshare -n`"
        )
    wheels = Path(plan["wheels"])
    build_wheels = Path(plan["build_wheels"])
    for directory in (wheels, build_wheels):
        directory.mkdir(parents=True, exist_ok=True)
    items = {_key(item): item for item in plan["packages"]}
    results: dict[str, dict[str, Any]] = {}
    for key, item in items.items():
        if item.get("unprovable"):
            results[key] = {"status": "not provable", "seconds": 0.0, "reason": item["unprovable"]}
    pending = {key for key in items if key not in results}
    running: dict[Future, str] = {}

    def installed_with(dep: str) -> list[str]:
        """dep and what installing it into a build environment brings (its runtime deps)."""
        seen: list[str] = []
        stack = [dep]
        while stack:
            current = stack.pop()
            if current in seen or current not in items:
                continue
            seen.append(current)
            stack.extend(items[current].get("deps", []))
        return seen

    def blocked_by(key: str) -> list[str]:
        bad = ("failed", "not provable")
        return [
            dep
            for need in items[key]["needs"]
            for dep in installed_with(need)
            if results.get(dep, {}).get("status") in bad
        ]

    def ready(key: str) -> bool:
        return all(dep in results for need in items[key]["needs"] for dep in installed_with(need))

    with ThreadPoolExecutor(max(1, plan["jobs"])) as pool:
        while pending or running:
            for key in sorted(pending):
                blockers = blocked_by(key)
                if blockers:
                    results[key] = {
                        "status": "not provable",
                        "seconds": 0.0,
                        "reason": "needs "
                        + ", ".join(blockers)
                        + ", which could not be built here",
                    }
                    pending.discard(key)
            startable = [k for k in sorted(pending) if ready(k)]
            if not startable and not running and pending:
                # a cycle among build requirements: start the one with fewest unmet needs;
                # pip builds the rest from their sdists inside its isolated environment
                startable = [
                    min(
                        sorted(pending),
                        key=lambda k: sum(
                            1 for dep in items[k]["needs"] if dep in items and dep not in results
                        ),
                    )
                ]
            for key in startable[: max(0, plan["jobs"] - len(running))]:
                pending.discard(key)
                target = wheels if items[key].get("role") == "runtime" else build_wheels
                running[pool.submit(_build, items[key], plan, target)] = key
            if running:
                done, _ = wait(list(running), return_when=FIRST_COMPLETED)
                for future in done:
                    key = running.pop(future)
                    results[key] = future.result()
                    print(
                        f"offline build: {key}: {results[key]['status']} "
                        f"({results[key]['seconds']} s)",
                        file=sys.stderr,
                        flush=True,
                    )
    return {"network": "off (only lo in this namespace)", "results": results}


def with_defaults(plan: dict[str, Any], scratch: Path) -> dict[str, Any]:
    """What a plan written by render leaves to the machine: the wheels stage's paths, hermeto's
    environment (PIP_FIND_LINKS, CARGO_HOME), this interpreter, every core."""
    links = os.environ.get("PIP_FIND_LINKS", "").split()
    defaults = {
        "deps": links[0] if links else "/cachi2/output/deps/pip",
        "wheels": "/wheels",
        "build_wheels": "/build-wheels",
        "python": sys.executable,
        "jobs": os.cpu_count() or 1,
        "scratch": str(scratch),
        "home": str(scratch / "home"),
        "cargo_home": os.environ.get("CARGO_HOME"),
        "wheel_cache": None,
    }
    merged = {**defaults, **{k: v for k, v in plan.items() if v is not None}}
    Path(merged["home"]).mkdir(parents=True, exist_ok=True)
    return merged


def main(argv: list[str]) -> int:
    """PLAN [RESULTS]: with RESULTS, write them (verify-hermetic); without, print each
    package's outcome and fail when one is not built (the image's wheels stage)."""
    plan = json.loads(Path(argv[0]).read_text())
    with tempfile.TemporaryDirectory(prefix="build-wheels-") as scratch:
        outcome = run(with_defaults(plan, Path(scratch)))
    if len(argv) > 1:
        Path(argv[1]).write_text(json.dumps(outcome, indent=1, sort_keys=True))
        return 0
    bad = {k: r for k, r in outcome["results"].items() if r["status"] not in ("proven", "wheel")}
    for key, result in sorted(bad.items()):
        print(f"--- {key}: {result['status']}", file=sys.stderr)
        print(result.get("log_tail") or result.get("reason", ""), file=sys.stderr)
    built = len(outcome["results"]) - len(bad)
    print(f"build-wheels: {built} built, {len(bad)} not", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Build wheels from fetched sdists with no network: run inside `unshare -n`.

Reads a plan (JSON) and writes results (JSON). Build requirements come only from the deps
directory (sdists) and the wheels built earlier in the same run, through pip's own build
isolation (`--no-index --find-links`). Packages are built in dependency order (a build tool
before what it builds), in parallel, with a wheel cache keyed by the sdist's sha256, the
interpreter and the build constraints and environment.
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
    }
    text = json.dumps(decided_by, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _build(item: dict[str, Any], plan: dict[str, Any], wheels: Path) -> dict[str, Any]:
    cache = Path(plan["wheel_cache"]) / cache_key(item, plan)
    cached = sorted(cache.glob("*.whl")) if cache.is_dir() else []
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
            links = ["--no-index", "--find-links", plan["deps"], "--find-links", str(wheels)]
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
            "--find-links",
            plan["deps"],
            "--find-links",
            str(wheels),
            "--wheel-dir",
            out,
            str(Path(plan["deps"]) / item["filename"]),
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
        cache.mkdir(parents=True, exist_ok=True)
        shutil.copy2(built[0], cache / built[0].name)
        shutil.move(str(built[0]), wheels / built[0].name)
    return {"status": "proven", "seconds": seconds}


def run(plan: dict[str, Any]) -> dict[str, Any]:
    if not network_is_off():
        raise SystemExit(
            "offline_build: a network interface other than lo is present; run me "
            "inside `unshare -n`"
        )
    wheels = Path(plan["wheels"])
    wheels.mkdir(parents=True, exist_ok=True)
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
                running[pool.submit(_build, items[key], plan, wheels)] = key
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


def main() -> None:
    plan = json.loads(Path(sys.argv[1]).read_text())
    Path(sys.argv[2]).write_text(json.dumps(run(plan), indent=1, sort_keys=True))


if __name__ == "__main__":
    main()

"""Start what an image would run, from exactly its wheels, with the network off: run me inside
`unshare -n` (verify_runtime.py does).

Reads a plan (JSON), writes results (JSON): a fresh virtualenv of the target Python gets the
image's wheels and nothing else (`--no-index`), then `pip check`, the contract's scripts, the
entry points the services load at run time, and a scenario shaped like the operator's
configuration: config files, commands (db_sync, bootstrap), a WSGI application served on
127.0.0.1, requests that must answer as expected. Services the scenario needs (memcached) are
started on loopback too.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

TAIL = 15
COMMAND_TIMEOUT = 600


def _tail(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return "\n".join(lines[-TAIL:])


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Runner:
    def __init__(self, plan: dict[str, Any]) -> None:
        self.plan = plan
        self.work = Path(plan["work"])
        self.venv = self.work / "venv"
        self.bin = self.venv / "bin"
        self.results: list[dict[str, Any]] = []
        self.values: dict[str, str] = {"work": str(self.work), "venv": str(self.venv)}
        self.processes: list[subprocess.Popen[bytes]] = []

    # -- bookkeeping ---------------------------------------------------------------------------

    def record(self, check: str, started: float, ok: bool, detail: str = "") -> bool:
        self.results.append(
            {
                "check": check,
                "result": "passed" if ok else "failed",
                "seconds": round(time.monotonic() - started, 1),
                "detail": detail,
            }
        )
        return ok

    def fill(self, text: str) -> str:
        for key, value in self.values.items():
            text = text.replace("{" + key + "}", value)
        return text

    def run(self, command: list[str], env: dict[str, str] | None = None) -> tuple[int, str]:
        try:
            result = subprocess.run(
                command,
                capture_output=True,
                text=True,
                cwd=self.work,
                env={**os.environ, **(env or {})},
                timeout=COMMAND_TIMEOUT,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return -1, str(exc)
        return result.returncode, result.stdout + result.stderr

    # -- checks --------------------------------------------------------------------------------

    def install(self) -> bool:
        started = time.monotonic()
        code, output = self.run([self.plan["python"], "-m", "venv", str(self.venv)])
        if code == 0:
            requirements = self.work / "requirements.txt"
            requirements.write_text("\n".join(self.plan["requirements"]) + "\n")
            code, output = self.run(
                [
                    str(self.bin / "python"),
                    "-m",
                    "pip",
                    "install",
                    "--no-index",
                    "--no-cache-dir",
                    *[arg for d in self.plan["wheels"] for arg in ("--find-links", d)],
                    "-r",
                    str(requirements),
                ],
                env={"PIP_CONFIG_FILE": os.devnull},
            )
        return self.record(
            f"install {len(self.plan['requirements'])} wheels offline",
            started,
            code == 0,
            _tail(output) if code else "",
        )

    def pip_check(self) -> None:
        started = time.monotonic()
        code, output = self.run([str(self.bin / "python"), "-m", "pip", "check"])
        self.record("pip check", started, code == 0, _tail(output))

    def scripts(self) -> None:
        for script in self.plan["scripts"]:
            started = time.monotonic()
            if script.get("wsgi"):
                module, _, attribute = script["wsgi"].partition(":")
                command = [str(self.bin / "python"), "-c", f"from {module} import {attribute}"]
                label = f"{script['name']}: import {script['wsgi']}"
            elif (self.bin / script["name"]).exists() and not script.get("import_only"):
                command = [str(self.bin / script["name"]), "--help"]
                label = f"{script['name']} --help"
            else:
                module, _, function = (script.get("console") or "").partition(":")
                command = [str(self.bin / "python"), "-c", f"from {module} import {function}"]
                why = "a root helper" if script.get("import_only") else "no such script"
                label = f"{script['name']}: import {script.get('console')} ({why})"
            code, output = self.run(command, env=self.env())
            self.record(label, started, code == 0, _tail(output) if code else "")

    def entry_points(self) -> None:
        """Every entry point of a group loads (or the one named: `group:name`)."""
        for item in self.plan["entry_point_groups"]:
            group, _, only = item.partition(":")
            started = time.monotonic()
            program = (
                "import importlib.metadata as m, sys\n"
                "failed = []\n"
                f"points = m.entry_points(group={group!r})\n"
                f"points = [p for p in points if {only!r} in ('', p.name)]\n"
                "for point in points:\n"
                "    try:\n"
                "        try:\n"
                "            point.load()\n"
                "        except AttributeError:\n"
                "            # module:subpackage, as neutron-db-manage reads its own group\n"
                "            import importlib\n"
                "            importlib.import_module(point.value.replace(':', '.'))\n"
                "    except Exception as exc:\n"
                "        why = f'{type(exc).__name__}: {exc}'\n"
                "        failed.append(f'{point.name} = {point.value}: {why}')\n"
                "print(f'{len(points)} loaded' if not failed else '\\n'.join(failed))\n"
                "sys.exit(1 if failed or not points else 0)\n"
            )
            code, output = self.run([str(self.bin / "python"), "-c", program])
            detail = output.strip() if code else output.strip().splitlines()[-1]
            self.record(f"entry points {item}", started, code == 0, _tail(detail))

    def commands(self) -> None:
        for line in self.plan.get("commands", []):
            started = time.monotonic()
            words = shlex.split(self.fill(line))
            program = self.bin / words[0]
            code, output = self.run([str(program), *words[1:]], env=self.env())
            self.record(line, started, code == 0, _tail(output) if code else "")

    def env(self) -> dict[str, str]:
        return {k: self.fill(v) for k, v in self.plan.get("env", {}).items()}

    # -- the scenario ----------------------------------------------------------------------------

    def start_memcached(self) -> bool:
        started = time.monotonic()
        program = shutil.which("memcached")
        port = _free_port()
        self.values["memcached_port"] = str(port)
        if program is None:
            return self.record("memcached on 127.0.0.1", started, False, "memcached not installed")
        process = subprocess.Popen(
            [program, "-u", "root", "-l", "127.0.0.1", "-p", str(port), "-U", "0"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.processes.append(process)
        ok = _wait_for_port(port, 20)
        return self.record(f"memcached on 127.0.0.1:{port}", started, ok)

    def start_ovn(self) -> bool:
        """OVN's northbound and southbound databases, on 127.0.0.1, from OVN's own schemas."""
        started = time.monotonic()
        server, tool = shutil.which("ovsdb-server"), shutil.which("ovsdb-tool")
        schemas = Path("/usr/share/ovn")
        if not server or not tool or not (schemas / "ovn-nb.ovsschema").is_file():
            return self.record("OVN databases on 127.0.0.1", started, False, "OVN not installed")
        for name in ("nb", "sb"):
            database = self.work / f"ovn-{name}.db"
            subprocess.run(
                [tool, "create", str(database), str(schemas / f"ovn-{name}.ovsschema")],
                capture_output=True,
                check=False,
            )
            port = _free_port()
            self.values[f"ovn_{name}_port"] = str(port)
            process = subprocess.Popen(
                [
                    server,
                    str(database),
                    f"--remote=ptcp:{port}:127.0.0.1",
                    f"--unixctl={self.work / f'ovn-{name}.ctl'}",
                    f"--pidfile={self.work / f'ovn-{name}.pid'}",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            self.processes.append(process)
            if not _wait_for_port(port, 20):
                return self.record("OVN databases on 127.0.0.1", started, False, f"{name} down")
        ports = f"{self.values['ovn_nb_port']}, {self.values['ovn_sb_port']}"
        return self.record(f"OVN databases on 127.0.0.1:{ports}", started, True)

    def serve(self, wsgi: str) -> bool:
        started = time.monotonic()
        port = int(self.values["port"])
        module, _, attribute = wsgi.partition(":")
        program = (
            "import sys\n"
            "from wsgiref.simple_server import make_server, WSGIRequestHandler\n"
            f"from {module} import {attribute} as application\n"
            "class Quiet(WSGIRequestHandler):\n"
            "    def log_message(self, *args):\n"
            "        pass\n"
            f"make_server('127.0.0.1', {port}, application, handler_class=Quiet).serve_forever()\n"
        )
        log = (self.work / "server.log").open("wb")
        process = subprocess.Popen(
            [str(self.bin / "python"), "-c", program],
            cwd=self.work,
            env={**os.environ, **self.env()},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.processes.append(process)
        ok = _wait_for_port(port, 60, process)
        detail = "" if ok else _tail((self.work / "server.log").read_text(errors="replace"))
        return self.record(f"serve {wsgi} on 127.0.0.1:{port}", started, ok, detail)

    def requests(self) -> None:
        for request in self.plan.get("requests", []):
            started = time.monotonic()
            url = f"http://127.0.0.1:{self.values['port']}{self.fill(request['path'])}"
            body = None
            headers = {k: self.fill(v) for k, v in request.get("headers", {}).items()}
            if "json" in request:
                body = self.fill(json.dumps(request["json"])).encode()
                headers["Content-Type"] = "application/json"
            call = urllib.request.Request(
                url, data=body, headers=headers, method=request.get("method", "GET")
            )
            try:
                with urllib.request.urlopen(call, timeout=60) as response:
                    status, answer, got = response.status, response.read(), response.headers
            except urllib.error.HTTPError as error:
                status, answer, got = error.code, error.read(), error.headers
            except OSError as error:
                status, answer, got = 0, str(error).encode(), {}
            for name, header in request.get("save", {}).items():
                self.values[name] = got.get(header, "") if got else ""
            expected = request.get("expect", [200])
            expected = expected if isinstance(expected, list) else [expected]
            ok = status in expected
            detail = f"HTTP {status}"
            if not ok:
                server = self.work / "server.log"
                log = server.read_text(errors="replace") if server.exists() else ""
                detail += f" (expected {expected}): {answer[:300]!r}\n{_tail(log)}"
            self.record(
                request.get("name", f"{request.get('method', 'GET')} {url}"), started, ok, detail
            )

    def prepare(self) -> bool:
        """The scenario's services, config files, environment and commands (db_sync, ...)."""
        scenario = self.plan.get("scenario")
        if not scenario:
            return True
        self.values["port"] = str(_free_port())
        if "memcached" in scenario.get("services", []) and not self.start_memcached():
            return False
        if "ovn" in scenario.get("services", []) and not self.start_ovn():
            return False
        for name, content in scenario.get("files", {}).items():
            path = self.work / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, dict):  # {copy: a file the wheels installed}
                shutil.copyfile(self.fill(content["copy"]), path)
            else:
                path.write_text(self.fill(content))
        self.plan["env"] = {**self.plan.get("env", {}), **scenario.get("env", {})}
        self.plan["commands"] = scenario.get("commands", [])
        before = sum(1 for r in self.results if r["result"] == "failed")
        self.commands()
        return sum(1 for r in self.results if r["result"] == "failed") == before

    def serve_and_ask(self) -> None:
        scenario = self.plan.get("scenario") or {}
        if scenario.get("wsgi") and self.serve(scenario["wsgi"]):
            self.plan["requests"] = scenario.get("requests", [])
            self.requests()

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


def _wait_for_port(
    port: int, seconds: float, process: subprocess.Popen[bytes] | None = None
) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        except OSError:
            time.sleep(0.2)
    return False


def loopback_up() -> None:
    """A fresh network namespace has its loopback down: services need it up."""
    ip = shutil.which("ip")
    if ip:
        subprocess.run([ip, "link", "set", "lo", "up"], check=False, capture_output=True)


def network_is_off() -> bool:
    return all(name == "lo" for _index, name in socket.if_nameindex())


def run(plan: dict[str, Any]) -> dict[str, Any]:
    if not network_is_off():
        raise SystemExit("runtime_check: run me inside `unshare -n`")
    loopback_up()
    runner = Runner(plan)
    try:
        if runner.install():
            runner.pip_check()
            runner.entry_points()
            prepared = runner.prepare()
            runner.scripts()  # with the scenario's config: a WSGI module reads it on import
            if prepared:
                runner.serve_and_ask()
    finally:
        runner.stop()
    return {"network": "off (only loopback)", "checks": runner.results}


def main(argv: list[str]) -> int:
    plan = json.loads(Path(argv[0]).read_text())
    results = run(plan)
    Path(argv[1]).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Start what an image would run, from exactly its wheels, with the network off: run me inside
`unshare -n` (verify_runtime.py does).

Reads a plan (JSON), writes results (JSON): a fresh virtualenv of the target Python gets the
image's wheels and nothing else (`--no-index`), then `pip check`, the contract's scripts, the
entry points the services load at run time, and a scenario shaped like the operator's
configuration: config files, commands (db_sync, bootstrap), a WSGI application served on
127.0.0.1, requests that must answer as expected. Services the scenario needs (memcached,
MariaDB, RabbitMQ, OVN's databases) are started on loopback too, each in the scratch
directory.
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
        self.rabbit_env: dict[str, str] | None = None  # RabbitMQ's node, when one was started
        self.rabbitmqctl: str | None = None

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

    def start_mariadb(self, databases: list[str]) -> bool:
        """MariaDB on 127.0.0.1, as galera serves the operators' services (mysql+pymysql);
        a fresh data directory, the scenario's databases created, any credentials accepted."""
        started = time.monotonic()
        server, install = shutil.which("mariadbd"), shutil.which("mariadb-install-db")
        if not server or not install:
            return self.record("MariaDB on 127.0.0.1", started, False, "mariadb-server missing")
        data, socket_path = self.work / "mariadb", self.work / "mariadb.sock"
        code, output = self.run(
            [install, "--no-defaults", f"--datadir={data}", "--user=root",
             "--auth-root-authentication-method=normal", "--skip-test-db"]
        )  # fmt: skip
        if code != 0:
            return self.record("MariaDB data directory", started, False, _tail(output))
        port = _free_port()
        self.values["mariadb_port"] = str(port)
        log = (self.work / "mariadb.log").open("wb")
        process = subprocess.Popen(
            [server, "--no-defaults", f"--datadir={data}", f"--socket={socket_path}",
             f"--port={port}", "--bind-address=127.0.0.1", "--user=root",
             "--skip-grant-tables", "--skip-log-bin", f"--pid-file={self.work / 'mariadb.pid'}",
             "--innodb-buffer-pool-size=64M", "--character-set-server=utf8mb4"],
            stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        self.processes.append(process)
        if not _wait_for_port(port, 60, process):
            detail = _tail((self.work / "mariadb.log").read_text(errors="replace"))
            return self.record(f"MariaDB on 127.0.0.1:{port}", started, False, detail)
        client = shutil.which("mariadb") or shutil.which("mysql")
        for name in databases:
            statement = f"CREATE DATABASE IF NOT EXISTS {name} CHARACTER SET utf8mb4"
            code, output = self.run([str(client), f"--socket={socket_path}", "-e", statement])
            if code != 0:
                return self.record(f"MariaDB database {name}", started, False, _tail(output))
        shown = f" ({', '.join(databases)})" if databases else ""
        return self.record(f"MariaDB on 127.0.0.1:{port}{shown}", started, True)

    def start_rabbitmq(self) -> bool:
        """RabbitMQ on 127.0.0.1 (the operators' rabbit:// transport), its node in the scratch
        directory; the guest user works from loopback."""
        started = time.monotonic()
        # Debian's /usr/sbin wrappers switch to the rabbitmq user; the scripts they wrap do not
        own = Path("/usr/lib/rabbitmq/bin")
        server = str(own / "rabbitmq-server") if own.is_dir() else shutil.which("rabbitmq-server")
        control = str(own / "rabbitmqctl") if own.is_dir() else shutil.which("rabbitmqctl")
        self.rabbitmqctl = control
        if not server or not control:
            return self.record("RabbitMQ on 127.0.0.1", started, False, "rabbitmq-server missing")
        port, dist = _free_port(), _free_port()
        self.values["rabbitmq_port"] = str(port)
        base = self.work / "rabbitmq"
        for directory in (base, base / "mnesia", base / "log"):
            directory.mkdir(exist_ok=True)
        node = f"tcibsrc{port}@localhost"
        self.rabbit_env = {
            **os.environ,
            "HOME": str(base),
            "RABBITMQ_NODENAME": node,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(port),
            "RABBITMQ_DIST_PORT": str(dist),
            "RABBITMQ_MNESIA_BASE": str(base / "mnesia"),
            "RABBITMQ_LOG_BASE": str(base / "log"),
            "RABBITMQ_PID_FILE": str(base / "rabbit.pid"),
            "RABBITMQ_FEATURE_FLAGS_FILE": str(base / "feature_flags"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "enabled_plugins"),
            "RABBITMQ_CONFIG_FILE": str(base / "rabbitmq"),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
        }
        (base / "enabled_plugins").write_text("[].\n")
        log = (self.work / "rabbitmq.log").open("wb")
        process = subprocess.Popen(
            [server], env=self.rabbit_env, stdout=log, stderr=subprocess.STDOUT
        )
        self.processes.append(process)
        ok = _wait_for_port(port, 120, process)
        detail = "" if ok else _tail((self.work / "rabbitmq.log").read_text(errors="replace"))
        return self.record(f"RabbitMQ on 127.0.0.1:{port}", started, ok, detail)

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

    def serve(self, wsgi: str, script: bool = False) -> bool:
        """Serve the application on 127.0.0.1: `module:attribute`, or (`script`) a WSGI script
        of the image run as mod_wsgi runs it (its module-level `application`)."""
        started = time.monotonic()
        port = int(self.values["port"])
        module, _, attribute = wsgi.partition(":")
        load = (
            f"import runpy\napplication = runpy.run_path({str(self.bin / wsgi)!r}, "
            "run_name='__wsgi__')['application']\n"
            if script
            else f"from {module} import {attribute} as application\n"
        )
        program = (
            "import sys\n"
            "from wsgiref.simple_server import make_server, WSGIRequestHandler\n"
            f"{load}"
            "class Quiet(WSGIRequestHandler):\n"
            "    def log_message(self, *args):\n"
            "        pass\n"
            # wsgiref sets an empty CONTENT_LENGTH on a request without a body, which
            # mod_wsgi and eventlet leave out (swift's proxy answers 500 to it)
            "def served(environ, start_response):\n"
            "    if environ.get('CONTENT_LENGTH') == '':\n"
            "        del environ['CONTENT_LENGTH']\n"
            "    return application(environ, start_response)\n"
            f"make_server('127.0.0.1', {port}, served, handler_class=Quiet).serve_forever()\n"
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
        found = sorted(self.venv.glob("lib/python*/site-packages"))
        if found:  # where the image's wheels are, as the image's own site-packages
            self.values["site_packages"] = str(found[0])
        if "memcached" in scenario.get("services", []) and not self.start_memcached():
            return False
        if "ovn" in scenario.get("services", []) and not self.start_ovn():
            return False
        databases = list(scenario.get("databases", []))
        if "mariadb" in scenario.get("services", []) and not self.start_mariadb(databases):
            return False
        if "rabbitmq" in scenario.get("services", []) and not self.start_rabbitmq():
            return False
        for name, content in scenario.get("files", {}).items():
            path = self.work / self.fill(name)  # {site_packages}/...: inside the venv
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
        served = False
        if scenario.get("wsgi"):
            served = self.serve(scenario["wsgi"])
        elif scenario.get("wsgi_script"):
            served = self.serve(scenario["wsgi_script"], script=True)
        if served:
            self.plan["requests"] = scenario.get("requests", [])
            self.requests()

    def stop(self) -> None:
        if self.rabbit_env is not None:  # the node and its epmd outlive the wrapper script
            for command in ([self.rabbitmqctl or "rabbitmqctl", "stop"], ["epmd", "-kill"]):
                if shutil.which(command[0]):
                    subprocess.run(command, env=self.rabbit_env, capture_output=True, timeout=60)
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

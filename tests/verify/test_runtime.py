"""verify-runtime: an image's wheels installed offline, its service started and asked, for real.

The fixture keystone is a small WSGI service written here that behaves like keystone where it
matters: it reads its config from OS_KEYSTONE_CONFIG_FILES, and with the operator's memcached
cache backend it imports `memcache` (python-memcached) and keeps tokens in a real memcached on
127.0.0.1. Without python-memcached in the image, the token request fails naming `memcache`.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import require_tools
from pinfixtures import options
from pyindex import Package, PackageIndex
from tcibsrc.common.context import Context
from tcibsrc.containers.render import render_files
from tcibsrc.python.pinning import pin_python_deps
from tcibsrc.verify.hermetic import VerifyError
from tcibsrc.verify.runtime import verify_runtime

WSGI_APP = """
import configparser, json, os, uuid

def _config():
    parser = configparser.ConfigParser()
    parser.read(os.environ["OS_KEYSTONE_CONFIG_FILES"])
    return parser

def _cache(config):
    import memcache  # what dogpile.cache.memcached imports
    return memcache.Client([config["cache"]["memcache_servers"]])

def application(environ, start_response):
    config = _config()
    method, path = environ["REQUEST_METHOD"], environ["PATH_INFO"]
    if path == "/v3":
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps({"version": {"id": "v3"}}).encode()]
    if path == "/v3/auth/tokens" and method == "POST":
        token = uuid.uuid4().hex
        _cache(config).set(token, "admin")
        start_response("201 Created", [("X-Subject-Token", token)])
        return [b"{}"]
    if path == "/v3/auth/tokens":
        found = _cache(config).get(environ.get("HTTP_X_SUBJECT_TOKEN", ""))
        start_response("200 OK" if found else "404 Not Found", [])
        return [b"{}"]
    start_response("404 Not Found", [])
    return [b""]
"""

MANAGE = """
import os, sqlite3, sys

def main():
    if sys.argv[1:] == ["db_sync"]:
        sqlite3.connect(os.path.join(os.getcwd(), "keystone.db")).execute(
            "create table if not exists project (id text)"
        )
        return 0
    return 2

if __name__ == "__main__":
    sys.exit(main())
"""

MEMCACHE = '''
"""A memcached client speaking the text protocol, like python-memcached's."""
import socket

class Client:
    def __init__(self, servers):
        host, port = servers[0].removeprefix("inet:").rsplit(":", 1)
        self.address = (host, int(port))

    def _ask(self, command):
        with socket.create_connection(self.address, timeout=5) as connection:
            connection.sendall(command)
            return connection.recv(65536)

    def set(self, key, value):
        command = f"set {key} 0 0 {len(value)}\\r\\n{value}\\r\\n".encode()
        return self._ask(command) == b"STORED\\r\\n"

    def get(self, key):
        reply = self._ask(f"get {key}\\r\\n".encode()).split(b"\\r\\n")
        return reply[1].decode() if reply[0].startswith(b"VALUE") else None
'''

KEYSTONE = Package(
    "keystone",
    "27.0.1",
    requires=["oslo-lite"],
    build_requires=["pbr-lite"],
    files={
        "keystone/wsgi/__init__.py": "",
        "keystone/wsgi/api.py": WSGI_APP,
        "keystone/cmd/__init__.py": "",
        "keystone/cmd/manage.py": MANAGE,
        "keystone/cmd/status.py": "def main():\n    return 0\n",
        "keystone/identity_sql.py": "class Driver:\n    pass\n",
    },
    entry_points={
        "keystone.identity": {"sql": "keystone.identity_sql:Driver"},
        # pip writes a script that imports `application`: the scenario serves it as mod_wsgi
        # runs a WSGI script (its module-level application)
        "console_scripts": {"keystone-wsgi-public": "keystone.wsgi.api:application"},
    },
)

CHECKS = """
images:
  keystone:
    entry_points: [keystone.identity]
    scenario: fixture
scenarios:
  fixture:
    services: [memcached]
    files:
      "{site_packages}/fixture/keystone.conf": |
        [cache]
        backend = dogpile.cache.memcached
        memcache_servers=inet:127.0.0.1:{memcached_port}
        enabled=true
    env:
      OS_KEYSTONE_CONFIG_FILES: "{site_packages}/fixture/keystone.conf"
    commands:
      - python -m keystone.cmd.manage db_sync
    wsgi_script: keystone-wsgi-public
    requests:
      - name: the version document
        path: /v3
        expect: [200]
      - name: a token
        method: POST
        path: /v3/auth/tokens
        json: {auth: {}}
        expect: [201]
        save: {token: X-Subject-Token}
      - name: the token, from the cache
        path: /v3/auth/tokens
        headers: {X-Subject-Token: "{token}"}
        expect: [200]
"""


@pytest.fixture
def runtime_repo(
    pin_repo: Context, index: PackageIndex, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Context:
    require_tools("memcached", "ip", "unshare")
    index.add(KEYSTONE, Package("python-memcached", "1.62", files={"memcache.py": MEMCACHE}))
    checks = tmp_path / "runtime_checks.yaml"
    checks.write_text(textwrap.dedent(CHECKS))
    monkeypatch.setenv("TCIBSRC_RUNTIME_CHECKS", str(checks))
    return pin_repo


def run(ctx: Context, index: PackageIndex, tmp_path: Path, name: str) -> dict:
    for path, text in render_files(ctx).items():  # the wheels plans verify-hermetic runs
        (ctx.repo_root / path).parent.mkdir(parents=True, exist_ok=True)
        (ctx.repo_root / path).write_text(text)
    workdir = tmp_path / name
    workdir.mkdir()
    report = verify_runtime(
        ctx, "keystone", index_url=index.url, jobs=2, workdir=workdir, install_system=False
    )
    return {check["check"]: check for check in report["checks"]} | {"_report": report}


def test_the_service_starts_from_its_wheels_and_answers_through_memcached(
    runtime_repo: Context, index: PackageIndex, tmp_path: Path
) -> None:
    additions = runtime_repo.repo_root / "requirements"
    additions.mkdir()
    (additions / "additions.in").write_text("python-memcached  # images: keystone\n")
    pin_python_deps(runtime_repo, options(runtime_repo, index))
    checks = run(runtime_repo, index, tmp_path, "with-memcache")
    report = checks.pop("_report")
    assert report["network"] == "off (only loopback)"
    # 6 runtime wheels (keystone, ldappool, oslo-lite, python-keystoneclient, pymemcache,
    # python-memcached) and 4 build tools (pbr-lite, flit-lite, setuptools-lite, hook-helper)
    assert report["wheels"] == {"built offline": 10, "locked wheels": 0, "stand-ins": {}}
    failed = {name: c["detail"] for name, c in checks.items() if c["result"] != "passed"}
    assert failed == {}
    assert set(checks) >= {
        "install 6 wheels offline",
        "pip check",
        "keystone-wsgi-public: import keystone.wsgi.api:application",
        "keystone-manage: import keystone.cmd.manage:main (no such script)",
        "entry points keystone.identity",
        "python -m keystone.cmd.manage db_sync",
        "the version document",
        "a token",
        "the token, from the cache",
    }
    assert (tmp_path / "with-memcache" / "run" / "keystone.db").is_file()
    # served from the image's WSGI script, its config written into the image's site-packages
    assert any(name.startswith("serve keystone-wsgi-public on 127.0.0.1:") for name in checks)
    venv = tmp_path / "with-memcache" / "run" / "venv"
    assert list(venv.glob("lib/python*/site-packages/fixture/keystone.conf"))


def test_without_python_memcached_the_token_request_fails_naming_memcache(
    runtime_repo: Context, index: PackageIndex, tmp_path: Path
) -> None:
    pin_python_deps(runtime_repo, options(runtime_repo, index))
    checks = run(runtime_repo, index, tmp_path, "without")
    checks.pop("_report")
    assert checks["the version document"]["result"] == "passed"  # GET / never touches the cache
    token = checks["a token"]
    assert token["result"] == "failed"
    assert token["detail"].startswith("HTTP 500 (expected [201])")
    assert "No module named 'memcache'" in token["detail"]
    shutil.rmtree(tmp_path / "without")
    assert json.dumps(checks)  # the report is JSON


SERVICES_PROGRAM = """
import json, socket, subprocess, sys
sys.path.insert(0, {in_image!r})
import runtime_check
runner = runtime_check.Runner({{"work": {work!r}}})
ok = runner.start_mariadb(["nova_api", "nova_cell0"]) and runner.start_rabbitmq()
listed = subprocess.run(
    ["mariadb", "--socket={work}/mariadb.sock", "-N", "-e", "SHOW DATABASES"],
    capture_output=True, text=True,
).stdout.split()
with socket.create_connection(("127.0.0.1", int(runner.values["rabbitmq_port"])), 5) as amqp:
    amqp.sendall(b"AMQP\\x00\\x00\\x09\\x01")
    greeting = amqp.recv(8)
runner.stop()
print(json.dumps({{"ok": ok, "results": runner.results, "databases": listed,
                  "amqp": greeting[:1].hex()}}))
"""


def test_mariadb_and_rabbitmq_start_on_loopback_with_the_scenario_s_databases(
    tmp_path: Path,
) -> None:
    """What the operators' services talk to, started in the network namespace the checks
    run in: MariaDB with the scenario's databases, RabbitMQ answering AMQP 0-9-1."""
    require_tools("mariadbd", "rabbitmq-server", "unshare", "ip")
    in_image = Path(__file__).resolve().parents[2] / "scripts" / "tcibsrc" / "in_image"
    program = SERVICES_PROGRAM.format(in_image=str(in_image), work=str(tmp_path))
    result = subprocess.run(
        ["unshare", "-n", "sh", "-c", 'ip link set lo up && exec "$0" -c "$1"', sys.executable,
         program],
        capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["ok"], report["results"]
    assert {"nova_api", "nova_cell0"} <= set(report["databases"])
    assert report["amqp"] == "01"  # a Connection.Start frame: the broker speaks AMQP 0-9-1
    checks = [r["check"] for r in report["results"]]
    assert checks[0].startswith("MariaDB on 127.0.0.1:") and "(nova_api, nova_cell0)" in checks[0]
    assert checks[1].startswith("RabbitMQ on 127.0.0.1:")


def test_an_image_that_installs_no_python_here_is_named_not_sent_to_pin(
    pin_repo: Context, tmp_path: Path
) -> None:
    # the shipped checks prove the base's crudini and dumb-init, which it installs from wheels
    # only without RDO's repository; the fixture base (epoxy, with it) installs no Python
    with pytest.raises(VerifyError, match="installs no Python in this config"):
        verify_runtime(
            pin_repo, "base", index_url="http://127.0.0.1:9/", jobs=1, workdir=tmp_path,
            install_system=False,
        )  # fmt: skip

"""Shared fixtures: small TCIB trees and configs that the tests write themselves."""

from __future__ import annotations

import os
import shutil
import textwrap
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest
import yaml

from tcibsrc.common.context import Context
from tcibsrc.common.errors import Problem
from tcibsrc.interface.tools_check import TEST_TOOLS, install_hint

pytest_plugins = ["pinfixtures"]

# The toolkit's own knobs, and the resolvers' and pip's: set in a packager's shell (or exported
# by `make test`), they would change what the tests run. Each test sets what it needs.
CALLER_VARIABLES = (
    "UPPER_CONSTRAINTS",
    "TCIB_DIR",
    "CONFIG",
    "INDEX_URL",
    "RESOLVER",
    "STRICT",
    "VERBOSE",
    "FORCE",
    "HERMETO_OUTPUT",
    "CARGO_HOME_VENDORED",
    "RPM_LOCKFILE_PROTOTYPE",
    "TCIBSRC_PARITY",
    "TCIBSRC_PARITY_WAIVERS",
)
CALLER_PREFIXES = ("UV_", "PIP_")


# Where the machine's toolchains live: kept when HOME moves (pyenv's shims and rustup's proxies
# find their versions through these).
TOOLCHAIN_HOMES = {
    "PYENV_ROOT": Path.home() / ".pyenv",
    "RUSTUP_HOME": Path.home() / ".rustup",
    "CARGO_HOME": Path.home() / ".cargo",
}


def isolate_environment(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    """A HOME, XDG directories and caches under `home`; none of the caller's knobs."""
    for name in list(os.environ):
        if name in CALLER_VARIABLES or name.startswith(CALLER_PREFIXES):
            monkeypatch.delenv(name)
    for name, default in TOOLCHAIN_HOMES.items():
        if name not in os.environ and default.is_dir():
            monkeypatch.setenv(name, str(default))
    for variable, relative in (
        ("HOME", ""),
        ("XDG_CACHE_HOME", ".cache"),
        ("XDG_DATA_HOME", ".local/share"),
        ("XDG_CONFIG_HOME", ".config"),
        ("UV_CACHE_DIR", ".cache/uv"),
        ("TCIBSRC_CACHE", ".cache/tcibsrc"),
    ):
        (home / relative).mkdir(parents=True, exist_ok=True)
        monkeypatch.setenv(variable, str(home / relative))
    # pip reads /etc/pip.conf and the like: the machine's indexes must not leak in either
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    # the fixture trees use real RPM names: RDO's parity data would change what they render;
    # the parity tests give their own data
    monkeypatch.setenv("TCIBSRC_PARITY", os.devnull)
    monkeypatch.setenv("TCIBSRC_PARITY_WAIVERS", os.devnull)


@pytest.fixture(autouse=True)
def _isolated_from_the_caller(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A HOME, XDG directories, caches and working directory of the test's own; none of the
    caller's knobs.

    Nothing is read from or written to the real HOME (~/.cache/pip, ~/.cache/tcibsrc,
    ~/.local/share/uv, ~/.rpmdb), and every test builds with an empty wheel cache, so a
    "proven" build is a build.
    """
    isolate_environment(monkeypatch, tmp_path / "_home")
    # a command run without an explicit repository writes under the test's own directory,
    # never into this checkout
    monkeypatch.chdir(tmp_path)


REFERENCE_NEEDED = (
    "tcib/container-images/tcib",
    "openstack-operator",
    "upper-constraints/2025.1.txt",
    "seed-prototype",
)


def pytest_sessionstart(session: pytest.Session) -> None:
    """In CI (CI set) nothing may be skipped for missing data: stop at once, saying what."""
    if not os.environ.get("CI"):
        return
    missing = [item for item in REFERENCE_NEEDED if not (REFERENCE / item).exists()]
    if missing:
        pytest.exit(
            f"CI is set but the reference data is incomplete in {REFERENCE}: "
            f"{', '.join(missing)} (set REFERENCE_DATA)",
            returncode=1,
        )


@pytest.fixture
def repository_data(monkeypatch: pytest.MonkeyPatch) -> None:
    """This repository's own parity data and waivers (for tests on the repository itself)."""
    monkeypatch.delenv("TCIBSRC_PARITY")
    monkeypatch.delenv("TCIBSRC_PARITY_WAIVERS")


def shown(problems: Iterable[Problem]) -> list[str]:
    """Problems as `make check` prints them: one line each, warnings with their prefix."""
    return [f"warning: {problem}" if problem.is_warning else str(problem) for problem in problems]


def require_tools(*commands: str) -> None:
    """Fail (one line, no traceback) when a system tool this test needs is missing."""
    tools = [tool for tool in TEST_TOOLS if tool.command.split()[0] in commands]
    absent = [tool for tool in tools if not tool.present()]
    if absent:
        hint = install_hint(absent).replace("\n", ";")
        pytest.fail(
            f"missing system tools: {', '.join(t.command for t in absent)} "
            f"(`make test-tools` lists all;{hint})",
            pytrace=False,
        )


REPO_ROOT = Path(__file__).resolve().parent.parent
# Real upstream data (a TCIB tree, the openstack-operator CRD, upper-constraints) for the tests
# marked `reference`: REFERENCE_DATA=dir, else a `shared/reference` directory beside the clone.
REFERENCE = Path(
    os.environ.get("REFERENCE_DATA") or REPO_ROOT.parent / "shared" / "reference"
).resolve()
REFERENCE_TCIB = REFERENCE / "tcib" / "container-images"

# A small TCIB tree that exercises every loading rule: nesting with an intermediate directory
# that holds no YAML, a multi-file image, templating, tcib_from, bare-list packages, redis and
# valkey, and a containers.yaml.
FIXTURE_TREE: dict[str, str] = {
    "tcib/base/base.yaml": """
        tcib_actions:
        - run: dnf install -y {{ tcib_packages['common'] | join(' ') }} {{ tcib_package }}
        - run: if [ '{{ tcib_distro }}' == 'centos' ]; then echo centos; fi
        - run: bash /usr/local/bin/uid_gid_manage kolla
        tcib_packages:
          common:
          - python3
          - sudo
        tcib_envs:
          LANG: en_US.UTF-8
        tcib_entrypoint: dumb-init --single-child --
        tcib_cmd: kolla_start
    """,
    "tcib/base/os/os.yaml": """
        tcib_actions:
        - run: dnf install -y {{ tcib_packages.common | join(' ') }}
        tcib_packages:
          common:
          - python3-keystoneclient
          - python3-pymemcache
    """,
    "tcib/base/os/keystone/keystone.yaml": """
        tcib_actions:
        - run: bash /usr/local/bin/uid_gid_manage keystone
        - run: dnf -y install {{ tcib_packages['common'] | join(' ') }}
        - run: if [ '{{ tcib_release }}' == '9' ]; then dnf -y install mod_auth_mellon; fi
        tcib_packages:
          common:
          - httpd
          - openstack-keystone
          - python3-ldappool
          - python3-mod_wsgi
    """,
    # nova-base: a bare list, and a child two directories down through a YAML-less directory.
    "tcib/base/os/nova-base/nova-base.yaml": """
        tcib_actions:
        - run: dnf -y install {{ tcib_packages | join(' ') }}
        tcib_packages:
        - openstack-nova-common
    """,
    "tcib/base/os/nova-base/api/nova-api/nova-api.yaml": """
        tcib_actions:
        - run: bash /usr/local/bin/uid_gid_manage {{ tcib_user }}
        - run: dnf -y install {{ tcib_packages.common | join(' ') }}
        tcib_packages:
          common:
          - openstack-nova-api
        tcib_user: nova
    """,
    # Two files in one directory: merged shallowly in sorted order, the last file wins.
    "tcib/base/horizon/10-packages.yaml": """
        tcib_packages:
          common:
          - httpd
          with_localization:
          - gettext
        tcib_envs:
          FROM_FIRST_FILE: "1"
        tcib_user: apache
    """,
    "tcib/base/horizon/20-actions.yml": """
        tcib_actions:
        - run: echo /usr/lib/python{{ tcib_python_version }}/site-packages
        tcib_envs:
          FROM_SECOND_FILE: "2"
        tcib_user: horizon
    """,
    "tcib/base/redis/redis.yaml": """
        tcib_actions: []
        tcib_packages:
          common: [redis]
        tcib_user: redis
    """,
    "tcib/base/valkey/valkey.yaml": """
        tcib_actions: []
        tcib_packages:
          common: [valkey]
        tcib_user: valkey
    """,
    "tcib/base/custom/custom.yaml": """
        tcib_from: registry.example/{{ tcib_distro }}/custom:{{ tcib_release }}
        tcib_actions: []
    """,
    "containers.yaml": """
        container_images:
        - imagename: quay.io/podified-master-centos9/openstack-keystone:current-podified
        - imagename: quay.io/podified-master-centos9/openstack-nova-api:current-podified
        - imagename: localhost/centos-binary-horizon
    """,
}

BASE_CONFIG: dict = {
    "release": {"series": "epoxy", "version": "2025.1"},
    "distro": {"name": "centos", "major": "10", "base_image": "quay.io/centos/centos:stream10"},
    "python": {"version": "3.12"},
    "arches": ["x86_64", "aarch64"],
    "registry": {
        "host": "quay.io",
        "namespace": "example/sig",
        "image_name": "{image}-centos{major}-{series}",
    },
    "konflux": {
        "application": "app",
        "tenant_namespace": "tenant",
        "build_platforms": ["linux/x86_64"],
    },
    "images": {"scope": ["keystone", "nova-api"]},
    "rpm": {
        "repositories": [
            {
                "id": "stream-{series}",
                "name": "example",
                "gpgkey": "file:///etc/pki/rpm-gpg/KEY",
                "baseurl": "https://example.invalid/$basearch/",
            }
        ]
    },
    "upper_constraints": {
        "url": "https://example.invalid/raw/" + "1" * 40 + "/uc.txt",
        "sha256": "0" * 64,
    },
}

# RDO's Cloud SIG OpenStack repository as config.yaml marks it: used for the series RDO
# publishes it for (rdo: true, enabled: auto)
RDO_REPOSITORY = {
    "id": "cloud-openstack-{series}",
    "name": "RDO",
    "baseurl": "https://example.invalid/openstack-{series}/$basearch/",
    "gpgkey": "file:///etc/pki/rpm-gpg/RPM-GPG-KEY-CentOS-SIG-Cloud",
    "rdo": True,
    "enabled": "auto",
}

README_TEXT = """# fixture

<!-- BEGIN image-graph: generated by `make graph`, do not edit -->
<!-- END image-graph -->
"""


def write_tree(root: Path, files: dict[str, str]) -> Path:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return root


@pytest.fixture
def tcib_dir(tmp_path: Path) -> Path:
    return write_tree(tmp_path / "container-images", FIXTURE_TREE)


ConfigWriter = Callable[..., Path]


@pytest.fixture
def write_config(tmp_path: Path) -> ConfigWriter:
    """Write a config file: BASE_CONFIG with top-level sections replaced by `overrides`."""

    def write(name: str = "config.yaml", **overrides: object) -> Path:
        data = {**BASE_CONFIG, **overrides}
        path = tmp_path / name
        path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        return path

    return write


@pytest.fixture
def repo(tmp_path: Path, tcib_dir: Path, write_config: ConfigWriter) -> Context:
    """A context on a scratch repository: fixture TCIB tree, config and README."""
    write_config()
    (tmp_path / "README.md").write_text(README_TEXT, encoding="utf-8")
    return Context(repo_root=tmp_path, config_file=tmp_path / "config.yaml", tcib_dir=tcib_dir)


@pytest.fixture
def reference_tcib(tmp_path: Path) -> Path:
    """A copy of the real TCIB tree (REFERENCE_DATA), which the tests may modify."""
    if not REFERENCE_TCIB.is_dir():
        pytest.skip("no reference data (REFERENCE_DATA)")
    return Path(shutil.copytree(REFERENCE_TCIB, tmp_path / "reference-tcib"))

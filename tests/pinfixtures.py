"""Fixtures for tests that pin against a real index on 127.0.0.1 (see pyindex)."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from conftest import (
    BASE_CONFIG,
    FIXTURE_TREE,
    README_TEXT,
    ConfigWriter,
    isolate_environment,
    write_tree,
)
from pyindex import Package, PackageIndex
from tcibsrc.common.context import Context
from tcibsrc.interface.commands.pin import derive_for
from tcibsrc.python.lockfile import read_pins
from tcibsrc.python.pinning import PinOptions, pin_python_deps
from tcibsrc.tcib.catalog import build_catalog

PACKAGES = [
    # keystone and nova: OpenStack services, restricted to the epoxy series (27.x, 31.x).
    Package("keystone", "27.0.1", requires=["oslo-lite"], build_requires=["pbr-lite"]),
    Package("keystone", "30.0.0", requires=["oslo-lite"], build_requires=["pbr-lite"]),
    Package(
        "nova", "31.3.1", requires=["oslo-lite"], build_requires=["setuptools-lite>=3", "pbr-lite"]
    ),
    Package("nova", "32.0.0", requires=["oslo-lite"], build_requires=["pbr-lite"]),
    # ldappool needs an older setuptools-lite than nova: a conflict to reconcile.
    Package("ldappool", "3.0.0", build_requires=["setuptools-lite<2"]),
    # the client's build requirement appears only through the PEP 517 hook.
    Package(
        "python-keystoneclient", "5.6.0", requires=["oslo-lite"], dynamic_requires=["hook-helper"]
    ),
    Package("pymemcache", "4.0.0"),
    Package("pymemcache", "4.1.0"),
    Package("oslo-lite", "1.0"),
    Package("pbr-lite", "1.0", build_requires=["flit-lite"]),
    Package("flit-lite", "1.0"),
    Package("setuptools-lite", "1.0"),
    Package("setuptools-lite", "3.0"),
    Package("hook-helper", "1.0"),
]
UPPER_CONSTRAINTS = (
    "python-keystoneclient===5.6.0\nldappool===3.0.0\npymemcache===4.0.0\noslo-lite===1.0\n"
    "unrelated===1.0;python_version=='2.7'\n"
)


@pytest.fixture(scope="session")
def _index_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PackageIndex]:
    """One index server for the session: the same URL in every test, so locks made once (see
    pinned_template) are current in every copy."""
    served = PackageIndex(tmp_path_factory.mktemp("index"))
    served.start()
    yield served
    served.stop()


@pytest.fixture
def index(_index_server: PackageIndex) -> PackageIndex:
    """The index serving PACKAGES, reset for this test (a test may add packages)."""
    _index_server.reset(*PACKAGES)
    return _index_server


def make_pin_repo(root: Path, write_config: ConfigWriter) -> Context:
    """A scratch repository: fixture TCIB tree, config pinning our upper-constraints."""
    write_tree(root / "container-images", FIXTURE_TREE)
    (root / "README.md").parent.mkdir(parents=True, exist_ok=True)
    (root / "README.md").write_text(README_TEXT)
    uc = root / "upper-constraints.txt"
    uc.write_text(UPPER_CONSTRAINTS)
    digest = hashlib.sha256(UPPER_CONSTRAINTS.encode()).hexdigest()
    config = write_config(
        upper_constraints={
            "url": "https://example.invalid/raw/" + "1" * 40 + "/uc.txt",
            "sha256": digest,
        }
    )
    shutil.move(config, root / "config.yaml")
    return Context(
        repo_root=root, config_file=root / "config.yaml", tcib_dir=root / "container-images"
    )


@pytest.fixture
def pin_repo(tmp_path: Path, write_config: ConfigWriter) -> Context:
    return make_pin_repo(tmp_path / "repo", write_config)


@pytest.fixture(scope="session")
def pinned_template(_index_server: PackageIndex, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """requirements/ pinned once from PACKAGES, in caches of its own."""
    base = tmp_path_factory.mktemp("pinned-template")
    with pytest.MonkeyPatch.context() as patch:
        isolate_environment(patch, base / "home")
        config = base / "config.yaml"

        def write_config(name: str = "config.yaml", **overrides: object) -> Path:
            data = {**BASE_CONFIG, **overrides}
            config.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
            return config

        ctx = make_pin_repo(base / "repo", write_config)
        _index_server.reset(*PACKAGES)
        pin_python_deps(ctx, options(ctx, _index_server))
    return ctx.repo_root / "requirements"


@pytest.fixture
def pinned_repo(pin_repo: Context, index: PackageIndex, pinned_template: Path) -> Context:
    """pin_repo with the locks `make pin-python-deps` made from PACKAGES (a copy: seconds
    saved per test; `pin_python_deps` on it says "up to date")."""
    shutil.copytree(pinned_template, pin_repo.repo_root / "requirements")
    return pin_repo


def options(ctx: Context, index: PackageIndex, **kwargs: object) -> PinOptions:
    """As `make pin-python-deps` gives them (what RDO's RPMs required derived per image)."""
    return PinOptions(
        index_url=index.url,
        upper_constraints_file=ctx.repo_root / "upper-constraints.txt",
        derive=derive_for(build_catalog(ctx), ctx.config),
        **kwargs,
    )  # type: ignore[arg-type]


def snapshot(directory: Path) -> dict[str, bytes]:
    if not directory.exists():
        return {}
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file()}


def lock(ctx: Context, name: str) -> dict:
    return read_pins((ctx.repo_root / "requirements" / name).read_text())

"""Fixtures for tests that pin against a real index on 127.0.0.1 (see pyindex)."""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import FIXTURE_TREE, README_TEXT, ConfigWriter, write_tree
from pyindex import Package, PackageIndex
from tcibsrc.context import Context
from tcibsrc.lockfile import read_pins
from tcibsrc.pinning import PinOptions

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
def isolated_caches(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """uv and tcibsrc caches of their own, so nothing leaks between runs and machines."""
    saved = {key: os.environ.get(key) for key in ("UV_CACHE_DIR", "TCIBSRC_CACHE")}
    os.environ["UV_CACHE_DIR"] = str(tmp_path_factory.mktemp("uv-cache"))
    os.environ["TCIBSRC_CACHE"] = str(tmp_path_factory.mktemp("tcibsrc-cache"))
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture
def index(tmp_path: Path, isolated_caches: None) -> Iterator[PackageIndex]:
    served = PackageIndex(tmp_path / "index")
    served.add(*PACKAGES)
    served.start()
    yield served
    served.stop()


@pytest.fixture
def pin_repo(tmp_path: Path, write_config: ConfigWriter) -> Context:
    """A scratch repository: fixture TCIB tree, config pinning our upper-constraints."""
    root = tmp_path / "repo"
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


def options(ctx: Context, index: PackageIndex, **kwargs: object) -> PinOptions:
    return PinOptions(
        index_url=index.url,
        upper_constraints_file=ctx.repo_root / "upper-constraints.txt",
        **kwargs,
    )  # type: ignore[arg-type]


def snapshot(directory: Path) -> dict[str, bytes]:
    if not directory.exists():
        return {}
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file()}


def lock(ctx: Context, name: str) -> dict:
    return read_pins((ctx.repo_root / "requirements" / name).read_text())

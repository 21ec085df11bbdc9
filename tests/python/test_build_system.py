"""What an sdist declares about its build, read statically, and when the PEP 517 hook is asked."""

from __future__ import annotations

import io
import tarfile
import textwrap
import zipfile
from pathlib import Path

import pytest

from tcibsrc.python.build_system import BuildSystemError, read_build_system


def sdist(
    directory: Path, files: dict[str, str], name: str = "demo-1.0", zip_: bool = False
) -> Path:
    """An sdist archive with `files` at its top directory (and one nested file to ignore)."""
    files = {**files, "src/demo/setup.py": "setup(setup_requires=['nested-is-ignored'])\n"}
    if zip_:
        path = directory / f"{name}.zip"
        with zipfile.ZipFile(path, "w") as archive:
            for relative, text in files.items():
                archive.writestr(f"{name}/{relative}", textwrap.dedent(text))
        return path
    path = directory / f"{name}.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        for relative, text in files.items():
            data = textwrap.dedent(text).encode()
            info = tarfile.TarInfo(f"{name}/{relative}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def test_no_build_system_is_pips_legacy_fallback_with_wheel(tmp_path: Path) -> None:
    found = read_build_system(
        sdist(tmp_path, {"setup.py": "from setuptools import setup\nsetup(name='demo')\n"})
    )
    assert found.declared is False
    assert found.backend == "setuptools.build_meta:__legacy__"
    assert found.requires == ("setuptools>=40.8.0", "wheel")
    assert found.needs_hook is False  # setup() has no setup_requires: nothing to ask
    assert found.static_extra == ()


def test_setup_requires_are_read_from_setup_cfg_and_a_literal_setup_py(tmp_path: Path) -> None:
    files = {
        "pyproject.toml": '[build-system]\nrequires = ["setuptools>=61"]\n'
        'build-backend = "setuptools.build_meta"\n',
        "setup.cfg": "[options]\nsetup_requires =\n    cffi>=1.0\n    # a comment\n    pkgconfig\n",
        "setup.py": "import setuptools\nsetuptools.setup(setup_requires=['cffi>=1.0', 'six'])\n",
    }
    found = read_build_system(sdist(tmp_path, files))
    assert found.declared is True
    assert found.requires == ("setuptools>=61",)
    assert found.static_extra == ("cffi>=1.0", "pkgconfig", "six")
    assert found.needs_hook is False


@pytest.mark.parametrize(
    "setup_py",
    [
        "from setuptools import setup\nsetup(setup_requires=computed())\n",
        "from setuptools import setup\nsetup(**options)\n",
        "from setuptools import setup\nsetup(name='a')\nsetup(name='b')\n",
        "this is not python (\n",
    ],
    ids=["computed", "kwargs", "two-calls", "syntax-error"],
)
def test_a_setup_py_that_cannot_be_read_statically_needs_the_hook(
    tmp_path: Path, setup_py: str
) -> None:
    found = read_build_system(sdist(tmp_path, {"setup.py": setup_py}))
    assert found.needs_hook is True
    assert found.static_extra == ()


def test_a_broken_setup_cfg_needs_the_hook(tmp_path: Path) -> None:
    found = read_build_system(sdist(tmp_path, {"setup.cfg": "[options\nbroken", "setup.py": ""}))
    assert found.needs_hook is True


def test_pbr_always_asks_the_hook(tmp_path: Path) -> None:
    files = {
        "pyproject.toml": '[build-system]\nrequires = ["pbr>=6.1.1"]\nbuild-backend = "pbr.build"\n'
        'backend-path = ["."]\n',
        "setup.py": "import setuptools\nsetuptools.setup(pbr=True)\n",
    }
    found = read_build_system(sdist(tmp_path, files))
    assert (found.backend, found.needs_hook) == ("pbr.build", True)
    assert found.backend_path == (".",)


@pytest.mark.parametrize(
    ("hatch", "needs_hook"),
    [
        ("", False),
        ("[tool.hatch.build.hooks.vcs]\nversion-file = 'v.py'\n", True),
        ("[tool.hatch.metadata.hooks.fancy-pypi-readme]\ncontent-type = 'text/markdown'\n", True),
        ("[tool.hatch.build.targets.wheel.hooks.custom]\n", True),
        ("[tool.hatch.build.targets.wheel]\npackages = ['src/demo']\n", False),
    ],
    ids=["plain", "build-hook", "metadata-hook", "target-hook", "target-no-hook"],
)
def test_hatchling_asks_the_hook_only_for_plugins(
    tmp_path: Path, hatch: str, needs_hook: bool
) -> None:
    pyproject = (
        '[build-system]\nrequires = ["hatchling", "hatch-vcs"]\n'
        'build-backend = "hatchling.build"\n' + hatch
    )
    found = read_build_system(sdist(tmp_path, {"pyproject.toml": pyproject}))
    assert found.needs_hook is needs_hook


@pytest.mark.parametrize(
    ("backend", "needs_hook"),
    [("flit_core.buildapi", False), ("maturin", False), ("scikit_build_core.build", True)],
)
def test_static_backends_and_unknown_ones(tmp_path: Path, backend: str, needs_hook: bool) -> None:
    pyproject = f'[build-system]\nrequires = ["x"]\nbuild-backend = "{backend}"\n'
    found = read_build_system(sdist(tmp_path, {"pyproject.toml": pyproject}))
    assert found.needs_hook is needs_hook


def test_rust_and_bindep_are_noticed_in_a_zip_sdist(tmp_path: Path) -> None:
    files = {
        "pyproject.toml": '[build-system]\nrequires = ["setuptools", "setuptools-rust"]\n'
        'build-backend = "setuptools.build_meta"\n',
        "bindep.txt": "libssl-dev [platform:dpkg]\n",
    }
    found = read_build_system(sdist(tmp_path, files, zip_=True))
    assert found.rust is True
    assert found.bindep == "libssl-dev [platform:dpkg]\n"
    assert read_build_system(sdist(tmp_path, {"setup.py": ""}, name="plain-1.0")).rust is False


def test_a_corrupt_archive_or_pyproject_is_one_error(tmp_path: Path) -> None:
    broken = tmp_path / "broken-1.0.tar.gz"
    broken.write_bytes(b"not a tarball")
    with pytest.raises(BuildSystemError, match=r"broken-1\.0\.tar\.gz: cannot read the archive"):
        read_build_system(broken)
    bad_toml = sdist(tmp_path, {"pyproject.toml": "[build-system\n"}, name="bad-1.0")
    with pytest.raises(BuildSystemError, match=r"pyproject\.toml does not parse"):
        read_build_system(bad_toml)

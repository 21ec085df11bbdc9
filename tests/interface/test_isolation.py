"""The suite does not depend on the caller's shell: a hostile environment changes nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import REPO_ROOT

HOSTILE = {
    "INDEX_URL": "http://127.0.0.1:9/simple",  # nothing listens there
    "UPPER_CONSTRAINTS": "/nonexistent/upper-constraints.txt",
    "TCIB_DIR": "/nonexistent/tcib",
    "CONFIG": "/nonexistent/config.yaml",
    "RESOLVER": "pip-compile",
    "STRICT": "1",
    "UV_OFFLINE": "1",
    "UV_INDEX_URL": "http://127.0.0.1:9/simple",
    "PIP_INDEX_URL": "http://127.0.0.1:9/simple",
    "PIP_NO_INDEX": "1",
    "TCIBSRC_CACHE": "/nonexistent/cache",
    "XDG_CACHE_HOME": "/nonexistent/xdg",
}
CASES = (
    "tests/python/test_pinning.py::test_second_run_is_a_no_op",
    "tests/interface/test_cli.py::test_graph_writes_the_readme_and_check_sees_drift",
    "tests/python/test_preflight.py::test_pin_notices_a_hand_edit_and_force_replaces_it",
)


def test_a_hostile_environment_changes_no_outcome(tmp_path: Path) -> None:
    env = {**os.environ, **HOSTILE, "PYTHONPATH": str(REPO_ROOT / "scripts")}
    env.pop("COVERAGE_PROCESS_START", None)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *CASES],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert f"{len(CASES)} passed" in result.stdout

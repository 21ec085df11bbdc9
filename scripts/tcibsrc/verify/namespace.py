"""Run one of the toolkit's programs inside a fresh network namespace, on a JSON plan.

verify-hermetic (in_image/build_wheels), verify-runtime (in_image/runtime_check) and
bench-wheels all hand a plan to a module run with `unshare -n` and read back the results file it
writes; this is that one step, so the three run the program the same way and fail the same way.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from tcibsrc.common.errors import ToolkitError


class NamespaceError(ToolkitError):
    """The program could not run inside `unshare -n`."""


def run_offline(
    module: str, plan: dict[str, Any], plan_path: Path, results_path: Path, what: str
) -> dict[str, Any]:
    """Write `plan`, run `python -m module PLAN RESULTS` in a new network namespace, and return
    the results; `what` names the run in the error ("the offline build")."""
    if not shutil.which("unshare"):
        raise NamespaceError("unshare", "not installed", "apt-get install util-linux")
    plan_path.write_text(json.dumps(plan, indent=1))
    command = ["unshare", "-n", sys.executable, "-m", module, str(plan_path), str(results_path)]
    result = subprocess.run(command, check=False)
    if result.returncode != 0 or not results_path.is_file():
        raise NamespaceError(
            "unshare -n",
            f"{what} did not run (exit {result.returncode})",
            "run as root, or enable unprivileged user namespaces",
        )
    return dict(json.loads(results_path.read_text()))

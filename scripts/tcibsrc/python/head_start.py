"""A head start for the build closure, from the committed locks, while the resolver runs.

The slow parts of a cold pin are downloads (network) and PEP 517 hooks (CPU), and the
resolution in front of them waits on the index. Most of a re-pin's answer is already in the
committed locks: their sdists (by hash) and the hook environments their build lock pins. So
while the resolver runs, this fetches those sdists into the cache, reads their build systems
and asks the hooks that will be asked, in the environments the committed build lock gives.
Everything lands in caches keyed by content (the sdist's sha256, the hook's environment):
where the new resolution agrees, the real pass finds it done; where it differs, the real pass
does the work itself. Nothing here decides a pin, and a failure here is not an error (the
real pass meets it and says so).
"""

from __future__ import annotations

import contextlib
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from packaging.utils import NormalizedName

from tcibsrc.common.errors import ToolkitError
from tcibsrc.common.progress import Progress
from tcibsrc.python.build_closure import (
    HOOK_WORKERS,
    PackageBuild,
    PolicyLookup,
    hook_pins,
    package_build,
)
from tcibsrc.python.build_hooks import dynamic_requires
from tcibsrc.python.index import SimpleIndex
from tcibsrc.python.lockfile import BUILD_INFO_FILE, Pin, read_pins
from tcibsrc.python.sdists import Sdist, fetch_all

# fewer connections than the real pass: the resolver's own requests go first
HEAD_START_DOWNLOADS = 8


def committed_pins(directory: Path, names: list[str]) -> dict[str, dict[NormalizedName, Pin]]:
    """The pins of each committed lock in `names` that exists and reads (else left out)."""
    found = {}
    for name in names:
        try:
            found[name] = read_pins((directory / name).read_text(encoding="utf-8"))
        except (OSError, ValueError, ToolkitError):
            continue  # absent, or not a lock any more: nothing to start from
    return found


def committed_hooks(directory: Path) -> set[str]:
    """`name==version` of each package whose hook the committed build-info.json says was
    called: their sdists are fetched first, so their hooks start first."""
    try:
        packages = json.loads((directory / BUILD_INFO_FILE).read_text(encoding="utf-8"))
        return {
            key
            for key, entry in packages["packages"].items()
            if str(entry.get("hook", "")) != "not needed"
        }
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return set()  # absent or another shape: no order to follow


class HeadStart:
    """Runs in a thread beside the resolver; `finish()` stops what has not started."""

    def __init__(
        self,
        index: SimpleIndex,
        runtime: dict[NormalizedName, Pin],
        build: dict[NormalizedName, Pin],
        extra: dict[NormalizedName, Pin],
        policy_for: PolicyLookup,
        *,
        index_url: str,
        python_version: str,
        exclude_newer: str | None,
        hooked_first: set[str] | None = None,
    ) -> None:
        self.index = index
        wanted = [
            (str(pin.name), pin.version, pin.hashes[0] if pin.hashes else None)
            for pins in (runtime, build, extra)
            for pin in pins.values()
        ]
        first = hooked_first or set()
        self.wanted = sorted(wanted, key=lambda item: f"{item[0]}=={item[1]}" not in first)
        self.versions = {name: pin.version for name, pin in build.items()}
        self.policy_for = policy_for
        self.index_url = index_url
        self.python_version = python_version
        self.exclude_newer = exclude_newer
        self.hooks_asked = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="head-start", daemon=True)

    def start(self) -> HeadStart:
        if self.wanted:
            self._thread.start()
        return self

    def finish(self) -> None:
        """Stop what has not started and wait for what has (a download, a hook)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        # a head start never fails a pin: the real pass meets the same problem and says it
        with (
            contextlib.suppress(Exception),
            Progress("head start: PEP 517 hooks", None) as self._progress,
            ThreadPoolExecutor(HOOK_WORKERS) as self._hooks,
        ):
            self._fetch()

    def _fetch(self) -> None:
        """Fetch every sdist of the committed locks, those whose hook was called first, and
        start each hook as soon as its sdist is in (the hooks are the longest part)."""
        with contextlib.suppress(ToolkitError):  # some failed: the rest are cached all the same
            fetch_all(
                self.index,
                self.wanted,
                label="head start: sdists of the committed locks",
                then=self._analyze,
                stop=self._stop,
                workers=HEAD_START_DOWNLOADS,
            )

    def _analyze(self, sdist: Sdist) -> None:
        package = package_build(sdist.name, sdist.version, sdist, self.policy_for)
        if package.system.needs_hook and not self._stop.is_set():
            self._hooks.submit(self._ask, package)

    def _ask(self, package: PackageBuild) -> None:
        if self._stop.is_set():
            return
        try:
            dynamic_requires(
                package.sdist.path,
                package.sdist.sha256,
                package.system.backend,
                list(package.system.backend_path),
                hook_pins(package, self.versions),
                list(package.system.requires),
                self.index_url,
                f"{package.name}=={package.version}",
                self.python_version,
                self.exclude_newer,
                background=True,
                variables=dict(policy.build_environment)
                if (policy := self.policy_for(package.name))
                else None,
            )
            self.hooks_asked += 1
        except ToolkitError:
            pass
        self._progress.advance(f"{package.name}=={package.version}")

"""sdists: download in parallel into a cache keyed by sha256, each checked against its hash
before it is renamed into place (so a cached file is not hashed again)."""

from __future__ import annotations

import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from tcibsrc.common.cache import cache_dir
from tcibsrc.common.checksum import sha256_file
from tcibsrc.common.errors import ToolkitError
from tcibsrc.common.http import session
from tcibsrc.common.progress import Progress
from tcibsrc.python.index import DistFile, SimpleIndex

DOWNLOAD_WORKERS = 16  # the HTTP session's pool: small files, latency-bound


class SdistError(ToolkitError):
    """An sdist is missing, unreachable or does not match its hash."""


@dataclass(frozen=True)
class Sdist:
    """A verified sdist file on disk."""

    name: str
    version: str
    filename: str
    sha256: str
    path: Path


def cached_path(sha256: str, filename: str) -> Path:
    return cache_dir() / "sdists" / sha256[:2] / sha256 / filename


def locate(index: SimpleIndex, name: str, version: str) -> DistFile:
    """The sdist of `name==version` on the index, with its sha256, or a clear error."""
    found = index.sdist(name, version)
    if found is None:
        raise SdistError(
            f"{name}=={version}",
            "the index has no sdist of this version",
            f"hermeto fetches sdists only: hold {name} to a version that has one with "
            f"packages.{name}.version in config.yaml",
        )
    if not found.sha256:
        raise SdistError(
            f"{name}=={version}",
            f"the index gives no sha256 for {found.filename}",
            "use an index that publishes hashes (PEP 503 #sha256= or PEP 691)",
        )
    return found


STREAM_ATTEMPTS = 3  # a connection that breaks mid-file (the session retries only the start)


def _download(url: str, path: Path) -> None:
    """`url` into `path`; a transfer that breaks midway is started again, then reported."""
    for attempt in range(1, STREAM_ATTEMPTS + 1):
        try:
            with session().get(url, stream=True, timeout=(10, 300)) as response:
                if response.status_code != 200:
                    raise SdistError(url, f"HTTP {response.status_code}", "check the index")
                with path.open("wb") as handle:
                    for chunk in response.iter_content(1 << 20):
                        handle.write(chunk)
            return
        except requests.RequestException as exc:
            if attempt == STREAM_ATTEMPTS:
                raise SdistError(
                    url,
                    f"download failed {attempt} times ({type(exc).__name__})",
                    "check the index and the network",
                ) from exc
            time.sleep(attempt)


def fetch(file: DistFile, name: str, version: str, expected_sha256: str | None = None) -> Sdist:
    """Download (or reuse) one sdist; the hash must match the lock's or the index's."""
    expected = expected_sha256 or file.sha256
    assert expected is not None
    target = cached_path(expected, file.filename)
    if target.is_file():  # put there by rename after its hash was checked: not read again
        return Sdist(name, version, file.filename, expected, target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=target.parent, suffix=".part")
    try:
        os.close(fd)
        _download(file.url, Path(temporary))
        actual = sha256_file(Path(temporary))
        if actual != expected:
            raise SdistError(
                f"{name}=={version}",
                f"hash mismatch for {file.filename}: expected sha256 {expected}, got {actual}",
                "the file on the index changed or is corrupt; re-pin only if the "
                "new file is trusted",
            )
        os.replace(temporary, target)
    finally:
        Path(temporary).unlink(missing_ok=True)
    return Sdist(name, version, file.filename, expected, target)


def fetch_all(
    index: SimpleIndex,
    wanted: Iterable[tuple[str, str, str | None]],
    label: str = "sdists",
    then: Callable[[Sdist], Any] | None = None,
    stop: threading.Event | None = None,
    workers: int = DOWNLOAD_WORKERS,
) -> dict[tuple[str, str], Any]:
    """Download many (name, version, expected sha256 or None) in parallel, with progress.

    `then` runs on each sdist in the worker that fetched it (reading the archive while
    other downloads go on); the result maps each item to what it returned, else the Sdist.
    A set `stop` skips what has not started (a speculative prefetch no longer wanted).
    """
    items = list(dict.fromkeys(wanted))  # in the caller's order: the most wanted first
    results: dict[tuple[str, str], Any] = {}
    errors: list[ToolkitError] = []

    def one(item: tuple[str, str, str | None]) -> None:
        name, version, sha = item
        if stop is not None and stop.is_set():
            return
        try:
            sdist = fetch(locate(index, name, version), name, version, sha)
            results[(name, version)] = then(sdist) if then else sdist
            progress.advance(f"{name}=={version}")
        except ToolkitError as error:
            errors.append(error)
            progress.advance(f"{name}=={version}", ok=False)

    with Progress(label, len(items)) as progress, ThreadPoolExecutor(workers) as pool:
        list(pool.map(one, items))
    if errors:
        ordered = sorted(errors, key=lambda e: e.where)
        first = ordered[0]
        if len(ordered) == 1:
            raise first
        others = ", ".join(error.where for error in ordered[1:4])
        more = f" and {len(ordered) - 4} more" if len(ordered) > 4 else ""
        raise SdistError(
            first.where,
            f"{first.problem}; {len(ordered) - 1} more failed too: {others}{more}",
            first.fix,
        )
    return results

"""A wheel's METADATA without downloading the wheel: HTTP range requests for the zip's
directory and the one member, kept in the cache by the wheel's sha256.

uv reads a wheel's metadata to resolve even when it will only build from sdists; where the
index publishes no PEP 658 `.metadata` file, it asks for byte ranges of the wheel on every
run (PyPI's files carry no freshness lifetime), hundreds of round trips a resolution. The
local index (local_index) offers each wheel's metadata as PEP 658 files it answers from this
cache: a wheel's metadata is fetched once, ever.
"""

from __future__ import annotations

import io
import os
import tempfile
import zipfile
from pathlib import Path

import requests

from tcibsrc.common.cache import cache_dir
from tcibsrc.common.errors import ToolkitError
from tcibsrc.common.http import TIMEOUT, session
from tcibsrc.python.index import network_cause

TAIL = 64 * 1024  # the end of a wheel: its zip directory, usually whole
CHUNK = 16 * 1024  # each further range read: a local header and a METADATA, usually


class WheelMetadataError(ToolkitError):
    """A wheel's metadata cannot be read."""


class RangeFile(io.RawIOBase):
    """A read-only file over HTTP: the bytes zipfile asks for, fetched by range and kept."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.position = 0
        self.pieces: dict[int, bytes] = {}  # start -> bytes
        tail = self._get(f"bytes=-{TAIL}")
        if tail.status_code == 200:  # the server ignores ranges: the whole file came
            self.size = len(tail.content)
            self.pieces[0] = tail.content
        else:
            self.size = int(tail.headers["Content-Range"].rsplit("/", 1)[1])
            self.pieces[self.size - len(tail.content)] = tail.content

    def _get(self, byte_range: str) -> requests.Response:
        try:
            response = session().get(self.url, headers={"Range": byte_range}, timeout=TIMEOUT)
        except requests.RequestException as exc:
            raise WheelMetadataError(self.url, f"cannot be read: {network_cause(exc)}") from exc
        if response.status_code not in (200, 206):
            raise WheelMetadataError(self.url, f"HTTP {response.status_code}")
        return response

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.size}[whence]
        self.position = max(0, base + offset)
        return self.position

    def _held(self, start: int, end: int) -> bytes | None:
        for first, data in self.pieces.items():
            if first <= start and end <= first + len(data):
                return data[start - first : end - first]
        return None

    def read(self, size: int = -1) -> bytes:
        end = self.size if size < 0 else min(self.size, self.position + size)
        if self.position >= end:
            return b""
        data = self._held(self.position, end)
        if data is None:
            last = min(self.size, max(end, self.position + CHUNK)) - 1
            fetched = self._get(f"bytes={self.position}-{last}").content
            self.pieces[self.position] = fetched
            data = fetched[: end - self.position]
        self.position += len(data)
        return data

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _read(url: str, filename: str) -> bytes:
    try:
        with zipfile.ZipFile(RangeFile(url)) as wheel:
            names = [
                name
                for name in wheel.namelist()
                if name.count("/") == 1 and name.endswith(".dist-info/METADATA")
            ]
            if len(names) != 1:
                raise WheelMetadataError(filename, "has no single .dist-info/METADATA")
            return wheel.read(names[0])
    except (zipfile.BadZipFile, KeyError, ValueError, EOFError) as exc:
        raise WheelMetadataError(filename, f"is not a readable wheel ({exc})") from exc


def wheel_metadata(url: str, filename: str, sha256: str) -> bytes:
    """The METADATA of the wheel at `url` whose content is `sha256`, from the cache once read."""
    kept = cache_dir() / "wheel-metadata" / sha256[:2] / f"{sha256}.METADATA"
    if kept.is_file():
        return kept.read_bytes()
    found = _read(url, filename)
    kept.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=kept.parent, suffix=".part")
    with os.fdopen(fd, "wb") as handle:
        handle.write(found)
    os.replace(temporary, Path(temporary).with_name(kept.name))
    return found

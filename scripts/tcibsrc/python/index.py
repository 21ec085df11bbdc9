"""A package-index client that speaks only the Simple API (PEP 503 HTML, PEP 691 JSON).

Any mirror serves these two formats; PyPI's per-version JSON API is not used, because many
mirrors do not have it.
"""

from __future__ import annotations

import json
import os
import re
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from html.parser import HTMLParser
from urllib.parse import urldefrag, urljoin, urlparse

import requests
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import Version

from tcibsrc.common.errors import ToolkitError
from tcibsrc.common.http import TIMEOUT
from tcibsrc.common.http import session as http_session

DEFAULT_INDEX_URL = "https://pypi.org/simple"


def index_url_from_environment(given: str | None = None) -> str:
    """The Simple API index: the command-line value, else $INDEX_URL, else PyPI."""
    url = given or os.environ.get("INDEX_URL") or DEFAULT_INDEX_URL
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise PackageIndexError(
            f"INDEX_URL={url}",
            "not an http(s) URL",
            "give the Simple API of a package index, e.g. https://pypi.org/simple",
        )
    return url


_CAUSE = re.compile(
    r"\[Errno -?\d+\] [^'\"\)]+|Name or service not known|Temporary failure in name resolution"
    r"|Connection refused|Connection reset by peer|timed out|No route to host",
)


def network_cause(error: Exception) -> str:
    """What went wrong with a request, in the words of the system (`[Errno 111] Connection
    refused`), not the name of the exception that carries it."""
    found = _CAUSE.findall(str(error))
    return found[-1] if found else type(error).__name__


JSON_TYPE = "application/vnd.pypi.simple.v1+json"
ACCEPT = f"{JSON_TYPE}, text/html;q=0.1"


class PackageIndexError(ToolkitError):
    """The index could not be read, or does not have what is asked for."""


@dataclass(frozen=True)
class DistFile:
    """One file of a project on the index."""

    filename: str
    url: str
    sha256: str | None
    requires_python: str | None
    yanked: bool
    yanked_reason: str | None = None
    # PEP 700, JSON pages only; kept as text and read when asked: a run reads pages of
    # 120,000 files and looks at the upload time of a few thousand
    upload_time_text: str | None = None

    @property
    def is_sdist(self) -> bool:
        return self.filename.endswith((".tar.gz", ".zip"))

    @cached_property
    def upload_time(self) -> datetime | None:
        return parse_time(self.upload_time_text) if self.upload_time_text else None

    def version(self) -> Version | None:
        """The file's version, or None when its name does not parse."""
        try:
            if self.filename.endswith(".whl"):
                return parse_wheel_filename(self.filename)[1]
            return parse_sdist_filename(self.filename)[1]
        except (InvalidSdistFilename, InvalidWheelFilename, ValueError):
            return None


class _AnchorParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.anchors: list[tuple[dict[str, str | None], str]] = []
        self._current: dict[str, str | None] | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._current = dict(attrs)
            self._text = []

    def handle_data(self, data: str) -> None:
        if self._current is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._current is not None:
            self.anchors.append((self._current, "".join(self._text).strip()))
            self._current = None


def _files_from_html(text: str, base_url: str) -> list[DistFile]:
    parser = _AnchorParser()
    parser.feed(text)
    files = []
    for attrs, label in parser.anchors:
        href = attrs.get("href")
        if not href:
            continue
        url, fragment = urldefrag(urljoin(base_url, href))
        sha256 = fragment.split("=", 1)[1] if fragment.startswith("sha256=") else None
        filename = label or url.rsplit("/", 1)[-1]
        files.append(
            DistFile(
                filename=filename,
                url=url,
                sha256=sha256,
                requires_python=attrs.get("data-requires-python"),
                yanked="data-yanked" in attrs,
            )
        )
    return files


def parse_time(text: str) -> datetime:
    """An RFC 3339 / ISO 8601 time (`2026-11-29T00:00:00Z`), always with its zone."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _files_from_json(payload: dict, base_url: str) -> list[DistFile]:
    files = []
    for entry in payload.get("files", []):
        yanked = entry.get("yanked")
        uploaded = entry.get("upload-time")
        url = entry["url"]
        files.append(
            DistFile(
                filename=entry["filename"],
                url=url if url.startswith(("https://", "http://")) else urljoin(base_url, url),
                sha256=(entry.get("hashes") or {}).get("sha256"),
                requires_python=entry.get("requires-python"),
                yanked=bool(yanked),
                yanked_reason=yanked if isinstance(yanked, str) and yanked else None,
                upload_time_text=uploaded if isinstance(uploaded, str) else None,
            )
        )
    return files


@dataclass(frozen=True)
class Cutoff:
    """What the pins see of the index: files uploaded before `before`; an exempt package
    (upper-constraints pins it) is seen at its pinned version whatever its upload time."""

    before: datetime
    exempt: dict[NormalizedName, str]

    def admits(self, name: str, file: DistFile, where: str) -> bool:
        uploaded = file.upload_time
        if uploaded is not None and uploaded < self.before:
            return True  # the common case first: no file name to parse
        version = file.version()
        if version is not None and self.exempt.get(canonicalize_name(name)) == str(version):
            return True
        if uploaded is None:
            raise PackageIndexError(
                where,
                f"gives no upload time (PEP 700) for {file.filename}, so the cutoff of the pins "
                "(python.exclude_newer) cannot be applied",
                "use an index that serves the JSON Simple API with upload times (PyPI does), "
                "or set python.exclude_newer: null in the config to pin without a cutoff",
            )
        return False


class SimpleIndex:
    """Reads project pages from one index; pages are kept in memory for the run."""

    def __init__(
        self,
        url: str = DEFAULT_INDEX_URL,
        session: requests.Session | None = None,
        cutoff: Cutoff | None = None,
    ):
        self.cutoff = cutoff
        self.url = url.rstrip("/") + "/"
        self._session = session or http_session()
        self._pages: dict[str, list[DistFile]] = {}
        # projects served from elsewhere (a git source's sdist, made locally): their only file
        self.overlay: dict[str, list[DistFile]] = {}
        self._loading: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    def project_url(self, name: str) -> str:
        return urljoin(self.url, f"{canonicalize_name(name)}/")

    def files(self, name: str) -> list[DistFile]:
        """Every file the index lists for project `name` (read once per run: threads asking
        for the same page at once wait for the first)."""
        key = canonicalize_name(name)
        if key in self.overlay:
            return self.overlay[key]
        with self._lock:
            if key in self._pages:
                return self._pages[key]
            loading = self._loading.setdefault(key, threading.Lock())
        with loading:
            with self._lock:
                if key in self._pages:
                    return self._pages[key]
            files = self._read(name)
            with self._lock:
                self._pages[key] = files
            return files

    def _read(self, name: str) -> list[DistFile]:
        url = self.project_url(name)
        try:
            response = self._session.get(url, headers={"Accept": ACCEPT}, timeout=TIMEOUT)
        except requests.RequestException as exc:
            raise PackageIndexError(
                self.url.rstrip("/"),
                f"the package index cannot be reached: {network_cause(exc)}",
                "check the network, or set INDEX_URL to a reachable mirror",
            ) from exc
        if response.status_code == 404:
            raise PackageIndexError(
                f"index {self.url}",
                f"no project named '{name}'",
                "check the name on the index, or fix the PyPI name in "
                "scripts/tcibsrc/data/rpm_classes.yaml or requirements/additions.in",
            )
        if response.status_code != 200:
            raise PackageIndexError(
                f"index {self.url}",
                f"{url} answered HTTP {response.status_code}",
                "check INDEX_URL",
            )
        content_type = response.headers.get("Content-Type", "").split(";")[0].strip()
        if content_type == JSON_TYPE:
            return _files_from_json(json.loads(response.text), response.url)
        return _files_from_html(response.text, response.url)

    def sdist(self, name: str, version: str) -> DistFile | None:
        """The sdist of `name==version`, or None when that version has none."""
        wanted = Version(version)
        key: NormalizedName = canonicalize_name(name)
        for file in self.files(name):
            if not file.is_sdist:
                continue
            try:
                file_name, file_version = parse_sdist_filename(file.filename)
            except (InvalidSdistFilename, ValueError):
                continue
            if file_name == key and file_version == wanted:
                return file
        return None

    def sdist_versions(self, name: str) -> list[Version]:
        """Versions of `name` that have an sdist, newest first: yanked ones left out, and
        those uploaded after the cutoff."""
        where = f"index {self.url}"
        versions = {
            version
            for file in self.files(name)
            if file.is_sdist
            and not file.yanked
            and (version := file.version()) is not None
            and (self.cutoff is None or self.cutoff.admits(name, file, where))
        }
        return sorted(versions, reverse=True)

"""The index as the pins see it, served on 127.0.0.1 to the resolvers for one pinning run.

Every resolution of a run (both arches, both backends, the build closure's rounds) asks this
server instead of the real index:

- each project page is read once per run from the real index (SimpleIndex: the JSON form,
  with upload times and yanks) and kept in memory for every later request; files uploaded
  after the cutoff are left out (upper-constraints' pins stay), so uv and pip-compile see the
  same index as of the cutoff, with no flag of their own;
- an sdist's link points back here: the file is fetched once into the cache keyed by its
  sha256 (hash-checked) and served from there, so the sdists the resolver reads are the ones
  the build closure then finds on disk, and a re-resolution downloads nothing. Other files
  (wheels) keep their links to the real index.

Before this, each resolver revalidated every page and sdist with the index itself (PyPI's
pages carry no freshness lifetime): 428 requests per arch, 6 to 20 s depending on the network.
The port is derived from the index URL, so uv's cache (sdist metadata it had to build) keeps
serving across runs.
"""

from __future__ import annotations

import html
import json
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from packaging.utils import canonicalize_name

from tcibsrc.common.checksum import sha256_text
from tcibsrc.common.errors import ToolkitError
from tcibsrc.python.index import JSON_TYPE, DistFile, SimpleIndex
from tcibsrc.python.sdists import fetch
from tcibsrc.python.wheel_metadata import wheel_metadata

PORTS = (30000, 20000)  # the stable port: first + (hash of the index URL) % span


class _Served:
    """What the handler threads share: the index, the files linked so far, failures."""

    def __init__(self, index: SimpleIndex) -> None:
        self.index = index
        self.files: dict[str, tuple[str, DistFile]] = {}  # sha256 -> (project, file)
        self.failures: list[ToolkitError] = []
        self._lock = threading.Lock()
        self._fetching: dict[str, threading.Lock] = {}
        self._pages: dict[tuple[str, bool], bytes] = {}

    def page(self, name: str, as_json: bool) -> bytes:
        """The project's page as of the cutoff (PEP 691 JSON or PEP 503 HTML), made once."""
        key = (canonicalize_name(name), as_json)
        with self._lock:
            if key in self._pages:
                return self._pages[key]
        files = [file for file in self.index.files(name) if self._admitted(name, file)]
        body = _json_page(name, files) if as_json else _html_page(files)
        with self._lock:
            for file in files:
                if file.sha256:
                    self.files[file.sha256] = (name, file)
            self._pages[key] = body
        return body

    def _admitted(self, name: str, file: DistFile) -> bool:
        cutoff = self.index.cutoff
        return cutoff is None or cutoff.admits(name, file, f"index {self.index.url}")

    def linked(self, sha256: str) -> DistFile | None:
        with self._lock:
            found = self.files.get(sha256)
        return found[1] if found else None

    def wheel_metadata(self, sha256: str) -> bytes | None:
        """A wheel's METADATA (PEP 658), read by range once and then from the cache."""
        file = self.linked(sha256)
        if file is None:
            return None
        with self._lock:
            lock = self._fetching.setdefault(sha256, threading.Lock())
        with lock:
            return wheel_metadata(file.url, file.filename, sha256)

    def sdist(self, sha256: str) -> bytes | None:
        """The sdist with this hash, fetched into the cache once; None when never linked."""
        with self._lock:
            linked = self.files.get(sha256)
            lock = self._fetching.setdefault(sha256, threading.Lock())
        if linked is None:
            return None
        name, file = linked
        with lock:
            version = file.version()
            found = fetch(file, name, str(version) if version else "?")
        return found.path.read_bytes()


def _href(file: DistFile) -> str:
    """A file with its hash is served from here (a wheel: its metadata; the wheel itself is a
    redirect to the real index), anything else from the real index."""
    if file.sha256 and file.is_sdist:
        return f"/files/{file.sha256}/{file.filename}"
    if file.sha256 and file.filename.endswith(".whl"):
        return f"/wheels/{file.sha256}/{file.filename}"
    return file.url


def _has_metadata(file: DistFile) -> bool:
    """PEP 658: the metadata of a wheel with a hash is served (local paths only)."""
    return bool(file.sha256) and file.filename.endswith(".whl")


def _json_page(name: str, files: list[DistFile]) -> bytes:
    entries = []
    for file in files:
        entry: dict[str, object] = {
            "filename": file.filename,
            "url": _href(file),
            "hashes": {"sha256": file.sha256} if file.sha256 else {},
        }
        if file.requires_python:
            entry["requires-python"] = file.requires_python
        if file.yanked:
            entry["yanked"] = file.yanked_reason or True
        if _has_metadata(file):
            entry["core-metadata"] = True
            entry["data-dist-info-metadata"] = True  # the name before PEP 714
        entries.append(entry)
    payload = {
        "meta": {"api-version": "1.0"},
        "name": str(canonicalize_name(name)),
        "files": entries,
    }
    return json.dumps(payload, separators=(",", ":")).encode()


def _html_page(files: list[DistFile]) -> bytes:
    links = []
    for file in files:
        href = _href(file) + (f"#sha256={file.sha256}" if file.sha256 else "")
        attributes = [f'href="{html.escape(href)}"']
        if file.requires_python:
            attributes.append(f'data-requires-python="{html.escape(file.requires_python)}"')
        if file.yanked:
            attributes.append(f'data-yanked="{html.escape(file.yanked_reason or "")}"')
        if _has_metadata(file):
            attributes.append('data-core-metadata="true" data-dist-info-metadata="true"')
        links.append(f"<a {' '.join(attributes)}>{html.escape(file.filename)}</a><br/>")
    return ("<!DOCTYPE html><html><body>\n" + "\n".join(links) + "\n</body></html>\n").encode()


def _port(url: str) -> int:
    first, span = PORTS
    return first + int(sha256_text(url)[:8], 16) % span


class _Server(ThreadingHTTPServer):
    # uv opens dozens of connections at once; the default backlog of 5 dropped the rest,
    # and each dropped connection waited out TCP's retries (1, 3, 7, 15 s: 30 s stalls)
    request_queue_size = 256
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        """A resolver that hangs up early (it had what it needed) is not an error to print."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


def _server(served: _Served, url: str) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive: uv asks hundreds of times
        disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms wait

        def log_message(self, *args: object) -> None:
            pass

        def _answer(self, body: bytes, content_type: str, cache: str) -> None:
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", cache)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _fail(self, code: int) -> None:
            self.send_response(code)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_GET(self) -> None:
            parts = [part for part in self.path.split("?")[0].split("#")[0].split("/") if part]
            try:
                if len(parts) == 2 and parts[0] == "simple":
                    # a page is read again next run (yanks), never kept by the resolver
                    as_json = JSON_TYPE in self.headers.get("Accept", "")
                    self._answer(
                        served.page(parts[1], as_json),
                        JSON_TYPE if as_json else "text/html",
                        "no-cache",
                    )
                elif len(parts) == 3 and parts[0] == "wheels":
                    self._wheel(parts[1], parts[2])
                elif len(parts) == 3 and parts[0] == "files":
                    body = served.sdist(parts[1])
                    if body is None:
                        self._fail(404)
                    else:  # named by its hash: never changes
                        self._answer(body, "application/octet-stream", "max-age=31536000")
                else:
                    self._fail(404)
            except ToolkitError as error:
                not_found = "no project named" in error.problem
                if not not_found:
                    served.failures.append(error)
                self._fail(404 if not_found else 502)

        do_HEAD = do_GET

        def _wheel(self, sha256: str, filename: str) -> None:
            if filename.endswith(".metadata"):
                body = served.wheel_metadata(sha256)
                if body is None:
                    self._fail(404)
                else:  # the metadata of a wheel named by its hash: never changes
                    self._answer(body, "application/octet-stream", "max-age=31536000")
                return
            file = served.linked(sha256)
            if file is None:
                self._fail(404)
                return
            self.send_response(302)  # the wheel itself stays on the real index
            self.send_header("Location", file.url)
            self.send_header("Content-Length", "0")
            self.end_headers()

    try:
        return _Server(("127.0.0.1", _port(url)), Handler)
    except OSError:  # taken (another run against the same index): any free port
        return _Server(("127.0.0.1", 0), Handler)


@contextmanager
def local_index(index: SimpleIndex) -> Iterator[str]:
    """The Simple API URL on 127.0.0.1 that serves `index` as the pins see it, while in use.

    A resolver's failure that follows a failure of the real index (unreachable, no upload
    times, a hash mismatch) is reported as the real index's, the cause."""
    served = _Served(index)
    server = _server(served, index.url)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/simple"
    except ToolkitError:
        if served.failures:
            raise served.failures[0] from None
        raise
    finally:
        server.shutdown()
        server.server_close()

"""The index as of the cutoff, served on 127.0.0.1 for a resolver that cannot filter by upload
time itself (pip-compile: pip-tools does not pass pip's --uploaded-prior-to to its finder).

Each project page is read from the real index through SimpleIndex, the files uploaded after the
cutoff are left out (upper-constraints' pins stay), and the page is served as PEP 503 HTML whose
links point at the real index's files, so downloads still go there and are hash-checked."""

from __future__ import annotations

import html
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tcibsrc.common.errors import ToolkitError
from tcibsrc.python.index import SimpleIndex


def _page(index: SimpleIndex, name: str) -> bytes:
    links = []
    for file in index.files(name):
        if index.cutoff is not None and not index.cutoff.admits(name, file, f"index {index.url}"):
            continue
        attributes = [f'href="{html.escape(file.url)}#sha256={file.sha256 or ""}"']
        if file.requires_python:
            attributes.append(f'data-requires-python="{html.escape(file.requires_python)}"')
        if file.yanked:
            attributes.append(f'data-yanked="{html.escape(file.yanked_reason or "")}"')
        links.append(f"<a {' '.join(attributes)}>{html.escape(file.filename)}</a><br/>")
    return ("<!DOCTYPE html><html><body>\n" + "\n".join(links) + "\n</body></html>\n").encode()


@contextmanager
def filtered_index(index: SimpleIndex) -> Iterator[str]:
    """A Simple API URL on 127.0.0.1 that shows `index` as of its cutoff, while in use."""
    failures: list[ToolkitError] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            parts = [part for part in self.path.split("?")[0].split("/") if part]
            if len(parts) != 2 or parts[0] != "simple":
                self.send_error(404)
                return
            try:
                body = _page(index, parts[1])
            except ToolkitError as error:
                not_found = "no project named" in error.problem
                if not not_found:
                    failures.append(error)
                self.send_error(404 if not_found else 502)
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/simple"
    except ToolkitError:
        if failures:  # the index's own fault (no upload times), not the resolver's
            raise failures[0] from None
        raise
    finally:
        server.shutdown()
        server.server_close()

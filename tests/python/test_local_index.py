"""The run's local index: the real index as of the cutoff, sdists from the cache, wheels'
metadata read by range once, and every connection answered at once."""

from __future__ import annotations

import io
import json
import os
import socket
import threading
import time
import zipfile
from datetime import UTC, datetime

import pytest
import requests

from pyindex import Package, PackageIndex
from tcibsrc.common.errors import ToolkitError
from tcibsrc.python.index import JSON_TYPE, Cutoff, SimpleIndex
from tcibsrc.python.local_index import local_index

METADATA = b"Metadata-Version: 2.1\nName: wheely\nVersion: 1.0\nRequires-Dist: oslo-lite\n"


def wheel(name: str = "wheely", version: str = "1.0", padding: int = 300_000) -> bytes:
    """A wheel whose METADATA sits before `padding` incompressible bytes: reading it by
    range costs a fraction of the file."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(f"{name}-{version}.dist-info/METADATA", METADATA)
        archive.writestr(f"{name}/data.bin", os.urandom(padding))
        archive.writestr(f"{name}-{version}.dist-info/RECORD", "")
    return buffer.getvalue()


@pytest.fixture
def served(index: PackageIndex) -> PackageIndex:
    index.reset(Package("late-lib", "1.0"), Package("late-lib", "2.0"))
    index.add_file("wheely-1.0-py3-none-any.whl", wheel())
    index.add(Package("wheely", "1.0"))
    index.upload_times.update(
        {
            "late_lib-1.0.tar.gz": "2026-05-01T00:00:00Z",
            "late_lib-2.0.tar.gz": "2026-07-01T00:00:00Z",
        }
    )
    return index


def page(url: str, name: str, as_json: bool = True) -> requests.Response:
    accept = JSON_TYPE if as_json else "text/html"
    return requests.get(f"{url}/{name}/", headers={"Accept": accept}, timeout=10)


def test_pages_show_the_index_as_of_the_cutoff_and_sdists_come_from_the_cache(
    served: PackageIndex,
) -> None:
    cutoff = Cutoff(datetime(2026, 6, 1, tzinfo=UTC), exempt={})
    with local_index(SimpleIndex(served.url, cutoff=cutoff)) as url:
        files = page(url, "late-lib").json()["files"]
        assert [f["filename"] for f in files] == ["late_lib-1.0.tar.gz"]  # 2.0 came later
        assert "late_lib-2.0" not in page(url, "late-lib", as_json=False).text
        link = files[0]["url"]
        assert link.startswith("/files/")
        root = url.removesuffix("/simple")
        first = requests.get(root + link, timeout=10).content
        assert first == (served.files_dir / "late_lib-1.0.tar.gz").read_bytes()
        served.refusing = True  # the real index is gone: the cache still serves it
        assert requests.get(root + link, timeout=10).content == first


def test_a_wheels_metadata_is_read_by_range_once(served: PackageIndex) -> None:
    name = "wheely-1.0-py3-none-any.whl"
    size = (served.files_dir / name).stat().st_size
    with local_index(SimpleIndex(served.url)) as url:
        entry = next(f for f in page(url, "wheely").json()["files"] if f["filename"] == name)
        assert entry["core-metadata"] is True  # PEP 658/714: uv asks for it, not the wheel
        assert 'data-core-metadata="true"' in page(url, "wheely", as_json=False).text
        root = url.removesuffix("/simple")
        assert requests.get(root + entry["url"] + ".metadata", timeout=10).content == METADATA
        assert 0 < served.bytes_sent[name] < size / 2  # the zip's directory and one member
        served.refusing = True
        assert requests.get(root + entry["url"] + ".metadata", timeout=10).content == METADATA
        wheel_itself = requests.get(root + entry["url"], allow_redirects=False, timeout=10)
        assert wheel_itself.status_code == 302
        assert wheel_itself.headers["Location"].startswith(served.url.removesuffix("/simple"))


def test_a_server_without_ranges_still_gives_the_metadata(served: PackageIndex) -> None:
    served.ranges = False
    with local_index(SimpleIndex(served.url)) as url:
        entry = next(
            f for f in page(url, "wheely").json()["files"] if f["filename"].endswith(".whl")
        )
        root = url.removesuffix("/simple")
        assert requests.get(root + entry["url"] + ".metadata", timeout=10).content == METADATA


def test_a_tampered_sdist_is_refused_and_named(served: PackageIndex) -> None:
    served.listed_hash_overrides["late_lib-1.0.tar.gz"] = "0" * 64
    with pytest.raises(ToolkitError) as caught, local_index(SimpleIndex(served.url)) as url:
        entry = next(f for f in page(url, "late-lib").json()["files"] if "1.0" in f["filename"])
        answer = requests.get(url.removesuffix("/simple") + entry["url"], timeout=10)
        assert answer.status_code == 502
        raise ToolkitError("uv", "resolution failed")  # what the resolver says next
    # the resolver's failure is reported as its cause: the index's file
    assert "hash mismatch" in caught.value.line()


def test_every_connection_of_a_burst_is_answered_at_once(served: PackageIndex) -> None:
    """uv opens dozens of connections at once: none may wait for TCP to retry a dropped one
    (a listen backlog of 5 made resolutions stall up to 30 s)."""
    with local_index(SimpleIndex(served.url)) as url:
        page(url, "late-lib")  # the page is in memory: only the connections are measured
        host, port = url.removeprefix("http://").split("/")[0].split(":")
        waits: list[float] = []

        def connect() -> None:
            started = time.monotonic()
            with socket.create_connection((host, int(port)), timeout=10) as connection:
                connection.sendall(b"GET /simple/late-lib/ HTTP/1.0\r\n\r\n")
                connection.recv(1)
            waits.append(time.monotonic() - started)

        threads = [threading.Thread(target=connect) for _ in range(150)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert len(waits) == 150
    assert max(waits) < 0.9, sorted(waits)[-5:]  # TCP's first retry is at 1 s


def test_the_port_stays_the_same_for_an_index(served: PackageIndex) -> None:
    """uv keeps what it built (sdist metadata) by URL: the same index, the same URL."""
    index = SimpleIndex(served.url)
    with local_index(index) as first:
        pass
    with local_index(index) as second:
        pass
    assert first == second
    assert json.loads(page(served.url, "late-lib").text)["files"]  # the real one untouched

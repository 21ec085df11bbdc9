"""sdists are downloaded through one session that retries transient faults; what fails for good
is named, every file of it."""

from __future__ import annotations

import pytest

from pinfixtures import PACKAGES
from pyindex import PackageIndex
from tcibsrc.common.errors import ToolkitError
from tcibsrc.python.index import SimpleIndex
from tcibsrc.python.sdists import fetch_all

WANTED = [("flit-lite", "1.0", None), ("hook-helper", "1.0", None), ("oslo-lite", "1.0", None)]


@pytest.fixture
def served(index: PackageIndex) -> PackageIndex:
    index.reset(*PACKAGES)
    return index


def test_a_transient_download_error_is_retried(served: PackageIndex) -> None:
    served.failing_files = {"flit_lite-1.0.tar.gz": 2, "hook_helper-1.0.tar.gz": 1}
    fetched = fetch_all(SimpleIndex(served.url), WANTED)
    assert sorted(fetched) == [("flit-lite", "1.0"), ("hook-helper", "1.0"), ("oslo-lite", "1.0")]
    assert served.failing_files == {"flit_lite-1.0.tar.gz": 0, "hook_helper-1.0.tar.gz": 0}


def test_every_download_that_fails_for_good_is_named(served: PackageIndex) -> None:
    served.failing_files = {"flit_lite-1.0.tar.gz": -1, "hook_helper-1.0.tar.gz": -1}
    with pytest.raises(ToolkitError) as caught:
        fetch_all(SimpleIndex(served.url), WANTED)
    line = caught.value.line()
    assert "flit_lite-1.0.tar.gz: HTTP 503" in line, line
    assert "1 more failed too: " in line and "hook_helper-1.0.tar.gz" in line, line

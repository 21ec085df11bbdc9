"""One HTTP session for every download (index pages, sdists, upper-constraints): connections
are reused, and transient faults (a reset connection, 429, 5xx) are retried with backoff
before anything is reported."""

from __future__ import annotations

import threading

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

TIMEOUT = (10, 120)  # connect, read (seconds)
RETRY = Retry(
    total=4,
    connect=2,  # an address that refuses or does not resolve is said quickly
    read=3,
    status=3,
    backoff_factor=0.5,  # then 1, 2 s
    status_forcelist=(429, 500, 502, 503, 504),
    allowed_methods=frozenset({"GET", "HEAD"}),
    raise_on_status=False,  # the last answer is returned, and named by the caller
)
POOL = 16  # parallel downloads share it

_session: requests.Session | None = None
_lock = threading.Lock()


def session() -> requests.Session:
    """The process's session (made on first use)."""
    global _session
    with _lock:
        if _session is None:
            made = requests.Session()
            adapter = HTTPAdapter(max_retries=RETRY, pool_connections=POOL, pool_maxsize=POOL)
            made.mount("https://", adapter)
            made.mount("http://", adapter)
            _session = made
        return _session

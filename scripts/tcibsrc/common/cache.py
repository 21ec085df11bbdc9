"""Where downloads are kept between runs: $TCIBSRC_CACHE, else $XDG_CACHE_HOME/tcibsrc."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    explicit = os.environ.get("TCIBSRC_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "tcibsrc"

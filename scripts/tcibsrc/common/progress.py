"""Progress for long work: a redrawn line on a terminal, a line every few seconds otherwise."""

from __future__ import annotations

import sys
import threading
import time
from types import TracebackType
from typing import TextIO


class Progress:
    """Counts finished items of a task and shows `label: done/total (last item)`."""

    def __init__(
        self, label: str, total: int | None, stream: TextIO | None = None, interval: float = 5.0
    ) -> None:
        """`total=None`: the amount of work is not known ahead (a resolver's packages)."""
        self.label = label
        self.total = total
        self.done = 0
        self.failed = 0
        self.stream = stream or sys.stderr
        self.interactive = self.stream.isatty()
        self.interval = interval
        self._last = 0.0
        self._lock = threading.Lock()
        self._started = time.monotonic()

    def __enter__(self) -> Progress:
        self._show("", force=True)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        elapsed = time.monotonic() - self._started
        failed = f", {self.failed} failed" if self.failed else ""
        line = f"{self.label}: {self._count()} done{failed} in {elapsed:.1f} s"
        if self.interactive:
            self.stream.write("\r\033[K" + line + "\n")
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def advance(self, item: str, ok: bool = True) -> None:
        with self._lock:
            self.done += 1
            if not ok:
                self.failed += 1
            self._show(item)

    def _count(self) -> str:
        return str(self.done) if self.total is None else f"{self.done}/{self.total}"

    def _show(self, item: str, force: bool = False) -> None:
        now = time.monotonic()
        text = f"{self.label}: {self._count()}" + (f" ({item})" if item else "")
        if self.interactive:
            self.stream.write("\r\033[K" + text[:150])
            self.stream.flush()
        elif force or now - self._last >= self.interval:
            self.stream.write(text + "\n")
            self.stream.flush()
            self._last = now

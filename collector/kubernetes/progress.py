"""A progress line for long log collections, only on a terminal (never under CI): pods' logs
done / total and bytes received, redrawn at most a few times a second."""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import TextIO


class Progress:
    """Counts done logs and bytes; draws on ``stream`` when ``enabled``."""

    def __init__(self, stream: TextIO | None, *, enabled: bool) -> None:
        self.stream, self.enabled = stream, enabled and stream is not None
        self.total = self.done = self.bytes = 0
        self.lock = threading.Lock()
        self.drawn = 0.0

    @classmethod
    def for_terminal(cls, *, enabled: bool = True) -> Progress:
        """Draw on stderr when it is a terminal and ``CI`` is not set."""
        tty = sys.stderr.isatty() and os.environ.get("CI", "").lower() not in ("true", "1")
        return cls(sys.stderr, enabled=enabled and tty)

    def start(self, total: int) -> None:
        """Begin counting ``total`` logs."""
        self.total = total
        self.draw(force=True)

    def add_bytes(self, n: int) -> None:
        """Called from the stream threads as blocks arrive."""
        with self.lock:
            self.bytes += n
        self.draw()

    def done_one(self) -> None:
        """One log finished."""
        self.done += 1
        self.draw(force=self.done == self.total)

    def draw(self, force: bool = False) -> None:
        """Redraw the line (at most every 0.2 s unless forced)."""
        if not self.enabled or self.stream is None:
            return
        now = time.monotonic()
        if not force and now - self.drawn < 0.2:
            return
        self.drawn = now
        mib = self.bytes / (1 << 20)
        self.stream.write(f"\rkubernetes: logs {self.done}/{self.total}, {mib:.1f} MiB")
        self.stream.flush()

    def close(self) -> None:
        """End the line."""
        if self.enabled and self.stream is not None and self.total:
            self.stream.write("\n")
            self.stream.flush()

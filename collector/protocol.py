"""The collector protocol: what a plug-in implements to bring one source into a bundle.

A collector is a class registered under the entry-point group ``incident_timeline.collectors``.
``from_config`` builds it from its table in config.toml (raising ConfigError); ``collect``
writes raw data and events through the SourceWriter and returns counts. A SourceError means
the source failed; ``writer.warn(..., partial=True)`` means it was collected only in part.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Protocol

from incident_timeline.collector.bundle import SourceWriter
from incident_timeline.timeline.clock import Clock
from incident_timeline.timeline.window import Window


class Collector(Protocol):
    """One source of evidence."""

    name: ClassVar[str]

    @classmethod
    def from_config(cls, table: Any, path: Path) -> Collector:
        """Build from this collector's table(s) in config file ``path``."""
        ...

    def collect(self, window: Window, out: SourceWriter, *, clock: Clock) -> dict[str, int]:
        """Collect the window into ``out``; return counts for the manifest."""
        ...

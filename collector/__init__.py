"""Collectors bring evidence into a bundle. What a plugin imports to add a source or a format:

    from incident_timeline.collector import Collector, Format, Context, Parsed, SourceWriter

Every collector gets the HTTP policy (deadlines, size cap, 401/403, secret masking) through
``collector.http.make_client``/``request``; one that talks to its source another way hands
its credentials to ``SourceWriter.add_secrets`` and checks ``SourceWriter.deadline``.

A collector class is registered under the entry-point group ``incident_timeline.collectors``
(one per config table); a source's export formats, a tuple of ``Format``, under
``incident_timeline.formats``. See ``protocol`` and ``formats`` for the contracts.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from incident_timeline.collector.bundle import SourceWarning, SourceWriter, active_writer
from incident_timeline.collector.errors import (
    AuthError,
    BundleError,
    ConfigError,
    DeadlineError,
    ExportFormatError,
    IncidentError,
    SourceError,
    TooLargeError,
    WindowError,
)
from incident_timeline.collector.protocol import Collector
from incident_timeline.timeline.clock import Clock
from incident_timeline.timeline.window import Window

# The formats' names are imported when first asked for: formats brings pandas and the
# timestamp engine, which a collector that writes Arrow tables (prometheus) does without.
if TYPE_CHECKING:  # the names' types, for mypy
    from incident_timeline.collector import formats

    Context = formats.Context
    Format = formats.Format
    Parsed = formats.Parsed
    Sample = formats.Sample
    json_parser = formats.json_parser
    row = formats.row
    rows_to_events = formats.rows_to_events
    text_parser = formats.text_parser
    unparsed_row = formats.unparsed_row
_FORMATS = (
    "Context",
    "Format",
    "Parsed",
    "Sample",
    "json_parser",
    "row",
    "rows_to_events",
    "text_parser",
    "unparsed_row",
)


def __getattr__(name: str) -> Any:
    if name not in _FORMATS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module("incident_timeline.collector.formats"), name)


__all__ = [
    "AuthError",
    "BundleError",
    "Clock",
    "Collector",
    "ConfigError",
    "Context",
    "DeadlineError",
    "ExportFormatError",
    "Format",
    "IncidentError",
    "Parsed",
    "Sample",
    "SourceError",
    "SourceWarning",
    "SourceWriter",
    "TooLargeError",
    "Window",
    "WindowError",
    "active_writer",
    "json_parser",
    "row",
    "rows_to_events",
    "text_parser",
    "unparsed_row",
]

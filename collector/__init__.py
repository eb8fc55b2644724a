"""Collectors bring evidence into a bundle. What a plugin imports to add a source or a format:

    from incident_timeline.collector import Collector, Format, Context, Parsed, SourceWriter

Every collector gets the HTTP policy (deadlines, size cap, 401/403, secret masking) through
``collector.http.make_client``/``request``; one that talks to its source another way hands
its credentials to ``SourceWriter.add_secrets`` and checks ``SourceWriter.deadline``.

A collector class is registered under the entry-point group ``incident_timeline.collectors``
(one per config table); a source's export formats, a tuple of ``Format``, under
``incident_timeline.formats``. See ``protocol`` and ``formats`` for the contracts.
"""

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
from incident_timeline.collector.formats import (
    Context,
    Format,
    Parsed,
    Sample,
    json_parser,
    row,
    rows_to_events,
    text_parser,
    unparsed_row,
)
from incident_timeline.collector.protocol import Collector
from incident_timeline.timeline.clock import Clock
from incident_timeline.timeline.window import Window

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

"""Collectors bring evidence into a bundle. What a plugin imports to add a source or a format:

    from incident_timeline.collector import Collector, Format, Context, Parsed, SourceWriter

A collector class is registered under the entry-point group ``incident_timeline.collectors``
(one per config table); a source's export formats, a tuple of ``Format``, under
``incident_timeline.formats``. See ``protocol`` and ``formats`` for the contracts.
"""

from incident_timeline.collector.bundle import SourceWriter
from incident_timeline.collector.errors import (
    BundleError,
    ConfigError,
    ExportFormatError,
    IncidentError,
    SourceError,
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
)
from incident_timeline.collector.protocol import Collector
from incident_timeline.timeline.clock import Clock
from incident_timeline.timeline.window import Window

__all__ = [
    "BundleError",
    "Clock",
    "Collector",
    "ConfigError",
    "Context",
    "ExportFormatError",
    "Format",
    "IncidentError",
    "Parsed",
    "Sample",
    "SourceError",
    "SourceWriter",
    "Window",
    "WindowError",
    "json_parser",
    "row",
    "rows_to_events",
    "text_parser",
]

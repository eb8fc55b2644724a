"""The foundation: the event record, the time engine, merging and key events, and the trust
checks. What a notebook imports to work with a bundle's events:

    from incident_timeline.timeline import read_parquet, merge_events, key_events

It never imports ``collector`` or ``report`` and does no I/O against a source.
"""

from incident_timeline.timeline.keyevents import key_events
from incident_timeline.timeline.merge import deduplicate, filter_events, merge_events
from incident_timeline.timeline.schema import (
    COLUMNS,
    SCHEMA,
    EventRow,
    Kind,
    Severity,
    TimeQuality,
    make_events,
    read_parquet,
    validate,
    write_parquet,
)
from incident_timeline.timeline.timestamps import parse_timestamps
from incident_timeline.timeline.window import Window

__all__ = [
    "COLUMNS",
    "SCHEMA",
    "EventRow",
    "Kind",
    "Severity",
    "TimeQuality",
    "Window",
    "deduplicate",
    "filter_events",
    "key_events",
    "make_events",
    "merge_events",
    "parse_timestamps",
    "read_parquet",
    "validate",
    "write_parquet",
]

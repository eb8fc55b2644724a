"""The time engine: every line's timestamp found, read and put on UTC.

One entry point, ``parse_timestamps`` (``parse_streams`` for many short streams at once). The
steps are modules of their own: ``detect`` learns a stream's families from a sample,
``extract`` reads the digit groups, ``assemble`` builds local instants, ``zone`` puts them on
UTC; ``families`` holds the built-in families (``Family`` values), ``runtime`` reads container
runtime (CRI) files, whose own timestamps come first on every line.
"""

from incident_timeline.timeline.timestamps.engine import (
    check_zone,
    extract_iso,
    fill_inferred,
    parse_iso,
    parse_streams,
    parse_timestamps,
)
from incident_timeline.timeline.timestamps.families import FAMILIES, Family
from incident_timeline.timeline.timestamps.runtime import open_records, read_runtime_log

__all__ = [
    "FAMILIES",
    "Family",
    "check_zone",
    "extract_iso",
    "fill_inferred",
    "open_records",
    "parse_iso",
    "parse_streams",
    "parse_timestamps",
    "read_runtime_log",
]

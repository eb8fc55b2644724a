"""The time engine: every line's timestamp found, read and put on UTC.

One entry point, ``parse_timestamps`` (``parse_streams`` for many short streams at once). The
steps are modules of their own: ``detect`` learns a stream's families from a sample,
``extract`` reads the digit groups, ``assemble`` builds local instants, ``zone`` puts them on
UTC; ``families`` holds the built-in families (``Family`` values), ``layout`` makes a family of
a user's ``time_format``/``time_regex``, ``infer`` learns layouts no table lists from a sample
and the incident window; ``runtime`` reads container
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
from incident_timeline.timeline.timestamps.families import FAMILIES, Families, Family
from incident_timeline.timeline.timestamps.infer import Learnt, learn
from incident_timeline.timeline.timestamps.layout import LayoutError, compile_format, placed
from incident_timeline.timeline.timestamps.runtime import open_records, read_runtime_log

__all__ = [
    "FAMILIES",
    "Families",
    "Family",
    "LayoutError",
    "Learnt",
    "check_zone",
    "compile_format",
    "extract_iso",
    "fill_inferred",
    "learn",
    "open_records",
    "parse_iso",
    "parse_streams",
    "parse_timestamps",
    "placed",
    "read_runtime_log",
]

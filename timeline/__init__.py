"""The foundation: the event record, the time engine, merging and key events, and the trust
checks. What a notebook imports to work with a bundle's events:

    from incident_timeline.timeline import read_parquet, merge_events, key_events

It never imports ``collector`` or ``report`` and does no I/O against a source.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

# Each name is imported from its module when first asked for: a module of the package (the
# collector's window, the record's Arrow schema) loads without pandas and the time engine.
_MODULES = {
    "keyevents": "key_events",
    "merge": "deduplicate filter_events merge_events",
    "schema": "COLUMNS SCHEMA EventRow Kind Severity TimeQuality make_events read_parquet "
    "validate write_parquet",
    "timestamps": "parse_timestamps",
    "window": "Window",
}
_HOME = {name: module for module, names in _MODULES.items() for name in names.split()}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{home}"), name)


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

"""One bad record costs that record only: when a JSON export cannot be read whole (a field of
the wrong type deep in one record: ``count: "5"``, ``labels: "x"``, ``agent: "x"``), its
records are read one at a time with the same format. The readable ones become events whose
``ref`` points at their own place in the raw file; each unreadable one becomes an ``unparsed``
event holding the record's JSON text, with the reason and its JSON pointer (RFC 6901).

The records are the document itself when it is an array (Alertmanager, amtool) or the one
array of objects under a top-level key (``log_entries``, ``notes``, ``items``), which is how
every built-in JSON format lays its records out.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from incident_timeline.collector.errors import ExportFormatError
from incident_timeline.collector.formats import (
    UNPARSED,
    Context,
    Format,
    Parsed,
    row,
    rows_to_events,
)
from incident_timeline.timeline import schema
from incident_timeline.timeline.schema import EventRow

_READ_ERRORS = (ExportFormatError, ValueError, TypeError, KeyError, AttributeError, IndexError)


def records_of(document: Any) -> tuple[str | None, list[Any]] | None:
    """``(key, records)``: the array of records and the key it is under (None for a
    top-level array), or None when the document has no such array."""
    if isinstance(document, list):
        return None, document
    if isinstance(document, dict):
        keys = [k for k, v in document.items() if isinstance(v, list) and v]
        if len(keys) == 1:
            return keys[0], document[keys[0]]
    return None


def per_record(fmt: Format, document: Any, ctx: Context) -> tuple[Parsed, list[str]] | None:
    """Read ``document``'s records one at a time; None when it has no records or none can be
    read. Returns the result and the pointers of the unreadable records with their reasons."""
    found = records_of(document)
    if found is None:
        return None
    key, items = found
    base = f"/{key}" if key is not None else ""
    frames: list[pd.DataFrame] = []
    bad: list[EventRow] = []
    problems: list[str] = []
    counts: dict[str, int] = {}
    for i, item in enumerate(items):
        single = [item] if key is None else {**document, key: [item]}
        pointer = f"{base}/{i}"
        try:
            parsed = fmt.parse(json.dumps(single).encode(), ctx)
        except _READ_ERRORS as exc:
            reason = (
                f"{type(exc).__name__}: {exc}"
                if not isinstance(exc, ExportFormatError)
                else str(exc)
            )
            bad.append(_unparsed(ctx, pointer, item, reason))
            problems.append(f"{pointer}: {reason}")
            continue
        events = parsed.events.copy()
        events["ref"] = events["ref"].str.replace(f"#{base}/0", f"#{pointer}", n=1, regex=False)
        frames.append(events)
        for name, value in parsed.counts.items():
            counts[name] = counts.get(name, 0) + value
    if not frames:
        return None
    if bad:
        frames.append(rows_to_events(bad, ctx))
        counts["unparsed"] = counts.get("unparsed", 0) + len(bad)
    events = pd.concat(frames, ignore_index=True) if frames else schema.empty_events()
    return Parsed(events, None, counts), problems


def _unparsed(ctx: Context, pointer: str, item: Any, reason: str) -> EventRow:
    return row(
        ctx,
        time_raw=None,
        quality="inferred",
        source="file",
        kind=UNPARSED,
        severity="warning",
        pointer=pointer,
        summary=f"unparsed record {pointer}: {reason}"[:240],
        message=json.dumps(item, ensure_ascii=False, sort_keys=True),
        labels={"reason": reason},
    )

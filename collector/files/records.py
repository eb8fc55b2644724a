"""One bad record costs that record only. Each record of a JSON export is first checked
against its format's shape (`checked`, see `collector.shapes`): one with a field of the wrong
type (``count: "5"``, ``labels: "x"``, ``agent: "x"``) becomes an ``unparsed`` event holding the
record's JSON text, with the reason naming the bad field's JSON pointer (RFC 6901), e.g.
``/items/3/count``; the others are parsed together as usual, their ``ref`` pointing at their
own place in the raw file. When a document still cannot be read whole (a format without a
shape, or a fault its shape does not describe), its records are read one at a time
(`per_record`), and an unreadable one is named by the record's pointer.

The records are the document itself when it is an array (Alertmanager, amtool) or the one
array of objects under a top-level key (``log_entries``, ``notes``, ``items``), which is how
every built-in JSON format lays its records out.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pandas as pd

from incident_timeline.collector.errors import ExportFormatError
from incident_timeline.collector.formats import (
    Context,
    Format,
    JsonParser,
    Parsed,
    renumber_refs,
    rows_to_events,
    unparsed_record,
)
from incident_timeline.collector.shapes import mismatch
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


def checked(fmt: Format, data: bytes, ctx: Context) -> tuple[Parsed, list[str]] | None:
    """``data`` parsed in ``fmt`` with every record checked against ``fmt.shape`` first;
    returns the result and one reason per record kept as ``unparsed`` (each starting with the
    bad field's pointer). None when there is nothing to check (no shape, not one JSON
    document, no array of records): the caller parses the file as usual. A parse that fails
    anyway raises, as the format's parser does."""
    if fmt.shape is None:
        return None
    try:
        document = json.loads(data)
    except ValueError:
        return None
    found = records_of(document)
    if found is None:
        return None
    key, items = found
    base = f"/{key}" if key is not None else ""
    known = {
        i: reason
        for i, item in enumerate(items)
        if (reason := mismatch(item, fmt.shape, f"{base}/{i}")) is not None
    }
    if not known:
        return _of_document(fmt, document, ctx), []
    kept = [i for i in range(len(items)) if i not in known]
    try:
        parsed = _of_document(fmt, _with(document, key, [items[i] for i in kept]), ctx)
    except _READ_ERRORS:
        salvaged = per_record(fmt, document, ctx, known)
        if salvaged is None:
            raise
        return salvaged
    events = renumber_refs(parsed.events, f"{ctx.ref}#{base}/", kept)
    bad = [unparsed_record(ctx, f"{base}/{i}", items[i], known[i]) for i in sorted(known)]
    counts = {**parsed.counts, "unparsed": parsed.counts.get("unparsed", 0) + len(bad)}
    events = pd.concat([events, rows_to_events(bad, ctx)], ignore_index=True)
    return dataclasses.replace(parsed, events=events, counts=counts), list(known.values())


def _of_document(fmt: Format, document: Any, ctx: Context) -> Parsed:
    if isinstance(fmt.parse, JsonParser):  # no second trip through JSON text
        return fmt.parse.of_document(document, ctx)
    return fmt.parse(json.dumps(document).encode(), ctx)


def _with(document: Any, key: str | None, items: list[Any]) -> Any:
    return items if key is None else {**document, key: items}


def per_record(
    fmt: Format, document: Any, ctx: Context, known: dict[int, str] | None = None
) -> tuple[Parsed, list[str]] | None:
    """Read ``document``'s records one at a time; None when it has no records or none can be
    read. Returns the result and the pointers of the unreadable records with their reasons.
    ``known`` holds records already found unreadable (their index and reason)."""
    found = records_of(document)
    if found is None:
        return None
    key, items = found
    base = f"/{key}" if key is not None else ""
    known = known or {}
    frames: list[pd.DataFrame] = []
    bad: list[EventRow] = []
    problems: list[str] = []
    counts: dict[str, int] = {}
    for i, item in enumerate(items):
        single = [item] if key is None else {**document, key: [item]}
        pointer = f"{base}/{i}"
        if i in known:
            bad.append(unparsed_record(ctx, pointer, item, known[i]))
            problems.append(known[i])
            continue
        try:
            parsed = fmt.parse(json.dumps(single).encode(), ctx)
        except _READ_ERRORS as exc:
            reason = (
                f"{type(exc).__name__}: {exc}"
                if not isinstance(exc, ExportFormatError)
                else str(exc)
            )
            bad.append(unparsed_record(ctx, pointer, item, reason))
            problems.append(f"{pointer}: {reason}")
            continue
        events = parsed.events.copy()
        events["ref"] = events["ref"].str.replace(f"#{base}/0", f"#{pointer}", n=1, regex=False)
        frames.append(events)
        for name, value in parsed.counts.items():
            counts[name] = counts.get(name, 0) + value
    if not frames and not known:
        return None
    if bad:
        frames.append(rows_to_events(bad, ctx))
        counts["unparsed"] = counts.get("unparsed", 0) + len(bad)
    events = pd.concat(frames, ignore_index=True) if frames else schema.empty_events()
    return Parsed(events, None, counts), problems

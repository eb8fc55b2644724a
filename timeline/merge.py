"""Merge event frames from many sources onto one timeline, and filter it.

The merged order is a total key, so every output built on it is deterministic::

    time, source, stream, row order inside its input (a line's order in its file), ref

Ties that survive all five (the same row given twice) keep the order of the inputs.

`deduplicate` then removes what two exports of the same thing give twice: a record identical
but for its ``ref`` found in two raw files (two overlapping ``kubectl logs`` saves, two
snapshots of Alertmanager or PagerDuty), the same PagerDuty log entry (by id), Alertmanager
alert (by fingerprint and start) or silence (by id) from two files or two sources (the live
Alertmanager and an ``amtool`` export), and a PagerDuty "Note added" log entry next to
the note itself from the notes export (same second, same actor: the note with its text stays).
Within one raw file nothing is dropped: two equal lines there are two events.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from incident_timeline.timeline.errors import PatternError
from incident_timeline.timeline.schema import COLUMNS, empty_events, validate

# Identity keys, each naming one record in its system, so that two snapshots of it (its state
# moved on in between) are one event: (source, the kinds it names, the label holding it).
# A PagerDuty log entry's id (every entry kind) and alert id; an Alertmanager alert's
# fingerprint with its startsAt (the event's time, which is part of the key: a new firing of
# the same labels is a new alert) and a silence's id. A webhook notification's fingerprint is
# not one: Alertmanager notifies each receiver, and notifies again (repeat_interval), with
# the same alert; nor is a PagerDuty alert's (two integrations give two alerts for one).
IDENTITIES: tuple[tuple[str, tuple[str, ...] | None, str], ...] = (
    ("pagerduty", None, "log_entry"),
    ("pagerduty", ("page_alert",), "alert"),
    ("alertmanager", ("alert_firing",), "fingerprint"),
    ("alertmanager", ("silence",), "silence_id"),
)
SORT_KEY: tuple[str, ...] = ("time", "source", "stream", "_row", "ref")
_IDENTITY: tuple[str, ...] = tuple(c for c in COLUMNS if c != "ref")
GREP_COLUMNS: tuple[str, ...] = ("summary", "message", "actor")


def merge_events(frames: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate event frames and sort them on the timeline's total key.

    Each input is validated against the event schema first. Within one input, rows that tie
    on time, source and stream keep their input order (a file's line order), so two log lines
    written in the same millisecond stay in the order the application wrote them. Returns a
    frame with the schema's columns and a fresh 0..n-1 index; no inputs gives an empty frame.
    """
    parts = [validate(frame) for frame in frames]
    if not parts:
        return empty_events()
    return take_merged(parts, merged_order(parts))


def take_merged(parts: Sequence[pd.DataFrame], order: np.ndarray) -> pd.DataFrame:
    """The rows of validated ``parts`` (laid end to end) at positions ``order``."""
    # Arrow-backed columns are gathered chunk by chunk from the inputs: the rows are copied
    # once, into their merged order, not concatenated first and then sorted (two copies).
    columns = {name: _take([p[name] for p in parts], order) for name in COLUMNS}
    return pd.DataFrame(columns, index=pd.RangeIndex(len(order)))


def merged_order(
    parts: Sequence[pd.DataFrame], rows: Sequence[np.ndarray] | None = None
) -> np.ndarray:
    """Positions (into the inputs laid end to end) in timeline order: a stable sort on
    `SORT_KEY`, with ``_row`` each row's position inside its input, or, for inputs that are
    some rows of a file, ``rows``: each row's position in its file.

    Arrow sorts the keys (its sort_indices is stable, and compares strings as UTF-8 bytes,
    which is code point order, as Python's and pandas' string sorts do).
    """
    if rows is None:
        rows = [np.arange(len(p), dtype=np.int64) for p in parts]
    positions = np.concatenate([np.asarray(r, dtype=np.int64) for r in rows])
    keys = {
        "time": pa.array(np.concatenate([_ns(p["time"]) for p in parts])),
        "source": _chunked([p["source"] for p in parts]),
        "stream": _chunked([p["stream"] for p in parts]),
        "_row": pa.array(positions),
        "ref": _chunked([p["ref"] for p in parts]),
    }
    table = pa.table(keys)
    order = pc.sort_indices(table, sort_keys=[(k, "ascending") for k in SORT_KEY])
    return np.asarray(order.to_numpy(), dtype=np.int64)


def _ns(times: pd.Series) -> np.ndarray:
    return np.asarray(times.array.asi8 if hasattr(times.array, "asi8") else times.astype("int64"))


def _chunked(columns: Sequence[pd.Series]) -> pa.ChunkedArray:
    chunks: list[pa.Array] = []
    for col in columns:
        arr = pa.array(col.array, type=pa.large_string(), from_pandas=True)
        chunks.extend(arr.chunks if isinstance(arr, pa.ChunkedArray) else [arr])
    return pa.chunked_array(chunks, type=pa.large_string())


def _take(columns: Sequence[pd.Series], order: np.ndarray) -> pd.Series:
    """One column of the inputs, laid end to end, at positions ``order``."""
    if isinstance(columns[0].dtype, pd.StringDtype):
        whole = _chunked(columns)
        runs = _runs(order)
        if runs is not None:  # a few runs in input order (findings into a sorted timeline)
            taken = pa.chunked_array(
                [c for start, n in runs for c in whole.slice(start, n).chunks],
                type=pa.large_string(),
            )
        else:
            taken = whole.take(pa.array(order))
        return pd.Series(
            pd.array(taken, dtype=columns[0].dtype), index=pd.RangeIndex(len(order)), copy=False
        )
    values = pd.concat([c.reset_index(drop=True) for c in columns], ignore_index=True)
    return values.take(order).reset_index(drop=True)


def _runs(order: np.ndarray) -> list[tuple[int, int]] | None:
    """``order`` as (start, length) runs of consecutive positions, if there are few of them:
    then the merged column is slices of the inputs, and its strings are not copied."""
    if not len(order):
        return None
    breaks = np.flatnonzero(np.diff(order) != 1) + 1
    if len(breaks) > max(64, len(order) >> 12):
        return None
    starts = np.concatenate([[0], breaks])
    ends = np.concatenate([breaks, [len(order)]])
    return [(int(order[a]), int(b - a)) for a, b in zip(starts, ends, strict=True)]


def deduplicate(frame: pd.DataFrame) -> pd.DataFrame:
    """Drop records exported twice and "Note added" entries that duplicate a note.

    ``frame`` is a merged timeline; of equal records the first in its order stays, so the
    result is deterministic. Two equal records in one raw file are both kept, and of a record
    that one file holds twice and another once, two stay. Returns a frame with a fresh index.
    """
    drop = duplicate_rows(frame)
    if not drop.any():
        return frame.reset_index(drop=True)
    return frame.loc[~drop].reset_index(drop=True)


def duplicate_rows(frame: pd.DataFrame) -> np.ndarray:
    """The rows of the merged timeline ``frame`` that `deduplicate` drops, as a mask.

    Only rows that share time, source and kind with another row can be dropped, and whether
    one is depends only on those rows: the mask of a frame of just such rows (and of every
    row of the kinds notes are matched on) is the same for them.
    """
    drop: np.ndarray = _repeated_exports(frame) | _annotations_of_notes(frame)
    return drop


def _repeated_exports(frame: pd.DataFrame) -> np.ndarray:
    """Rows equal (or equal by id) to an earlier row from another raw file."""
    drop = np.zeros(len(frame), dtype=bool)
    # Only rows sharing time, source and kind can be duplicates: a cheap first cut.
    maybe = frame.duplicated(["time", "source", "kind"], keep=False).to_numpy(dtype=bool)
    if not maybe.any():
        return drop
    rows = frame.loc[maybe]
    ident = pd.util.hash_pandas_object(rows.loc[:, list(_IDENTITY)], index=False).astype("string")
    for source, kinds, label in IDENTITIES:
        found = rows["labels"].str.extract(rf'"{label}": "([^"]+)"')[0]
        by_id = found.notna() & (rows["source"] == source)
        if kinds is not None:
            by_id &= rows["kind"].isin(kinds)
        ident = ident.where(~by_id, f"{source}:{label}:" + rows["kind"] + ":" + found)
    file = rows["ref"].str.partition("#")[0]
    nth = ident.groupby([ident, file], dropna=False).cumcount()
    drop[np.flatnonzero(maybe)] = pd.DataFrame({"i": ident, "n": nth}).duplicated().to_numpy()
    return drop


def _annotations_of_notes(frame: pd.DataFrame) -> np.ndarray:
    """PagerDuty "Note added" log entries with a note by the same actor in the same second."""
    drop = np.zeros(len(frame), dtype=bool)
    notes = frame.loc[
        ((frame["kind"] == "note") & (frame["source"] == "pagerduty")).to_numpy(dtype=bool)
    ]
    if notes.empty:
        return drop
    second = notes["time"].dt.floor("s").astype("int64").astype("string")
    key = second + "|" + notes["actor"].fillna("")
    entry = notes["labels"].str.contains('"log_entry": ', regex=False).to_numpy(dtype=bool)
    texts = set(key[~entry])
    annotation = entry & key.isin(texts).to_numpy(dtype=bool)
    drop[
        np.flatnonzero(
            (frame["kind"] == "note").to_numpy(dtype=bool)
            & (frame["source"] == "pagerduty").to_numpy(dtype=bool)
        )
    ] = annotation
    return drop


def filter_events(
    frame: pd.DataFrame,
    sources: Sequence[str] = (),
    grep: str | None = None,
) -> pd.DataFrame:
    """Keep the rows from any of ``sources`` that match ``grep``; both filters are optional.

    ``grep`` is a Python regular expression searched (not anchored, case-sensitive unless the
    pattern says ``(?i)``) in summary, message and actor; a row matches if any of them does.
    An invalid pattern raises ValueError naming it and the ``re`` error. Row order is kept and
    the index is reset.
    """
    if not sources and grep is None:  # nothing to filter: no copy of every row
        return frame.reset_index(drop=True)
    mask = pd.Series(True, index=frame.index)
    if sources:
        mask &= frame["source"].isin(list(sources)).to_numpy(dtype=bool)
    if grep is not None:
        _compile(grep)
        mask &= grep_mask(frame, grep)
    return frame.loc[mask].reset_index(drop=True)


def grep_mask(frame: pd.DataFrame, pattern: str) -> pd.Series:
    """A boolean Series: does ``pattern`` occur in summary, message or actor of each row?"""
    mask = pd.Series(False, index=frame.index)
    for name in GREP_COLUMNS:
        hits = frame[name].str.contains(pattern, regex=True, na=False)
        mask |= hits.to_numpy(dtype=bool)
    return mask


def _compile(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise PatternError(f"invalid grep pattern {pattern!r}: {exc}") from exc

"""Merge event frames from many sources onto one timeline, and filter it.

The merged order is a total key, so every output built on it is deterministic::

    time, source, stream, row order inside its input (a line's order in its file), ref

Ties that survive all five (the same row given twice) keep the order of the inputs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from timeline.schema import COLUMNS, empty_events, validate

SORT_KEY: tuple[str, ...] = ("time", "source", "stream", "_row", "ref")
GREP_COLUMNS: tuple[str, ...] = ("summary", "message", "actor")


def merge_events(frames: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate event frames and sort them on the timeline's total key.

    Each input is validated against the event schema first. Within one input, rows that tie
    on time, source and stream keep their input order (a file's line order), so two log lines
    written in the same millisecond stay in the order the application wrote them. Returns a
    frame with the schema's columns and a fresh 0..n-1 index; no inputs gives an empty frame.
    """
    parts = []
    for frame in frames:
        part = validate(frame)
        part["_row"] = np.arange(len(part), dtype=np.int64)
        parts.append(part)
    if not parts:
        return empty_events()
    merged = pd.concat(parts, ignore_index=True)
    merged = merged.sort_values(list(SORT_KEY), kind="stable", ignore_index=True)
    return merged.loc[:, list(COLUMNS)]


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
        raise ValueError(f"invalid grep pattern {pattern!r}: {exc}") from exc

"""What the text-log formats share (plain logs, ``kubectl logs``, CRI files), parsed a whole file
at a time. Timestamps come from ``timeline.timestamps`` (every family it knows, naive ones read
in the file's ``timezone``, year-less ones placed in the window); a line without one takes its
neighbour's time and is marked ``inferred``. A DST-ambiguous or non-existent local time is
resolved by the parser and flagged in the event's labels as ``time_flag`` (``embedded_time_flag``
when it is the app's own timestamp next to a runtime one)."""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np
import pandas as pd

from incident_timeline.collector.formats import Context
from incident_timeline.timeline import schema
from incident_timeline.timeline.timestamps import parse_timestamps

# What may come before and after a leading timestamp that the summary need not repeat:
# logfmt time=/ts=, a bracket or quote, then separators.
_BEFORE_TS = re.compile(r"\s*(?:(?:time|ts|t|timestamp)=)?[\[\"]?")
_AFTER_TS = re.compile(r"[\]\"]?[\s:|,-]*")
SUMMARY_MAX = 240


def split_lines(text: str) -> pd.Series:
    """Lines of ``text`` indexed by 1-based line number; blank lines are left out. A file
    with CR-only line endings (classic Mac, some Windows tools) is split on CR."""
    sep = "\r" if "\n" not in text and "\r" in text else "\n"
    lines = pd.Series(text.split(sep), dtype="string")
    lines = lines.str.removesuffix("\r")
    lines.index = pd.RangeIndex(1, len(lines) + 1)
    return lines[lines.str.strip() != ""]


def looks_like_log(text: str) -> bool:
    """Whether the first line carries a timestamp the parser knows (the lines after it may be
    continuations: stack traces, config dumps)."""
    sample = split_lines(text[:20000]).head(1)
    return not sample.empty and bool(parse_timestamps(sample)["time_raw"].notna().all())


def window_of(ctx: Context) -> tuple[Any, Any] | None:
    """The incident window a parser gives year-less timestamps (None when unknown)."""
    if ctx.fallback_time is None:
        return None
    return ctx.fallback_time, ctx.window_end if ctx.window_end is not None else ctx.fallback_time


def strip_leading(text: pd.Series, raw: pd.Series) -> pd.Series:
    """``text`` without the timestamp ``raw`` where the line opens with it (bare, bracketed,
    quoted or as logfmt ``time=``), so that the summary does not repeat it."""
    out = [
        _without(line, stamp) if isinstance(stamp, str) and isinstance(line, str) else line
        for line, stamp in zip(text.tolist(), raw.tolist(), strict=False)
    ]
    return pd.Series(out, index=text.index, dtype="string")


def _without(line: str, stamp: str) -> str:
    opening = _BEFORE_TS.match(line)
    at = opening.end() if opening else 0
    if not line.startswith(stamp, at):
        return line
    rest = line[at + len(stamp) :]
    closing = _AFTER_TS.match(rest)
    return rest[closing.end() if closing else 0 :]


def flagged(labels: pd.Series, dst: pd.Series, has_runtime: pd.Series | None) -> pd.Series:
    """Add ``time_flag`` (or ``embedded_time_flag`` next to a runtime stamp) to the labels of
    rows whose local time fell in a DST change."""
    flagged = dst.notna().to_numpy()
    if not flagged.any():
        return labels
    out = labels.astype(object).copy()
    embedded = np.zeros(len(dst), dtype=bool) if has_runtime is None else has_runtime.to_numpy()
    for i in np.flatnonzero(flagged):
        extra = json.loads(out.iloc[i])
        extra["embedded_time_flag" if embedded[i] else "time_flag"] = dst.iloc[i]
        out.iloc[i] = schema.labels_json(extra)
    return out


def summarize(text: pd.Series) -> pd.Series:
    """One table-friendly line: whitespace collapsed, cut at SUMMARY_MAX characters."""
    flat = text.fillna("").str.replace(r"\s+", " ", regex=True).str.strip()
    long = flat.str.len() > SUMMARY_MAX
    return flat.where(~long, flat.str.slice(0, SUMMARY_MAX - 1) + "…")

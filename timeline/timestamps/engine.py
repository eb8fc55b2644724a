"""Timestamps in log lines, parsed a whole stream at a time.

``parse_timestamps(lines, tz, window)`` finds and parses the timestamp of every line of one
stream (a file, a container): the families in ``timeline.formats`` (RFC 3339 / ISO 8601 with
0-9 fraction digits and any zone, container-runtime prefixes, klog, Go ``log``, logfmt and JSON
time keys incl. epoch s/ms/µs/ns, nginx/Apache, syslog RFC 3164/5424, log4j/logback/Python,
PostgreSQL, Redis, MySQL, HDFS, Spark, logcat, BGL, TAI64N, ...). How it goes:

1. ``timeline.detect`` learns from a sample which families the stream uses, then finds each
   line's timestamp with a few RE2 passes over the whole column (pyarrow);
2. ``timeline.convert`` turns each family's matches into date and clock parts with numpy,
   keeping every digit (nanoseconds included);
3. ``timeline.localtime`` gives year-less stamps the window's year, applies written zones and
   reads naive times in ``tz``, flagging DST-ambiguous and non-existent ones.

Only lines no family matched go through a slow path (dateutil, one line at a time). The FIRST
timestamp of a line is its time (except that a JSON object's time key wins over other fields).
A line with no timestamp gets none here; ``fill_inferred`` then gives it its neighbour's.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from incident_timeline.timeline.columns import labels, strings, utc_times
from incident_timeline.timeline.timestamps import detect, infer
from incident_timeline.timeline.timestamps.assemble import (
    PARTS,
    Parts,
    convert,
    empty_parts,
    loose,
)
from incident_timeline.timeline.timestamps.families import (
    FAMILIES,
    QUICK,
    Families,
    Family,
    compiled,
)
from incident_timeline.timeline.timestamps.zone import (
    FLAGS,
    NAT,
    apply_zone,
    infer_years,
    local_ns,
    place_clocks,
    to_utc,
)
from incident_timeline.timeline.window import check_zone

__all__ = [
    "ISO_PATTERN",
    "QUALITIES",
    "check_zone",
    "extract_iso",
    "fill_inferred",
    "parse_iso",
    "parse_streams",
    "parse_timestamps",
]
QUALITIES = ("exact", "assumed_tz")
CHUNK = 1 << 16  # lines searched and converted at a time: bounded temporaries, warm caches
# One ISO 8601 date-time anywhere in a line. Groups: date, time, fraction, zone. Kept for
# callers that want only ISO text; parse_timestamps knows many more layouts.
ISO_PATTERN = (
    r"(?P<date>\d{4}-\d{2}-\d{2})[T ](?P<clock>\d{2}:\d{2}:\d{2})"
    r"(?:[.,](?P<frac>\d{1,9}))?(?P<zone>\s?(?:Z|UTC|[+-]\d{2}:?\d{2})(?![\d:]))?"
)
# The incident window that gives year-less stamps their year: a timeline.window.Window, or
# (since, until) as tz-aware datetimes/Timestamps; None when unknown.
Window = Any
Hit = tuple[np.ndarray, pa.Array, Parts]  # rows, the text a family matched, its parts
Group = tuple[pa.Array, np.ndarray | None, list[detect.Step]]  # lines, their rows, the steps


def parse_timestamps(
    lines: pd.Series,
    tz: str = "UTC",
    window: Window = None,
    *,
    threads: int = 1,
    families: Families | None = None,
    learn: bool | None = None,
) -> pd.DataFrame:
    """The timestamp of every line of one stream, as a frame aligned with ``lines``:

    * ``time``: datetime64[ns, UTC], NaT where the line has none;
    * ``time_raw``: the timestamp exactly as written (NA where none);
    * ``quality``: ``exact`` (zone or epoch in the text) or ``assumed_tz`` (naive, read in
      ``tz``), NA where none;
    * ``dst``: ``ambiguous`` or ``nonexistent`` for naive local times that fall in a DST
      change (resolved as ``timeline.localtime`` says), else NA.

    ``window`` (since, until) gives year-less timestamps their year; without it they are
    left without a time. ``families`` is the set of layouts to look for (a tuple of
    ``Family`` values in priority order, e.g. ``(layout.compile_format("%d/%m %H.%M.%S"),)``);
    by default the built-ins (FAMILIES) and, for what they miss, the slow path's loose shape.
    ``learn`` (by default: with the built-ins and a window) infers layouts from the lines no
    family matched (see ``infer``); what it learnt or could not settle is listed in the
    frame's ``attrs["time_notes"]``. Long streams are read CHUNK lines at a time, ``threads``
    chunks at once. Example::

        day = (pd.Timestamp("2024-01-15", tz="UTC"), pd.Timestamp("2024-01-16", tz="UTC"))
        parse_timestamps(pd.Series(["I0115 14:31:02.123456 1 x.go:1] hi"]), "UTC", day)
    """
    check_zone(tz)
    column = _arrow(lines)
    steps, notes = _plan(column, tz, window, families, learn)
    starts = range(0, len(column), CHUNK)

    def one(at: int) -> list[Hit]:
        return _chunk([(column.slice(at, CHUNK), None, steps)], at)

    if threads > 1 and len(starts) > 1:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            chunks = list(pool.map(one, starts))
    else:
        chunks = [one(at) for at in starts]
    hits = [hit for chunk in chunks for hit in chunk]
    if _learns(column, families, learn, window):
        more, notes = _learn_missing(column, np.arange(len(column)), hits, tz, window)
        hits += more
    frame = _assemble(len(column), hits, tz, window, lines.index)
    frame.attrs["time_notes"] = list(notes)
    return frame


def _plan(
    column: pa.Array, tz: str, window: Window, families: Families | None, learn: bool | None
) -> tuple[list[detect.Step], tuple[str, ...]]:
    """The stream's search steps; with layouts learnt for what the families miss (placed
    before the last search for every family anywhere), and the notes on what was learnt."""
    own = families is not None
    wanted = (not own if learn is None else learn) and window is not None
    steps, unmatched = detect.plan_sample(
        column,
        FAMILIES if families is None else tuple(families),
        loose=not own,
        learn=wanted and len(column) > detect.FEW,
    )
    if not unmatched:
        return steps, ()
    learnt = infer.learn(unmatched, _window(window), tz)
    if learnt.families:
        last = max(i for i, step in enumerate(steps) if step.families)
        steps = [*steps[:last], detect.Step(learnt.families), *steps[last:]]
    return steps, learnt.notes


def parse_streams(
    streams: Mapping[str, pd.Series],
    tz: str = "UTC",
    window: Window = None,
    *,
    threads: int = 1,
    families: Families | None = None,
) -> dict[str, pd.DataFrame]:
    """``parse_timestamps`` for several streams (each learns its own formats, and gets the
    same frame as alone), ``threads`` at a time: the regex passes and numpy work release the
    GIL. Consecutive short streams are read together, up to CHUNK lines (or each thread's
    share of all lines) at a time: one search per plan, one conversion per family and one
    frame spare them most of the fixed cost of a call. ``families`` as in ``parse_timestamps``."""
    limit = min(CHUNK, -(-sum(map(len, streams.values())) // max(threads, 1)))
    jobs: list[list[str]] = []
    size = 0  # lines in the last job
    for name, lines in streams.items():
        if not jobs or size + len(lines) > limit:
            jobs.append([])
            size = 0
        jobs[-1].append(name)
        size += len(lines)

    def one(job: list[str]) -> dict[str, pd.DataFrame]:
        if len(job) == 1:
            return {job[0]: parse_timestamps(streams[job[0]], tz, window, families=families)}
        return _batch([streams[name] for name in job], job, tz, window, families)

    if threads <= 1 or len(jobs) <= 1:
        done = [one(job) for job in jobs]
    else:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            done = list(pool.map(one, jobs))
    frames = {name: frame for part in done for name, frame in part.items()}
    return {name: frames[name] for name in streams}


def _batch(
    series: list[pd.Series],
    names: list[str],
    tz: str,
    window: Window,
    families: Families | None = None,
) -> dict[str, pd.DataFrame]:
    """Several short streams read as one: each keeps its own plan (and its DST readings), the
    streams with the same plan are searched together and each family converted once."""
    check_zone(tz)
    columns = [_arrow(lines) for lines in series]
    bounds = np.cumsum([0] + [len(c) for c in columns])
    plans: dict[tuple[detect.Step, ...], list[int]] = {}
    notes = []
    for number, column in enumerate(columns):
        found, learnt = _plan(column, tz, window, families, None)
        plans.setdefault(tuple(found), []).append(number)
        notes.append(learnt)
    groups: list[Group] = []
    for steps, members in plans.items():
        lines = (
            columns[members[0]]
            if len(members) == 1
            else pa.concat_arrays([columns[k] for k in members])
        )
        rows = np.concatenate([np.arange(bounds[k], bounds[k + 1]) for k in members])
        groups.append((lines, rows, list(steps)))
    n = int(bounds[-1])
    hits = _chunk(groups, 0)
    for k, column in enumerate(columns):
        if _learns(column, families, None, window):
            rows = np.arange(bounds[k], bounds[k + 1])
            more, notes[k] = _learn_missing(column, rows, hits, tz, window)
            hits += more
    frame = _assemble(n, hits, tz, window, pd.RangeIndex(n), bounds[1:-1])
    out = {}
    for name, lines, at, end, learnt in zip(
        names, series, bounds[:-1], bounds[1:], notes, strict=True
    ):
        out[name] = frame.iloc[at:end]
        out[name].index = lines.index
        out[name].attrs = {"time_notes": list(learnt)}
    return out


def _chunk(groups: list[Group], at: int) -> list[Hit]:
    """Find the timestamps of each group of lines with the group's steps, then convert each
    family's matches at once. A group's rows are its own (None: from ``at`` on, in order)."""
    by_family: dict[Family | None, list[tuple[np.ndarray, pa.Array]]] = {}
    for lines, rows, steps in groups:
        found, _ = detect.find(lines, steps)
        for hit in found:
            by_family.setdefault(hit.family, []).append(
                (hit.rows + at if rows is None else rows[hit.rows], hit.raw)
            )
    out = []
    for family, pieces in by_family.items():
        rows = pieces[0][0] if len(pieces) == 1 else np.concatenate([p[0] for p in pieces])
        raw = pieces[0][1] if len(pieces) == 1 else pa.concat_arrays([p[1] for p in pieces])
        got = loose(raw) if family is None else convert(family, raw)
        out.append((rows, raw, got))
    return out


def _assemble(
    n: int,
    hits: list[Hit],
    tz: str,
    window: Window,
    index: pd.Index,
    starts: np.ndarray | None = None,
) -> pd.DataFrame:
    """The frame of ``n`` rows from what each family found and converted."""
    parts = empty_parts(n)
    for rows, _, got in hits:
        for key in PARTS:
            parts[key][rows] = got[key]
    utc, flags, ok = _resolve(parts, tz, window, starts)
    return _frame(utc, flags, ok, parts["zoned"], [(h[0], h[1]) for h in hits], index)


def _resolve(
    parts: Parts, tz: str, window: Window, starts: np.ndarray | None
) -> tuple[np.ndarray, ...]:
    place_clocks(parts, tz, None if window is None else _window(window), starts)
    yearless = parts["ok"] & (parts["year"] == -1)
    if yearless.any():
        if window is None:
            parts["ok"] = parts["ok"] & ~yearless
        else:
            rows = np.flatnonzero(yearless)
            parts["year"][rows] = infer_years(
                parts["month"][rows], parts["day"][rows], parts["tod"][rows], _window(window)
            )
    local, ok = local_ns(parts)
    zoned = parts["zoned"] & ok
    utc, flags = to_utc(apply_zone(local, parts["minutes"], zoned), ok & ~zoned, tz, starts)
    ok &= utc != NAT
    return np.where(ok, utc, NAT), flags, ok


def _learns(
    column: pa.Array, families: Families | None, learn: bool | None, window: Window
) -> bool:
    """Whether a stream of a few lines learns layouts after its search (a longer one learns
    from its sample, before: see ``_plan``)."""
    wanted = (families is None if learn is None else learn) and window is not None
    return wanted and len(column) <= detect.FEW


def _learn_missing(
    column: pa.Array, rows: np.ndarray, hits: list[Hit], tz: str, window: Window
) -> tuple[list[Hit], tuple[str, ...]]:
    """For a stream of a few lines (``rows`` of the frame): layouts learnt from its lines that
    no family read (and that look time-like, QUICK), and what they read of them. Searching the
    few lines first spares the streams every family reads a second pass."""
    covered = np.zeros(len(column), dtype=bool)
    first, last = (int(rows[0]), int(rows[-1])) if len(rows) else (0, -1)
    for hit_rows, _, _ in hits:
        mine = hit_rows[(hit_rows >= first) & (hit_rows <= last)]
        covered[mine - first] = True
    missing = np.flatnonzero(~covered & column.is_valid().to_numpy(zero_copy_only=False))
    quick = compiled(QUICK)
    texts = [t for t in column.take(pa.array(missing)).to_pylist() if t and quick.search(t)]
    if not texts:
        return [], ()
    learnt = infer.learn(texts, _window(window), tz)
    if not learnt.families:
        return [], learnt.notes
    group = (column.take(pa.array(missing)), rows[missing], [detect.Step(learnt.families)])
    return _chunk([group], 0), learnt.notes


def _frame(
    utc: np.ndarray,
    flags: np.ndarray,
    ok: np.ndarray,
    zoned: np.ndarray,
    pieces: list[tuple[np.ndarray, pa.Array]],
    index: pd.Index,
) -> pd.DataFrame:
    dst_codes = np.maximum(flags.astype(np.int64) - 1, 0)
    return pd.DataFrame(
        {
            "time": utc_times(utc),
            "time_raw": _raw(pieces, ok),
            "quality": labels(np.where(zoned, 0, 1), ok, QUALITIES),
            "dst": labels(dst_codes, ok & (flags > 0), (FLAGS[1], FLAGS[2])),
        },
        index=index,
        copy=False,
    )


def _raw(
    pieces: list[tuple[np.ndarray, pa.Array]], ok: np.ndarray
) -> pd.api.extensions.ExtensionArray:
    """The text each row's family matched, in row order (NA where no time came of it)."""
    n = len(ok)
    rows = np.concatenate([p[0] for p in pieces] + [np.zeros(0, dtype=np.int64)])
    covered = np.zeros(n, dtype=bool)
    covered[rows] = True
    missing = np.flatnonzero(~covered)
    arrays = [p[1].cast(pa.large_string()) for p in pieces]
    arrays.append(pa.nulls(len(missing), pa.large_string()))
    order = np.empty(n, dtype=np.int64)
    order[np.concatenate([rows, missing])] = np.arange(n)
    return strings(pa.concat_arrays(arrays).take(pa.array(order, mask=~ok)))


def _arrow(lines: pd.Series) -> pa.Array:
    column = pa.array(lines, from_pandas=True)
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if not pa.types.is_large_string(column.type):
        column = column.cast(pa.large_string())
    return column


def _window(window: Window) -> tuple[pd.Timestamp, pd.Timestamp]:
    since, until = (window.since, window.until) if hasattr(window, "since") else window
    return pd.Timestamp(since).tz_convert("UTC"), pd.Timestamp(until).tz_convert("UTC")


def parse_iso(raw: pd.Series, tz: str = "UTC") -> pd.DataFrame:
    """Parse timestamp strings (ISO 8601 / RFC 3339 and every other family) to UTC: columns
    ``time``, ``quality`` and ``dst`` as in ``parse_timestamps``."""
    return parse_timestamps(raw.astype("string"), tz)[["time", "quality", "dst"]]


def extract_iso(lines: pd.Series) -> pd.Series:
    """The first ISO 8601 timestamp in each line, exactly as written (NA where there is none)."""
    found = lines.astype("string").str.extract(f"(?P<raw>{ISO_PATTERN})")
    return found["raw"]


def fill_inferred(
    time: pd.Series, quality: pd.Series, fallback: pd.Timestamp, previous: Any = None
) -> tuple[pd.Series, pd.Series]:
    """Give rows without a time their previous row's time (the first rows: ``previous``, the
    time of the line before them when a stream is read in pieces; else the next's, else
    ``fallback``) and mark them ``inferred``."""
    missing = time.isna()
    if not missing.any():
        return time, quality
    filled = time.ffill()
    if previous is not None and pd.isna(filled.iloc[0]):
        filled = filled.fillna(pd.Timestamp(previous).tz_convert("UTC"))
    filled = filled.bfill().fillna(fallback)
    marked = quality.copy()
    marked[missing] = "inferred"
    return filled, marked

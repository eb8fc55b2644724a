"""Long Prometheus windows in pieces: choosing a step, planning requests, stitching answers.

Range queries are planned on a step-aligned grid: every evaluation time is a whole multiple
of the step in unix seconds (as Grafana does), so chunk edges are whole seconds and the
integer-second ``start``/``end`` of our range queries are exact. Consecutive
chunks are ``[s, s + (n-1)·step]``, ``[s + n·step, ...]``: no instant twice, none missing,
and no request above ``max_points`` points per series (Prometheus refuses more than 11,000).

Raw samples (``metric[range]`` at an instant) are planned as back-to-back ranges that overlap
by one millisecond, because Prometheus 2 includes a range's left edge and Prometheus 3 does
not; stitching drops the duplicate.

Answers are read as columns (`collector.prometheus.matrix`). `Stitcher` merges them as they
arrive: each chunk gives `Piece`s, the new samples of each series, which remember where in
which raw file they came from, so every sample's and event's ``ref`` points into the raw file
as received. A range query is processed piece by piece (`collector.prometheus.streaming`);
`stitch` keeps all pieces, for raw samples whose parsers read whole series (``ALERTS``, gaps,
node clocks), and can render them as one ``query_range`` document.
"""

from __future__ import annotations

import bisect
import dataclasses
import itertools
import json
import math
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa

from incident_timeline.collector.prometheus.matrix import Series, numbered, series_of
from incident_timeline.timeline.metrics import DEFAULT_STEP_SECONDS

NICE_STEPS = (15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)


def choose_step(
    duration: timedelta, *, target_points: int = 1000, minimum: int = DEFAULT_STEP_SECONDS
) -> int:
    """A round step in seconds giving at most about ``target_points`` points, never below
    ``minimum``: 90 min -> 15 s, 1 d -> 2 min, 30 d -> 1 h."""
    wanted = max(minimum, duration.total_seconds() / target_points)
    for step in NICE_STEPS:
        if step >= wanted:
            return step
    return int(-(-wanted // 86400) * 86400)


def range_chunks(
    since: datetime, until: datetime, step: int, max_points: int
) -> list[tuple[datetime, datetime]]:
    """Step-aligned ``(start, end)`` pairs covering the evaluation times ``t`` with
    ``since <= t < until``, each request holding at most ``max_points`` points per series."""
    if step < 1 or max_points < 1:
        raise ValueError("step and max_points must be positive")
    unit = step * 1_000_000
    first = -(-_micros(since) // unit) * unit
    last = (-(-_micros(until) // unit) - 1) * unit
    chunks = []
    start = first
    while start <= last:
        end = min(last, start + (max_points - 1) * unit)
        chunks.append((_from_micros(start), _from_micros(end)))
        start = end + unit
    return chunks


def raw_chunks(since: datetime, until: datetime, span: timedelta) -> list[tuple[datetime, str]]:
    """``(at, range)`` pairs whose range selectors ``metric[range]`` evaluated at ``at``
    cover ``[since, until]`` in pieces of at most ``span`` (plus a 1 ms overlap)."""
    chunks = []
    start = since
    while start < until:
        end = min(until, start + span)
        millis = (_micros(end) - _micros(start)) // 1000 + 1
        chunks.append((end, f"{millis}ms"))
        start = end
    return chunks


@dataclasses.dataclass(frozen=True)
class Chunk:
    """One answer as received: its bundle-relative raw path, its envelope (status, warnings)
    and its series as columns (from the envelope's values when not given)."""

    ref: str
    data: dict[str, Any]
    columns: list[Series] | None = None

    @property
    def series(self) -> list[Series]:
        """The answer's series, in the order the server sent them."""
        if self.columns is not None:
            return self.columns
        return series_of(self.data, lenient=True)


@dataclasses.dataclass(frozen=True)
class Piece:
    """The samples one chunk adds to merged series ``key``: they are values ``offset`` on
    of series ``index`` in raw file ``ref``."""

    key: str
    metric: dict[str, str]
    times: np.ndarray
    values: np.ndarray
    ref: str
    index: int
    offset: int

    @property
    def values_ref(self) -> str:
        """The raw evidence of the piece's samples: ``ref#/data/result/i/values``, the array
        holding them from position ``offset`` on."""
        return f"{self.ref}#/data/result/{self.index}/values"

    def refs(self) -> pa.Array:
        """Each sample's raw evidence, ``ref#/data/result/i/values/j`` (built in Arrow)."""
        return numbered(self.values_ref + "/", self.offset, len(self.times))


class Stitcher:
    """Merges chunk answers in time order as they arrive, keeping samples with
    ``since <= t < until`` once: a sample at or before a series' last kept time (the raw
    chunks' 1 ms overlap) is dropped."""

    def __init__(self, since: datetime, until: datetime) -> None:
        self.lo = -(-_micros(since) // 1000)  # milliseconds, inclusive
        self.hi = _micros(until) / 1000  # exclusive
        self.last: dict[str, int] = {}
        self.metrics: dict[str, dict[str, str]] = {}
        self.warnings: list[str] = []

    def add(self, chunk: Chunk) -> list[Piece]:
        """The new samples of ``chunk``, a piece per series that has any."""
        for text in chunk.data.get("warnings") or []:
            if text not in self.warnings:
                self.warnings.append(text)
        pieces = []
        for index, series in enumerate(chunk.series):
            key = json.dumps(series.metric, sort_keys=True)
            self.metrics.setdefault(key, series.metric)
            inside = (series.times >= self.lo) & (series.times < self.hi)
            new = inside & (series.times > self.last.get(key, -(2**62)))
            if not new.any():
                continue
            offset = int(np.argmax(new))
            keep = np.flatnonzero(inside[offset:]) + offset
            times = series.times[keep]
            self.last[key] = int(times[-1])
            piece = Piece(key, series.metric, times, series.values[keep], chunk.ref, index, offset)
            pieces.append(piece)
        return pieces


@dataclasses.dataclass
class Stitched:
    """Chunks merged: ``pieces[i]`` are the pieces of merged series ``i`` (series sorted by
    their labels), in time order; ``warnings`` the chunks' warnings, once each."""

    metrics: list[dict[str, str]]
    pieces: list[list[Piece]]
    warnings: list[str]

    def __post_init__(self) -> None:
        self._firsts = [
            list(itertools.accumulate((len(p.times) for p in s[:-1]), initial=0))
            for s in self.pieces
        ]

    @property
    def document(self) -> dict[str, Any]:
        """The merged answer as one ``query_range`` document (built on each use: for the small
        raw answers whose parsers read documents, such as ``ALERTS``)."""
        result = [
            {"metric": metric, "values": _pairs(pieces)}
            for metric, pieces in zip(self.metrics, self.pieces, strict=True)
        ]
        document: dict[str, Any] = {
            "status": "success",
            "data": {"resultType": "matrix", "result": result},
        }
        if self.warnings:
            document["warnings"] = list(self.warnings)
        return document

    @property
    def empty(self) -> bool:
        """Whether no series came back."""
        return not self.metrics

    def ref(self, pointer: str) -> str:
        """The raw evidence for ``/data/result/i[/values/j]`` of the merged document."""
        parts = pointer.strip("/").split("/")
        series = int(parts[2])
        pieces = self.pieces[series]
        if len(parts) < 5:
            return f"{pieces[0].ref}#/data/result/{pieces[0].index}"
        value = int(parts[4])
        at = bisect.bisect_right(self._firsts[series], value) - 1
        piece, first = pieces[at], self._firsts[series][at]
        return f"{piece.ref}#/data/result/{piece.index}/values/{value - first + piece.offset}"


def stitch(chunks: Iterable[Chunk], since: datetime, until: datetime) -> Stitched:
    """Merge chunk answers in time order, keeping samples with ``since <= t < until`` once
    (every series seen is kept, with no pieces if none of its samples is inside)."""
    stitcher = Stitcher(since, until)
    merged: dict[str, list[Piece]] = {}
    for chunk in chunks:
        for piece in stitcher.add(chunk):
            merged.setdefault(piece.key, []).append(piece)
    order = sorted(stitcher.metrics)
    return Stitched(
        [stitcher.metrics[k] for k in order], [merged.get(k, []) for k in order], stitcher.warnings
    )


def _pairs(pieces: list[Piece]) -> list[list[Any]]:
    """``[seconds, "value"]`` pairs as Prometheus writes them (whole seconds as integers)."""
    pairs = []
    for piece in pieces:
        for millis, value in zip(piece.times.tolist(), piece.values.tolist(), strict=True):
            seconds = millis // 1000 if millis % 1000 == 0 else millis / 1000
            pairs.append([seconds, format_value(value)])
    return pairs


def format_value(value: float) -> str:
    """A sample value as Prometheus prints it (``strconv.FormatFloat(v, 'f', -1, 64)``:
    ``NaN``, ``+Inf``, ``-Inf``, integers without a point); round-trips through float()."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    return repr(value)


def _micros(value: datetime) -> int:
    return (value - _EPOCH) // _US


def _from_micros(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)

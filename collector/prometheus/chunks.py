"""Long Prometheus windows in pieces: choosing a step, planning requests, stitching answers.

Range queries are planned on a step-aligned grid: every evaluation time is a whole multiple
of the step in unix seconds (as Grafana does), so chunk edges are whole seconds and the
integer-second ``start``/``end`` that prometheus-api-client sends are exact. Consecutive
chunks are ``[s, s + (n-1)·step]``, ``[s + n·step, ...]``: no instant twice, none missing,
and no request above ``max_points`` points per series (Prometheus refuses more than 11,000).

Raw samples (``metric[range]`` at an instant) are planned as back-to-back ranges that overlap
by one millisecond, because Prometheus 2 includes a range's left edge and Prometheus 3 does
not; stitching drops the duplicate.

`stitch` merges chunk answers into one ``query_range``-shaped document (so the parsers in
`collector.promjson` see one series per label set) and remembers where each merged sample came
from, so every event's ``ref`` points into the raw file as received.
"""

from __future__ import annotations

import bisect
import dataclasses
import json
from datetime import UTC, datetime, timedelta
from typing import Any

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
    """One answer as received: its bundle-relative raw path and its parsed JSON envelope."""

    ref: str
    data: dict[str, Any]


@dataclasses.dataclass
class Stitched:
    """Chunks merged into one matrix ``document``; ``segments[i]`` lists, for merged series
    ``i``, ``(first merged index, raw ref, series index in that chunk, value offset)``."""

    document: dict[str, Any]
    segments: list[list[tuple[int, str, int, int]]]

    def ref(self, pointer: str) -> str:
        """The raw evidence for ``/data/result/i[/values/j]`` of the merged document."""
        parts = pointer.strip("/").split("/")
        series = int(parts[2])
        segments = self.segments[series]
        if len(parts) < 5:
            _, ref, index, _ = segments[0]
            return f"{ref}#/data/result/{index}"
        value = int(parts[4])
        at = bisect.bisect_right([s[0] for s in segments], value) - 1
        first, ref, index, offset = segments[at]
        return f"{ref}#/data/result/{index}/values/{value - first + offset}"


def stitch(chunks: list[Chunk], since: datetime, until: datetime) -> Stitched:
    """Merge chunk answers in time order, keeping samples with ``since <= t < until`` once."""
    lo, hi = _micros(since) / 1e6, _micros(until) / 1e6
    merged: dict[str, tuple[dict[str, str], list[Any], list[tuple[int, str, int, int]]]] = {}
    warnings: list[str] = []
    for chunk in chunks:
        for text in chunk.data.get("warnings") or []:
            if text not in warnings:
                warnings.append(text)
        for index, series in enumerate((chunk.data.get("data") or {}).get("result") or []):
            metric = series.get("metric") or {}
            key = json.dumps(metric, sort_keys=True)
            _, values, segments = merged.setdefault(key, (metric, [], []))
            last = float(values[-1][0]) if values else float("-inf")
            for offset, pair in enumerate(series.get("values") or []):
                when = float(pair[0])
                if when > last and lo <= when < hi:
                    segments.append((len(values), chunk.ref, index, offset))
                    kept = [p for p in series["values"][offset:] if lo <= float(p[0]) < hi]
                    values.extend(kept)
                    break
    order = sorted(merged)
    result = [{"metric": merged[k][0], "values": merged[k][1]} for k in order]
    document: dict[str, Any] = {
        "status": "success",
        "data": {"resultType": "matrix", "result": result},
    }
    if warnings:
        document["warnings"] = warnings
    return Stitched(document, [merged[k][2] for k in order])


def _micros(value: datetime) -> int:
    return (value - _EPOCH) // _US


def _from_micros(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)

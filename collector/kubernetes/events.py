"""Kubernetes events from both APIs, expanded to one row per known occurrence.

``events.k8s.io/v1`` and core ``v1`` serve the same stored objects with renamed fields
(``kubernetes/api:events/v1/types.go``: involvedObject→regarding, message→note, and the old
count/first/last as ``deprecated*``). Both are listed; an event seen in both (same
``metadata.uid``) is kept once, from events.k8s.io. An event that happened several times
(``count`` or ``series.count``) keeps only its first and last times: it becomes two rows, the
first occurrence and the last, each saying how many there were.

The API server keeps events for ``--event-ttl`` (1 h by default,
``kubernetes/kubernetes:pkg/controlplane/apiserver/options/options.go``): a window that starts
before the oldest event seen may have lost some; that becomes a ``gap`` event and a note.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import datetime
from typing import Any

import pandas as pd

from incident_timeline.collector.formats import Context, row, rows_to_events
from incident_timeline.collector.kubernetes.formats import event_row
from incident_timeline.collector.kubernetes.rows import rows_frame
from incident_timeline.timeline import schema
from incident_timeline.timeline.timefmt import iso_z
from incident_timeline.timeline.timestamps import parse_iso

_SCALED = re.compile(
    r"Scaled (?P<dir>up|down) replica set (?P<rs>\S+?)(?: from (?P<from>\d+))? to (?P<to>\d+)"
)


@dataclasses.dataclass(frozen=True)
class Scaling:
    """A ScalingReplicaSet occurrence: when, up or down, which ReplicaSet, to how many."""

    time: pd.Timestamp
    up: bool
    replicaset: str
    to: int


def expanded_rows(item: dict[str, Any], ref: tuple[str, str]) -> list[dict[str, Any]]:
    """The event's first occurrence, and its last when it happened more than once."""
    ctx = Context(ref=ref[0], stream="")
    first: dict[str, Any] = dict(event_row(0, item, ctx))
    first["pointer"], first["file"] = ref[1], ref[0]
    count = int(first["labels"]["count"] or 1)
    series = item.get("series") or {}
    last_raw = (
        series.get("lastObservedTime")
        or item.get("lastTimestamp")
        or item.get("deprecatedLastTimestamp")
    )
    base = first["summary"].split(" (×")[0]
    if count <= 1 or not last_raw or last_raw == first["time_raw"]:
        first["summary"] = base
        return [first]
    first["summary"] = f"{base} (first of ×{count})"
    first["labels"] = {**first["labels"], "occurrence": "first"}
    last = dict(first)
    last.update(
        time_raw=last_raw,
        summary=f"{base} (×{count} since {_clock(str(first['time_raw']))}, last)",
        labels={**first["labels"], "occurrence": "last"},
    )
    return [first, last]


def _clock(stamp: str) -> str:
    """``14:41:00`` of an RFC 3339 stamp (the day is the row's own)."""
    found = re.search(r"T(\d{2}:\d{2}:\d{2})", stamp)
    return found.group(1) if found else stamp


def event_frame(
    items: list[tuple[dict[str, Any], tuple[str, str]]], since: datetime, until: datetime
) -> tuple[pd.DataFrame, dict[str, int], pd.Timestamp | None]:
    """Events in ``[since, until)``, counts, and the oldest occurrence seen (any time)."""
    rows = [r for item, ref in items for r in expanded_rows(item, ref)]
    if not rows:
        return schema.empty_events(), {"k8s_events": 0, "k8s_events_outside_window": 0}, None
    events = rows_frame(rows)
    oldest = events["time"].min()
    inside = (events["time"] >= pd.Timestamp(since)) & (events["time"] < pd.Timestamp(until))
    counts = {
        "k8s_events": int(inside.sum()),
        "k8s_events_outside_window": int((~inside).sum()),
    }
    return events.loc[inside.to_numpy()].reset_index(drop=True), counts, oldest


def unique(
    lists: list[list[tuple[dict[str, Any], tuple[str, str]]]],
) -> list[tuple[dict[str, Any], tuple[str, str]]]:
    """Items of several lists, each ``metadata.uid`` once (the first list wins)."""
    seen: set[str] = set()
    out = []
    for items in lists:
        for item, ref in items:
            uid = (item.get("metadata") or {}).get("uid") or id(item)
            if uid not in seen:
                seen.add(str(uid))
                out.append((item, ref))
    return out


def scalings(items: list[tuple[dict[str, Any], tuple[str, str]]]) -> list[Scaling]:
    """Every ScalingReplicaSet occurrence (first and last of repeated ones), by time."""
    found = []
    for item, ref in items:
        if item.get("reason") != "ScalingReplicaSet":
            continue
        match = _SCALED.search(item.get("message") or item.get("note") or "")
        if not match:
            continue
        for r in expanded_rows(item, ref):
            stamp = parse_iso(pd.Series([r["time_raw"]], dtype="string"))["time"].iloc[0]
            if stamp is not pd.NaT and stamp == stamp:
                found.append(Scaling(stamp, match["dir"] == "up", match["rs"], int(match["to"])))
    return sorted(found, key=lambda s: (s.time, s.replicaset))


def ttl_gap(oldest: pd.Timestamp | None, since: datetime, until: datetime) -> pd.DataFrame:
    """A ``gap`` event when the window starts before the oldest event the server still has."""
    start = pd.Timestamp(since)
    if oldest is not None and oldest <= start:
        return schema.empty_events()
    end = min(oldest, pd.Timestamp(until)) if oldest is not None else pd.Timestamp(until)
    seen = (
        f"the oldest event seen is at {iso_z(oldest.to_pydatetime())}"
        if oldest is not None
        else "no event was seen"
    )
    ctx = Context(ref="manifest.json", stream="kubernetes/events")
    rows = [
        row(
            ctx,
            time_raw=iso_z(since),
            source="kubernetes",
            kind="gap",
            severity="warning",
            summary=(
                f"Kubernetes events before {iso_z(end.to_pydatetime())} may be missing: "
                f"{seen}; the API server keeps events about 1 h by default (--event-ttl)"
            ),
            pointer="/sources/kubernetes",
            labels={"check": "event_ttl", "end": iso_z(end.to_pydatetime())},
        )
    ]
    return rows_to_events(rows, ctx)

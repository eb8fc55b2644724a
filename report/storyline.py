"""The postmortem's timeline table: the key events told as a story, at most `MAX_ROWS` rows.

Key events (timeline.keyevents) already give one row per error signature with its count and
one per rollout. Here each change becomes one row saying what changed (a deploy log and its
Kubernetes rollout are one change), integrity findings leave the table for their own section,
people's curation is applied (notes in, pinned rows kept, hidden rows out) and, when the table
is still too long, the least telling rows go first: repeated warnings, then errors, then
notifications; never a page, a change, an alert or a person's note.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection
from typing import Any

import pandas as pd

from incident_timeline.report.changelog import Change
from incident_timeline.report.facts import hms

MAX_ROWS = 40
INTEGRITY_KINDS: tuple[str, ...] = ("clock", "gap")
HUMAN_SOURCE = "human"
_RANK: dict[str, int] = {
    "page_trigger": 0,
    "page_ack": 0,
    "page_resolve": 0,
    "page_escalate": 0,
    "alert_firing": 1,
    "alert_pending": 1,
    "alert_resolved": 1,
    "metric_threshold": 1,
    "note": 1,
    "alert_notify": 3,
    "page_notify": 3,
    "log": 4,
    "k8s_event": 5,
}


@dataclasses.dataclass(frozen=True)
class Row:
    """One timeline row: time, what happened, where from, who; human rows are marked."""

    time: pd.Timestamp
    time_text: str
    event: str
    source: str
    actor: str
    kind: str
    ref: str
    human: bool = False
    pinned: bool = False


@dataclasses.dataclass(frozen=True)
class Storyline:
    """The table's rows, the date they share (None if several) and what was left out."""

    rows: list[Row]
    date: str | None
    omitted: int
    integrity: int
    total: int


def storyline(
    events: pd.DataFrame,
    key: pd.DataFrame,
    found: list[Change],
    *,
    pins: Collection[str] = (),
    hides: Collection[str] = (),
    max_rows: int = MAX_ROWS,
    total: int | None = None,
) -> Storyline:
    """Build the table from all ``events``, their ``key`` events and the ``found`` changes;
    ``total`` is how many events there are when ``events`` holds only some of them."""
    integrity = int(events["kind"].isin(INTEGRITY_KINDS).sum())
    keep = ~key["kind"].isin((*INTEGRITY_KINDS, "deploy", "silence")) & ~key["ref"].isin(hides)
    rows = [_row(r, r["ref"] in pins) for r in key.loc[keep].to_dict("records")]
    member_refs = {c.ref: c for c in found}
    rows += [
        Row(c.start, "", c.text, c.source, c.actor or "", c.kind, c.ref, pinned=c.ref in pins)
        for c in member_refs.values()
        if c.ref not in hides
    ]
    shown = {r.ref for r in rows}
    extra = events.loc[events["ref"].isin(set(pins) - shown - set(hides))]
    rows += [_row(r, True) for r in extra.to_dict("records")]
    rows.sort(key=lambda r: (r.time, r.kind != "deploy"))
    rows, omitted = _trim(rows, max_rows)
    dates = {r.time.strftime("%Y-%m-%d") for r in rows}
    date = dates.pop() if len(dates) == 1 else None
    stamp = hms if date else (lambda t: str(t.strftime("%Y-%m-%d %H:%M:%S")))
    rows = [dataclasses.replace(r, time_text=stamp(r.time)) for r in rows]
    return Storyline(rows, date, omitted, integrity, len(events) if total is None else total)


def _row(r: dict[str, Any], pinned: bool) -> Row:
    actor, source = r["actor"], str(r["source"])
    return Row(
        time=r["time"],
        time_text="",
        event=str(r["summary"]),
        source=source,
        actor="" if pd.isna(actor) else str(actor),
        kind=str(r["kind"]),
        ref=str(r["ref"]),
        human=source == HUMAN_SOURCE,
        pinned=pinned,
    )


def _trim(rows: list[Row], limit: int) -> tuple[list[Row], int]:
    """Drop the least telling rows (highest rank, latest first) until ``limit`` remain."""
    if len(rows) <= limit:
        return rows, 0
    order = sorted(
        range(len(rows)),
        key=lambda i: (_rank(rows[i]), rows[i].time),
        reverse=True,
    )
    drop = set(order[: len(rows) - limit])
    return [r for i, r in enumerate(rows) if i not in drop], len(drop)


def _rank(row: Row) -> int:
    if row.human or row.pinned or row.kind in ("deploy", "rollback", "scale", "silence"):
        return -1
    return _RANK.get(row.kind, 2)

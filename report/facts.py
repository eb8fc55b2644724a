"""The small values a postmortem is made of: a moment (one event the draft refers to) and an
interval between two moments, each formatted once for people."""

from __future__ import annotations

import dataclasses
from typing import Any

import pandas as pd

from incident_timeline.timeline.changes import label_dict
from incident_timeline.timeline.timefmt import human_duration

ERROR_SEVERITIES = ("error", "critical")


__all__ = ["Interval", "Moment", "first", "full", "hms", "human_duration", "interval", "labels"]


def hms(stamp: pd.Timestamp) -> str:
    """``14:02:05``: the time of day in UTC, to the second (a timeline column never shows a
    fraction; timefmt.hms does when the instant has one)."""
    return str(stamp.strftime("%H:%M:%S"))


def full(stamp: pd.Timestamp) -> str:
    """``2026-02-17 14:02:05 UTC``."""
    return f"{stamp.strftime('%Y-%m-%d %H:%M:%S')} UTC"


@dataclasses.dataclass(frozen=True)
class Moment:
    """One event the draft refers to: when, what, where from, who, and its evidence ref."""

    time: pd.Timestamp
    summary: str
    source: str
    actor: str | None = None
    ref: str = ""
    kind: str = ""
    labels: dict[str, str] = dataclasses.field(default_factory=dict, compare=False)

    @property
    def hms(self) -> str:
        """The time as ``HH:MM:SS`` (UTC)."""
        return hms(self.time)

    @property
    def when(self) -> str:
        """The time as ``YYYY-MM-DD HH:MM:SS UTC``."""
        return full(self.time)


@dataclasses.dataclass(frozen=True)
class Interval:
    """A duration measured between two named moments (``Time to acknowledge``: page → ack)."""

    label: str
    start_name: str
    start: Moment
    end_name: str
    end: Moment

    @property
    def delta(self) -> pd.Timedelta:
        """``end - start``."""
        return pd.Timedelta(self.end.time - self.start.time)

    @property
    def negative(self) -> bool:
        """True when the end came first: a clock problem or an unusual order of events."""
        return bool(self.delta < pd.Timedelta(0))

    @property
    def duration(self) -> str:
        """The duration for people; a negative one starts with ``-``."""
        return human_duration(self.delta)

    @property
    def text(self) -> str:
        """``3 min 14 s (page 14:13:33 → acknowledged 14:16:47)``, saying when order is odd."""
        between = f"{self.start_name} {self.start.hms} → {self.end_name} {self.end.hms}"
        if self.negative:
            return (
                f"{self.duration} ({between}): the {self.end_name} came "
                f"{human_duration(-self.delta)} before the {self.start_name}"
            )
        return f"{self.duration} ({between})"


def interval(
    label: str, start_name: str, start: Moment | None, end_name: str, end: Moment | None
) -> Interval | None:
    """The interval between two moments, or None when either is unknown."""
    if start is None or end is None:
        return None
    return Interval(label, start_name, start, end_name, end)


def moments(rows: pd.DataFrame, limit: int | None = None) -> list[Moment]:
    """The rows as Moments in time order (input order on ties), at most ``limit``."""
    ordered = rows.sort_values("time", kind="stable")
    if limit is not None:
        ordered = ordered.head(limit)
    return [
        Moment(
            time=row.time,
            summary=str(row.summary),
            source=str(row.source),
            actor=None if pd.isna(row.actor) else str(row.actor),
            ref=str(row.ref),
            kind=str(row.kind),
            labels=labels(row.labels),
        )
        for row in ordered.itertuples(index=False)
    ]


def first(events: pd.DataFrame, mask: Any) -> Moment | None:
    """The earliest event where ``mask`` holds, or None."""
    found = moments(events.loc[mask], limit=1)
    return found[0] if found else None


labels = label_dict  # an event's labels JSON as a dict of strings

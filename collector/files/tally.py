"""What a file's events are counted for as they are written (`Tally`): the warnings that most
of its lines have no readable time, or that all of its events fall outside the window."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from incident_timeline.collector.bundle import SourceWriter
from incident_timeline.timeline.columns import arrow_strings
from incident_timeline.timeline.timefmt import iso_z
from incident_timeline.timeline.window import Window


@dataclasses.dataclass
class Tally:
    """A file's events counted as they are written: how many, how many with an inferred
    time, how many outside the window, and the first and last time read from a line."""

    total: int = 0
    inferred: int = 0
    continued: int = 0  # of the inferred: indented lines after a timed one
    outside: int = 0
    first: pd.Timestamp | None = None
    last: pd.Timestamp | None = None

    def add(self, events: pd.DataFrame, since: pd.Timestamp, until: pd.Timestamp) -> None:
        """Count ``events`` (one piece of the file, or all of it)."""
        times = events["time"]
        guessed = (events["time_quality"] == "inferred").to_numpy()
        self.total += len(times)
        self.inferred += int(guessed.sum())
        self.continued += _continued(events["message"], guessed, self.first is not None)
        self.outside += int(((times < since) | (times >= until)).sum())
        read = times[~guessed]
        if len(read):
            low, high = read.min(), read.max()
            self.first = low if self.first is None else min(self.first, low)
            self.last = high if self.last is None else max(self.last, high)

    def say(self, rel: str, window: Window, out: SourceWriter, ref: str) -> None:
        """Say so when most lines have no readable time, or when every event is outside the
        window (saying when its events are: a naive --since read in the wrong zone, or the
        wrong file, are the usual causes)."""
        total, inferred, continued = self.total, self.inferred, self.continued
        if not total:
            return
        # Lines that continue a record (`_continued`) have no time of their own by nature:
        # only the lines that open one are weighed.
        if (inferred - continued) * 2 > total - continued:
            also = f" ({continued:,} of them continue the line above)" if continued else ""
            out.warn(
                f"{rel}: no timestamp found in {inferred:,} of {total:,} lines{also}; their "
                "times are inferred (set format, or timezone for naive times)",
                partial=True,
                kind="no_timestamps",
                ref=ref,
            )
        if self.outside == total:
            when = (
                f"; they run {iso_z(self.first)} .. {iso_z(self.last)}"
                if self.first is not None and self.last is not None
                else ""
            )
            naive = (
                f"; the window's naive times were read as {window.assumed_tz} (if that zone "
                "is wrong, pass --tz or write a zone)"
                if window.assumed_tz
                else ""
            )
            out.warn(
                f"{rel}: all {total:,} events fall outside the window{when}{naive}",
                partial=True,
                ref=ref,
            )


def _continued(message: pd.Series, guessed: np.ndarray, timed_before: bool) -> int:
    r"""How many rows without a time of their own continue the record above: they open with
    whitespace and come after a timed row (in this piece, or before it if ``timed_before``).
    Stack frames (``\tat com.example…``, ``  File "app.py"…``) and a multi-line SQL
    statement in a PostgreSQL log are such lines; log shippers join them to the line above
    by the same rule (Filebeat's documented ``multiline.pattern: '^[[:space:]]'``,
    ``match: after``)."""
    rows = np.flatnonzero(guessed)
    if not len(rows):
        return 0
    if not timed_before:
        timed = np.flatnonzero(~guessed)
        if not len(timed):
            return 0
        rows = rows[rows > timed[0]]
    if not len(rows):
        return 0
    text = arrow_strings(message.iloc[rows]).fill_null("")
    return int(pc.sum(pc.match_substring_regex(text, r"^\s")).as_py() or 0)

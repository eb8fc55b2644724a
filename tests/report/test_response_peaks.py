"""Breach peaks read from each series' own samples (report.response.with_peaks), and a
series' many breaches as one line (runs)."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd

from incident_timeline.report.facts import Moment, human_duration
from incident_timeline.report.response import Breach, BreachRun, runs, with_peaks

T0 = pd.Timestamp("2026-02-17 14:00", tz="UTC")


def _at(minutes: float) -> pd.Timestamp:
    return T0 + pd.Timedelta(minutes=minutes)


def _breach(pod: str, start: float, end: float | None) -> Breach:
    labels = {"job": "api", "pod": pod, "state": "above", "threshold": "> 1", "value": "2"}
    moment = Moment(_at(start), "crossed", "prometheus", labels=labels)
    close = None if end is None else Moment(_at(end), "back", "prometheus", labels=labels)
    return Breach("latency", f"pod={pod}", moment, close, "2")


def _samples() -> pd.DataFrame:
    """Two series interleaved minute by minute; pod b's labels are written two ways (keys in
    another order, as another writer may), and some values are missing."""
    rows = []
    for minute in range(60):
        rows.append((_at(minute), json.dumps({"job": "api", "pod": "a"}), float(minute % 17)))
        text = {"pod": "b", "job": "api"} if minute % 2 else {"job": "api", "pod": "b"}
        value = np.nan if minute % 5 == 0 else 100.0 - minute
        rows.append((_at(minute), json.dumps(text), value))
    return pd.DataFrame(rows, columns=["time", "labels", "value"])


def test_each_breach_peaks_on_its_own_series_and_span() -> None:
    breaches = [
        _breach("a", 0, 20),  # 16 at minute 16
        _breach("a", 20, 40),  # 16 again (minute 33): the first of equal peaks is 14:33
        _breach("b", 0, 30),  # falling from 99 (minute 0 is missing): 99 at 14:01
        _breach("b", 41, None),  # open: up to the last sample; 59 at 14:41
        _breach("c", 0, 10),  # no samples of its own: the crossing value stays
    ]
    breaches += [_breach("a", 0, 59), _breach("b", 0, 59)]
    samples = _samples()
    # The same pods under another job, higher: another series, not theirs.
    other = samples.assign(
        labels=samples["labels"].str.replace('"api"', '"batch"'), value=samples["value"] + 1000
    )
    got = with_peaks(breaches, {"latency": pd.concat([samples, other], ignore_index=True)})
    assert [b.peak for b in got] == [
        "16 at 14:16:00",
        "16 at 14:33:00",
        "99 at 14:01:00",
        "59 at 14:41:00",
        "2",
        "16 at 14:16:00",
        "99 at 14:01:00",
    ]


def test_a_series_with_many_breaches_is_one_line_where_its_first_is() -> None:
    flapping = [_breach("a", m, m + 1) for m in (0, 10, 20, 30)]
    flapping[1] = dataclasses.replace(flapping[1], peak="3.5 at 14:10:30")
    flapping[2] = dataclasses.replace(flapping[2], peak="3.5 at 14:20:30")
    few = [_breach("b", 5, 7), _breach("b", 25, None)]
    breaches = sorted(flapping + few, key=lambda b: b.start.time)
    got = runs(breaches)
    assert len(got) == 3
    run, first_b, last_b = got
    assert isinstance(run, BreachRun) and first_b is few[0] and last_b is few[1]
    assert run.breaches == flapping
    assert run.span == "from 14:00:00 to 14:31:00"
    assert run.above == human_duration(pd.Timedelta(minutes=4))
    assert run.peak == "3.5 at 14:10:30"  # the first of equal peaks
    # across midnight the span says the dates; an open last breach runs to the window's end
    late = [_breach("a", m, m + 1) for m in (0, 600, 1200)] + [_breach("a", 1500, None)]
    (run,) = runs(late)
    assert isinstance(run, BreachRun)
    assert run.span == "from 14:00:00 to the end of the window"
    closed = runs([*late[:3], _breach("a", 1500, 1510)])[0]
    assert isinstance(closed, BreachRun)
    assert closed.span == "from 2026-02-17 14:00:00 UTC to 2026-02-18 15:10:00 UTC"
    assert runs(few) == few

"""Breach peaks read from each series' own samples (report.response.with_peaks)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from incident_timeline.report.facts import Moment
from incident_timeline.report.response import Breach, with_peaks

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

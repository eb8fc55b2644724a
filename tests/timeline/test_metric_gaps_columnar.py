"""The metric gap rule read in place (positions in series and time order, no sorted copies of a
frame of millions of samples) against the rule written plainly with a sort and a group-by, on
random series: jittered scrapes, missed ones, duplicate times, rows in any order, a series too
short to have its own step; and with ``series``/``labels`` as the categoricals
`report.trust.read_metrics` gives."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from incident_timeline.timeline.trust.metricgaps import (
    GAP_STEPS,
    MIN_OWN_STEPS,
    metric_gap_findings,
    sample_gaps,
)

T0 = pd.Timestamp("2026-02-17 14:00:00", tz="UTC")


def random_samples(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for k in range(int(rng.integers(1, 8))):
        metric = str(rng.choice(["up", "ALERTS", "http_requests_total", "node_time_seconds"]))
        step, t = float(rng.choice([1, 15, 30, 60, 0.25])), 0.0
        for i in range(int(rng.integers(0, 40))):
            t += step * rng.choice([1, 2, 3, 0], p=[0.8, 0.1, 0.05, 0.05])
            t += float(rng.choice([0, 0.001, 0.0005, -0.0004]))  # jitter, rounding at 0.5 ms
            labels = {"__name__": metric, "pod": f"p{k}"}
            rows.append(
                (
                    T0 + pd.Timedelta(seconds=t),
                    f'{metric}{{pod="p{k}"}}',
                    json.dumps(labels, sort_keys=True),
                    float(rng.integers(0, 2)),
                    f"/data/result/{k}/values/{i}",
                )
            )
    frame = pd.DataFrame(rows, columns=["time", "series", "labels", "value", "pointer"])
    return frame.sample(frac=1, random_state=seed).reset_index(drop=True)


def plain_gaps(samples: pd.DataFrame) -> list[tuple[int, int, pd.Timedelta]]:
    """The rule as the module docstring says it: a series' step is its most common positive
    spacing (rounded to the ms; ties: the smallest) when seen MIN_OWN_STEPS times, else the
    frame's; a spacing over GAP_STEPS steps is a hole."""
    ordered = samples.reset_index(drop=True).sort_values(["series", "time"], kind="stable")
    spacing = ordered["time"].groupby(ordered["series"]).diff()
    positive = spacing[spacing > pd.Timedelta(0)].dt.round("1ms")
    if positive.empty:
        return []

    def most_common(values: pd.Series) -> pd.Timedelta:
        counts = values.value_counts()
        return pd.Timedelta(counts[counts == counts.max()].index.min())

    frame_step = most_common(positive)
    own = {
        series: most_common(steps)
        for series, steps in positive.groupby(ordered.loc[positive.index, "series"])
        if steps.value_counts().max() >= MIN_OWN_STEPS
    }
    holes = []
    rows = list(ordered.index)
    for place, row in enumerate(rows):
        gap = spacing.loc[row]
        step = own.get(ordered.at[row, "series"], frame_step)
        if pd.notna(gap) and gap > step * GAP_STEPS:
            holes.append((rows[place - 1], row, step))
    return holes


@pytest.mark.parametrize("seed", range(40))
def test_the_columnar_rule_finds_the_holes_the_plain_one_does(seed: int) -> None:
    frame = random_samples(seed)
    got = sample_gaps(frame)
    assert list(got.itertuples(index=False, name=None)) == plain_gaps(frame)


@pytest.mark.parametrize("seed", range(40))
def test_categorical_series_give_the_findings_strings_give(seed: int) -> None:
    frame = random_samples(seed)
    as_strings = metric_gap_findings({"m": frame})
    categorical = frame.astype({"series": "category", "labels": "category"})
    assert metric_gap_findings({"m": categorical}) == as_strings
    if seed == 0:
        assert len(as_strings) > 0  # the random series do have holes

"""The alert path's hops as clock evidence: counts, median, spread, and negative hops told
apart by the stamps' precision."""

from __future__ import annotations

import pandas as pd

from incident_timeline.timeline.trust.alerthops import alert_hops
from incident_timeline.timeline.trust.alertpath import AlertPath, Stage, path_findings

T0 = pd.Timestamp("2026-03-04 14:00:00", tz="UTC")


def path(webhook: float, pagerduty: float) -> AlertPath:
    """An alert firing at T0, through Alertmanager (+0.5 s) and the webhook, to PagerDuty
    (whole-second created_at): times in seconds after T0."""
    at = [0.0, 0.5, webhook, pagerduty]
    names = ["prometheus", "alertmanager", "webhook", "pagerduty"]
    precision = [1.0, 0.001, 0.001, 1.0]
    return AlertPath(
        "HighErrorRate",
        tuple(
            Stage(n, T0 + pd.Timedelta(seconds=t), f"raw/{n}#0", p)
            for n, t, p in zip(names, at, precision, strict=True)
        ),
    )


def test_hops_count_spread_and_negative_ones() -> None:
    paths = [path(1.2, 3.0), path(1.4, 1.0), path(0.9, -2.0)]
    hops = alert_hops(paths)
    assert [h.to_dict() for h in hops][2] == {
        "cause": "webhook",
        "effect": "pagerduty",
        "count": 3,
        "median_seconds": -0.4,
        "min_seconds": -2.9,
        "max_seconds": 1.8,
        "precision_seconds": 1.0,
        "negative": 2,
        "negative_beyond_precision": 1,
    }
    assert hops[2].text() == (
        "webhook received → PagerDuty trigger: 3 alerts, median -0.400 s, spread 4.700 s "
        "(min -2.900 s, max +1.800 s); 1 NEGATIVE beyond the stamps' precision"
    )
    assert hops[1].text().endswith("(min +0.400 s, max +0.900 s)")
    # -0.4 s is PagerDuty's whole seconds; -2.9 s is two clocks that disagree
    [finding] = path_findings(paths)
    assert finding.labels == {
        "alertname": "HighErrorRate",
        "cause": "webhook",
        "effect": "pagerduty",
        "lag_seconds": "-2.900",
    }
    assert "(−0.400 s, negative)" in paths[1].text()

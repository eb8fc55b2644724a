"""The alert path's hops as clock evidence: per hop, how many alerts crossed it, the lag's
median and spread, and which hops ran backwards.

Each hop joins two systems' clocks: Prometheus ``ALERTS``/``activeAt`` (Prometheus' clock) →
Alertmanager ``startsAt`` (Prometheus' clock again: Prometheus sends it, ``rules/alerting.go``)
→ the webhook receiver's receive time (the receiver's host) → PagerDuty's trigger
``created_at`` (PagerDuty's clock, whole seconds). A hop's lag is a latency, so it can never
be negative: a negative lag beyond the two stamps' precision is a clock disagreement
(`timeline.trust.alertpath.path_findings` makes it a finding); one within the precision is
rounding (PagerDuty and ``ALERTS`` steps are coarse) and is marked, not flagged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from incident_timeline.timeline.trust.alertpath import STAGE_NAMES, AlertPath


@dataclass(frozen=True)
class Hop:
    """The lags of one hop (``cause`` → ``effect``) over every alert path that has it."""

    cause: str
    effect: str
    lags: tuple[float, ...]
    precision: float  # the coarser of the two stamps' precision, seconds

    @property
    def negative(self) -> int:
        """Lags below zero (effect stamped before its cause)."""
        return sum(lag < 0 for lag in self.lags)

    @property
    def beyond_precision(self) -> int:
        """Negative lags larger than the stamps' precision: clocks that disagree."""
        return sum(lag < -self.precision for lag in self.lags)

    def text(self) -> str:
        """``Prometheus firing → Alertmanager startsAt: 3 alerts, median +0.512 s, spread
        0.100 s (min +0.450 s, max +0.550 s)``, and any negative hops."""
        series = pd.Series(self.lags)
        spread = float(series.max() - series.min())
        text = (
            f"{STAGE_NAMES[self.cause]} → {STAGE_NAMES[self.effect]}: {len(self.lags)} "
            f"alert{'s' if len(self.lags) > 1 else ''}, median {series.median():+.3f} s, "
            f"spread {spread:.3f} s (min {series.min():+.3f} s, max {series.max():+.3f} s)"
        )
        if self.beyond_precision:
            text += f"; {self.beyond_precision} NEGATIVE beyond the stamps' precision"
        elif self.negative:
            text += f"; {self.negative} negative within the {self.precision:g} s precision"
        return text

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dict."""
        return {
            "cause": self.cause,
            "effect": self.effect,
            "count": len(self.lags),
            "median_seconds": round(float(pd.Series(self.lags).median()), 3),
            "min_seconds": round(min(self.lags), 3),
            "max_seconds": round(max(self.lags), 3),
            "precision_seconds": self.precision,
            "negative": self.negative,
            "negative_beyond_precision": self.beyond_precision,
        }


def alert_hops(paths: Sequence[AlertPath]) -> list[Hop]:
    """One `Hop` per (cause, effect) pair seen, in path order."""
    lags: dict[tuple[str, str], list[float]] = {}
    precision: dict[tuple[str, str], float] = {}
    for path in paths:
        for cause, effect, lag in path.lags():
            key = (cause.name, effect.name)
            lags.setdefault(key, []).append(lag)
            precision[key] = max(precision.get(key, 0.0), cause.precision, effect.precision)
    order = list(STAGE_NAMES)
    return [
        Hop(cause, effect, tuple(values), precision[(cause, effect)])
        for (cause, effect), values in sorted(
            lags.items(), key=lambda item: (order.index(item[0][0]), order.index(item[0][1]))
        )
    ]

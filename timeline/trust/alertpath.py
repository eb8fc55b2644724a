"""One alert across systems: Prometheus firing -> Alertmanager -> webhook -> PagerDuty.

Each system stamps the alert on its own clock, so the lags between them are both a latency
measure and a clock check: a later stage can never happen before the one that caused it. When
it does by more than the two stamps' resolution, the finding says which clocks disagree.

Stages of one firing, each the event nearest to the previous stage within `HORIZON`:

1. ``prometheus``: the first ``ALERTS{alertstate="firing"}`` sample (known to one step);
2. ``alertmanager``: the alert's ``startsAt`` (an ``alert_firing`` event from Alertmanager, or
   the ``startsAt`` embedded in a webhook notification);
3. ``webhook``: when the webhook receiver got the firing notification;
4. ``pagerduty``: the ``page_trigger`` whose incident title names the alert.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from incident_timeline.timeline.timefmt import hms, iso, signed
from incident_timeline.timeline.trust.evidence import common_step, of_metrics, parse_labels
from incident_timeline.timeline.trust.findings import Finding

HORIZON = pd.Timedelta(minutes=10)
STAGE_NAMES: dict[str, str] = {
    "prometheus": "Prometheus firing",
    "alertmanager": "Alertmanager startsAt",
    "webhook": "webhook received",
    "pagerduty": "PagerDuty trigger",
}


@dataclass(frozen=True)
class Stage:
    """One system's stamp of the alert, and how precise that stamp is (seconds)."""

    name: str
    time: pd.Timestamp
    ref: str
    precision: float


@dataclass(frozen=True)
class AlertPath:
    """The stages found for one firing of ``alertname``, in causal order."""

    alertname: str
    stages: tuple[Stage, ...]
    pending: pd.Timestamp | None = None

    def lags(self) -> list[tuple[Stage, Stage, float]]:
        """(cause, effect, seconds from cause to effect) for consecutive stages."""
        return [
            (a, b, (b.time - a.time).total_seconds())
            for a, b in zip(self.stages, self.stages[1:], strict=False)
        ]

    def text(self) -> str:
        """``HighErrorRate: Prometheus firing 14:13:30 → Alertmanager startsAt 14:13:30.512
        (+0.512 s) → …; total 3.000 s``."""
        first = self.stages[0]
        parts = [f"{STAGE_NAMES[first.name]} {hms(first.time)}"]
        for _, stage, lag in self.lags():
            mark = ", negative" if lag < 0 else ""  # an effect before its cause
            parts.append(f"{STAGE_NAMES[stage.name]} {hms(stage.time)} ({signed(lag)}{mark})")
        total = (self.stages[-1].time - first.time).total_seconds()
        return f"{self.alertname}: " + " → ".join(parts) + f"; total {signed(total)}"

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dict."""
        return {
            "alertname": self.alertname,
            "stages": [{"stage": s.name, "time": iso(s.time), "ref": s.ref} for s in self.stages],
            "lags_seconds": [round(lag, 3) for _, _, lag in self.lags()],
        }


def alert_paths(events: pd.DataFrame, metrics: Mapping[str, pd.DataFrame]) -> list[AlertPath]:
    """Every Prometheus firing followed through Alertmanager, webhook and PagerDuty."""
    kinds = ["alert_pending", "alert_firing", "alert_notify", "page_trigger"]
    alerts = events.loc[events["kind"].isin(kinds).to_numpy(dtype=bool)]
    if alerts.empty:
        return []
    parsed = [parse_labels(x) for x in alerts["labels"]]
    names = pd.Series([p.get("alertname", "") for p in parsed], index=alerts.index)
    status = pd.Series([p.get("status", "") for p in parsed], index=alerts.index)
    step = _alerts_step(metrics)
    prom = alerts[(alerts["source"] == "prometheus") & (alerts["kind"] == "alert_firing")]
    paths = []
    for idx in prom.index:
        name = names[idx]
        if not name:
            continue
        stages = [Stage("prometheus", prom.at[idx, "time"], str(prom.at[idx, "ref"]), step)]
        for stage in ("alertmanager", "webhook", "pagerduty"):
            found = _next_stage(alerts, names, status, name, stage, stages[-1].time)
            if found is not None:
                stages.append(found)
        if len(stages) > 1:
            paths.append(
                AlertPath(name, tuple(stages), _pending(alerts, names, name, stages[0].time))
            )
    return paths


def path_findings(paths: list[AlertPath]) -> list[Finding]:
    """A clock finding for each stage stamped before the stage that caused it."""
    findings = []
    for path in paths:
        for cause, effect, lag in path.lags():
            tolerance = max(cause.precision, effect.precision)
            if cause.name == "prometheus" and path.pending is not None:
                # Some Prometheus versions send the pending start (activeAt) as startsAt.
                tolerance += (cause.time - path.pending).total_seconds()
            if lag >= -tolerance:
                continue
            findings.append(
                Finding(
                    id=f"alert_path:{path.alertname}@{hms(cause.time)}:{effect.name}",
                    kind="clock",
                    check="alert_path",
                    time=effect.time,
                    end=cause.time,
                    subject=f"alert/{path.alertname}",
                    summary=(
                        f"{path.alertname}: {STAGE_NAMES[effect.name]} ({hms(effect.time)}) "
                        f"is {abs(lag):.3f} s before {STAGE_NAMES[cause.name]} "
                        f"({hms(cause.time)}), which caused it: the {effect.name} and "
                        f"{cause.name} clocks disagree"
                    ),
                    detail=(
                        f"An effect precedes its cause by {abs(lag):.3f} s, more than the "
                        f"stamps' precision ({tolerance:g} s). One of the two systems' clocks "
                        f"is off; compare their node clocks. Path: {path.text()}"
                    ),
                    ref=effect.ref,
                    labels={
                        "alertname": path.alertname,
                        "cause": cause.name,
                        "effect": effect.name,
                        "lag_seconds": f"{lag:.3f}",
                    },
                )
            )
    return findings


def _next_stage(
    alerts: pd.DataFrame,
    names: pd.Series,
    status: pd.Series,
    name: str,
    stage: str,
    after: pd.Timestamp,
) -> Stage | None:
    if stage == "pagerduty":
        pattern = rf"(?<![\w-]){re.escape(name)}(?![\w-])"
        mask = (alerts["kind"] == "page_trigger") & (
            alerts["labels"].str.contains(pattern, regex=True)
            | alerts["summary"].str.contains(pattern, regex=True)
        )
        times = alerts["time"]
    elif stage == "alertmanager":
        mask = (alerts["source"] == "alertmanager") & (alerts["kind"] == "alert_firing")
        mask &= names == name
        times = alerts["time"]
        if not mask.any():  # the startsAt inside a webhook notification
            mask = (alerts["kind"] == "alert_notify") & (names == name) & (status == "firing")
            mask &= alerts["embedded_time"].notna()
            times = alerts["embedded_time"]
    else:
        mask = (alerts["kind"] == "alert_notify") & (names == name) & (status == "firing")
        times = alerts["time"]
    candidates = times[mask.to_numpy(dtype=bool)]
    candidates = candidates[(candidates - after).abs() <= HORIZON]
    if candidates.empty:
        return None
    best = (candidates - after).abs().sort_values(kind="stable").index[0]
    when = candidates[best]
    ns = when.value % 1_000_000_000
    return Stage(stage, when, str(alerts.at[best, "ref"]), 1.0 if ns == 0 else 0.001)


def _pending(
    alerts: pd.DataFrame, names: pd.Series, name: str, firing: pd.Timestamp
) -> pd.Timestamp | None:
    mask = (alerts["source"] == "prometheus") & (alerts["kind"] == "alert_pending")
    times = alerts.loc[(mask & (names == name)).to_numpy(dtype=bool), "time"]
    times = times[(times <= firing) & (firing - times <= HORIZON)]
    return times.max() if len(times) else None


def _alerts_step(metrics: Mapping[str, pd.DataFrame]) -> float:
    """The ALERTS sampling step in seconds (how late a firing sample can be); 1 s if unknown."""
    for name, samples in sorted(metrics.items()):
        if samples.empty:
            continue
        mask = of_metrics(samples, name, ("ALERTS",))
        step = common_step(samples.loc[mask]) if mask.any() else None
        if step is not None:
            return float(step.total_seconds())
    return 1.0

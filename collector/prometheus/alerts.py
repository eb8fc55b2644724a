"""Alert history from Prometheus: ``ALERTS`` transitions, ``activeAt``, rules and fingerprints.

History comes from the *raw samples* of ``ALERTS`` and ``ALERTS_FOR_STATE`` (one per rule
evaluation), not from ``query_range``: a range query's 5-minute lookback keeps an alert
"firing" for up to 5 minutes after its last sample wherever no staleness marker was written
(a restart, backfilled data), and a coarse step rounds every transition to the step. The
transitions themselves are `collector.promjson`'s (the file collector's) logic, so the same
samples give the same events and wording.

Each alert event gets:
- ``embedded_time`` = ``activeAt`` (when the alert went pending) from ``ALERTS_FOR_STATE``,
  or from ``/api/v1/alerts`` for an alert still active;
- a ``fingerprint`` label: the Alertmanager fingerprint of the alert's labels, so the same
  alert from Prometheus, Alertmanager and PagerDuty can be matched;
- the alerting rule (group, ``for``, expression) from ``/api/v1/rules`` in its message.
"""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from incident_timeline.collector.prometheus.queryrange import fingerprint, parse_query_range
from incident_timeline.timeline.metrics import DEFAULT_STEP_SECONDS
from incident_timeline.timeline.timefmt import iso_z

if TYPE_CHECKING:
    import pandas as pd


def evaluation_step(document: dict[str, Any]) -> float:
    """The smallest spacing of samples within one series (the rule evaluation interval)."""
    step = float("inf")
    for series in document["data"]["result"]:
        times = [float(p[0]) for p in series["values"]]
        step = min([step] + [b - a for a, b in itertools.pairwise(times) if b > a])
    return step if step != float("inf") else float(DEFAULT_STEP_SECONDS)


def alert_rows(
    alerts_doc: dict[str, Any],
    for_state_doc: dict[str, Any] | None,
    end: datetime,
    rules: list[dict[str, Any]],
    active: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    """Event rows for every ALERTS transition, enriched (see the module docstring).

    ``end`` is where the data ends: a firing alert whose samples stop more than 1.5
    evaluation steps before ``end`` is ``resolved`` one step after its last sample.
    """
    import pandas as pd

    if not alerts_doc["data"]["result"]:
        return []
    step = evaluation_step(alerts_doc)
    horizon = end - timedelta(seconds=1.5 * step)
    result = parse_query_range(alerts_doc, None, "ALERTS", horizon=pd.Timestamp(horizon))
    active_at = _active_at_samples(for_state_doc)
    rows = []
    for row in result.rows:
        labels = dict(row["labels"])
        if row["kind"] == "metric_threshold":
            continue
        key = json.dumps(labels, sort_keys=True)
        when = pd.Timestamp(row["time_raw"])
        activated = _nearest(active_at.get(key, []), when.timestamp())
        embedded = (
            iso_z(datetime.fromtimestamp(activated, UTC))
            if activated is not None
            else _active_from_api(active, labels, when)
        )
        rule = _rule_for(rules, labels)
        row["labels"] = {**labels, "fingerprint": fingerprint(labels)}
        if embedded:
            row["embedded_raw"] = embedded
        if rule is not None:
            row["labels"]["rule_group"] = rule.get("_group", "")
            row["message"] = (
                f"{row['summary']}\nrule {rule.get('name')} (group "
                f"{rule.get('_group')}, for {rule.get('duration', 0):g}s): "
                f"{rule.get('query')}"
            )
        row["pointer"] = _pointer(result.samples, labels, row["kind"], when) or row["pointer"]
        rows.append(row)
    return rows


def _pointer(
    samples: pd.DataFrame, labels: dict[str, str], kind: str, when: pd.Timestamp
) -> str | None:
    """The sample behind a transition: the first sample of the pending or firing run, or for
    ``resolved`` the run's last firing sample."""
    state = "firing" if kind == "alert_resolved" else kind.removeprefix("alert_")
    metric = json.dumps({"__name__": "ALERTS", **labels, "alertstate": state}, sort_keys=True)
    mine = samples[samples["labels"] == metric]
    mine = mine[mine["time"] < when] if kind == "alert_resolved" else mine[mine["time"] == when]
    if mine.empty:
        return None
    return str(mine["pointer"].iloc[-1 if kind == "alert_resolved" else 0])


def alerting_rules(rules_doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The alerting rules of a ``/api/v1/rules`` answer, each with its group as ``_group``."""
    found = []
    for group in (rules_doc.get("data") or {}).get("groups") or []:
        for rule in group.get("rules") or []:
            if rule.get("type") == "alerting":
                found.append({**rule, "_group": group.get("name", "")})
    return found


def rule_problems(rules_doc: dict[str, Any]) -> list[str]:
    """One line per rule whose health is not ``ok`` (a failing rule alerts on nothing)."""
    problems = []
    for group in (rules_doc.get("data") or {}).get("groups") or []:
        for rule in group.get("rules") or []:
            if rule.get("health", "ok") not in ("ok", "unknown"):
                problems.append(
                    f"rule {group.get('name')}/{rule.get('name')} is "
                    f"{rule.get('health')}: {rule.get('lastError', '')}"
                )
    return problems


def _active_at_samples(document: dict[str, Any] | None) -> dict[str, list[tuple[float, float]]]:
    found: dict[str, list[tuple[float, float]]] = {}
    for series in ((document or {}).get("data") or {}).get("result") or []:
        labels = {k: v for k, v in (series.get("metric") or {}).items() if k != "__name__"}
        key = json.dumps(labels, sort_keys=True)
        found[key] = [(float(t), float(v)) for t, v in series.get("values") or []]
    return found


def _nearest(samples: list[tuple[float, float]], when: float) -> float | None:
    if not samples:
        return None
    return min(samples, key=lambda s: (abs(s[0] - when), s[0]))[1]


def _active_from_api(
    active: list[dict[str, Any]], labels: dict[str, str], when: pd.Timestamp
) -> str | None:
    import pandas as pd

    for alert in active:
        if alert.get("labels") == labels and alert.get("activeAt"):
            text = str(alert["activeAt"])
            return text if pd.Timestamp(text) <= when + pd.Timedelta("1s") else None
    return None


def _rule_for(rules: list[dict[str, Any]], labels: dict[str, str]) -> dict[str, Any] | None:
    for rule in rules:
        own = rule.get("labels") or {}
        if rule.get("name") == labels.get("alertname") and all(
            labels.get(k) == v for k, v in own.items()
        ):
            return rule
    return None

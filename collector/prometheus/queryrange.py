"""Prometheus ``query_range`` responses: tidy samples, threshold crossings, ALERTS history.

Shared by the file collector (a saved ``curl .../api/v1/query_range`` response) and the
Prometheus collector (the same JSON, fetched)."""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from incident_timeline.collector.errors import ExportFormatError
from incident_timeline.collector.prometheus.matrix import (
    numbered,
    repeat,
    series_of,
    string_series,
)
from incident_timeline.timeline.metrics import (
    alert_transitions,
    parse_threshold,
    threshold_crossings,
)
from incident_timeline.timeline.timefmt import iso_z

if TYPE_CHECKING:
    import pandas as pd

_FNV_OFFSET = 14695981039346656037
_FNV_PRIME = 1099511628211


@dataclasses.dataclass
class RangeResult:
    """Samples (time, series, labels, value, pointer), event rows, series count, warnings."""

    samples: pd.DataFrame
    rows: list[dict[str, Any]]
    series: int
    warnings: list[str]


def fingerprint(labels: dict[str, str]) -> str:
    """Prometheus ``model.LabelSet.Fingerprint()`` as Alertmanager prints it (16 hex digits):
    FNV-1a 64 over the label names in sorted order, each name and value followed by 0xff.

    The same alert in Prometheus ``ALERTS`` (labels minus ``__name__`` and ``alertstate``) and
    in Alertmanager has the same fingerprint, unless external labels or alert relabelling
    changed its labels on the way.
    """
    value = _FNV_OFFSET
    for name in sorted(labels):
        for part in (name, labels[name]):
            for byte in part.encode("utf-8") + b"\xff":
                value = ((value ^ byte) * _FNV_PRIME) & 0xFFFFFFFFFFFFFFFF
    return f"{value:016x}"


def series_key(metric: dict[str, str]) -> str:
    """``name{a="1",b="2"}`` with labels sorted, the way Prometheus prints a series."""
    name = metric.get("__name__", "")
    inner = ",".join(f'{k}="{v}"' for k, v in sorted(metric.items()) if k != "__name__")
    return f"{name}{{{inner}}}"


def parse_query_range(
    data: Any, threshold: str | None, label: str, *, horizon: pd.Timestamp | None = None
) -> RangeResult:
    """Check the envelope and build samples and events from a matrix result.

    ``horizon``: where the queried range really ends, for alerts firing until the data's end
    (see `timeline.metrics.alert_transitions`)."""
    if not isinstance(data, dict) or "status" not in data:
        raise ExportFormatError("not a Prometheus API response: no 'status' field")
    if data["status"] != "success":
        raise ExportFormatError(
            "the saved response is a Prometheus error: "
            f"{data.get('errorType')}: {data.get('error')}"
        )
    body = data.get("data") or {}
    if not isinstance(body, dict) or body.get("resultType") != "matrix":
        kind = body.get("resultType") if isinstance(body, dict) else None
        raise ExportFormatError(
            f"resultType is {kind!r}, not 'matrix': export a range query "
            "(/api/v1/query_range), not an instant query",
            "/data/resultType",
        )
    problem = matrix_problem(data)
    if problem is not None:
        raise ExportFormatError(problem[0], problem[1])
    result = body.get("result") or []
    samples = _samples(result)
    rows = []
    if threshold is not None and len(samples):
        rows += _crossing_rows(samples, threshold, label)
    alerts = samples[samples["series"].str.startswith("ALERTS{")]
    if len(alerts):
        rows += _alert_rows(alerts, horizon)
    warnings = [f"Prometheus warning: {w}" for w in data.get("warnings") or []]
    return RangeResult(samples, rows, len(result), warnings)


def matrix_problem(envelope: dict[str, Any]) -> tuple[str, str] | None:
    """What is wrong with a range answer's shape and the JSON pointer of the bad field, or None.

    A range query (and a range selector at an instant) answers ``resultType: matrix``, each
    series ``{"metric": {...}, "values": [[<unix seconds>, "<value>"], ...]}`` with the value a
    string (Prometheus HTTP API, "Range vectors"; "NaN" and "+Inf" included)."""
    data = envelope.get("data")
    if not isinstance(data, dict) or data.get("resultType") != "matrix":
        kind = data.get("resultType") if isinstance(data, dict) else None
        return f"resultType is {kind!r}, not 'matrix'", "/data/resultType"
    result = data.get("result")
    if not isinstance(result, list):
        return "data.result is not an array", "/data/result"
    for i, series in enumerate(result):
        if not isinstance(series, dict) or not isinstance(series.get("values"), list):
            return "a series without a values array", f"/data/result/{i}"
        if not isinstance(series.get("metric", {}), dict):
            return "metric is not an object", f"/data/result/{i}/metric"
        for j, pair in enumerate(series["values"]):
            if not _sample_ok(pair):
                return f'sample {pair!r} is not [time, "value"]', f"/data/result/{i}/values/{j}"
    return None


def _sample_ok(pair: Any) -> bool:
    if not isinstance(pair, list) or len(pair) != 2 or isinstance(pair[0], bool):
        return False
    if not isinstance(pair[0], (int, float)) or not isinstance(pair[1], str):
        return False
    try:
        float(pair[1])
    except ValueError:
        return False
    return math.isfinite(pair[0])


def _samples(result: list[Any]) -> pd.DataFrame:
    for i, series in enumerate(result):
        if not isinstance(series, dict) or not isinstance(series.get("values"), list):
            raise ExportFormatError(f"data.result[{i}] is not a range series with 'values'")
    columns = series_of({"data": {"result": result}}, lenient=True)
    return tidy_samples(
        (s.metric, s.times, s.values, numbered(f"/data/result/{i}/values/", 0, len(s.times)))
        for i, s in enumerate(columns)
    )


def tidy_samples(
    parts: Iterable[tuple[dict[str, str], np.ndarray, np.ndarray, pa.Array]],
) -> pd.DataFrame:
    """Tidy samples (``time, series, labels, value, pointer``) from ``(metric, times in ms,
    values, pointers)`` parts, built from columns with no Python object per sample."""
    import pandas as pd

    keys, texts, pointers = [], [], []
    times, values = [np.empty(0, np.int64)], [np.empty(0, np.float64)]
    for metric, millis, numbers, where in parts:
        keys.append(repeat(series_key(metric), len(millis)))
        texts.append(repeat(json.dumps(metric, sort_keys=True), len(millis)))
        pointers.append(where)
        times.append(millis)
        values.append(numbers)
    return pd.DataFrame(
        {
            "time": pd.to_datetime(np.concatenate(times), unit="ms", utc=True).as_unit("ns"),
            "series": string_series(keys),
            "labels": string_series(texts),
            "value": np.concatenate(values),
            "pointer": string_series(pointers),
        }
    )


def _crossing_rows(samples: pd.DataFrame, threshold: str, label: str) -> list[dict[str, Any]]:
    op, value = parse_threshold(threshold)
    crossings = threshold_crossings(samples, op, value)
    where = samples.set_index(["series", "time"])
    rows = []
    for c in crossings.itertuples():
        sample = where.loc[(c.series, c.time)]
        metric = json.loads(sample["labels"])
        rows.append(
            crossing_row(c.time, c.value, c.state, metric, (op, value), label, sample["pointer"])
        )
    return rows


def crossing_row(
    time: pd.Timestamp,
    value: float,
    state: str,
    metric: dict[str, str],
    threshold: tuple[str, float],
    label: str,
    pointer: str,
) -> dict[str, Any]:
    """The ``metric_threshold`` event row for one crossing (``state`` above or below) of
    ``threshold`` (operator, value) by series ``metric``."""
    return {
        "time_raw": iso_z(time),
        "kind": "metric_threshold",
        "severity": "warning" if state == "above" else "info",
        "summary": crossing_summary(value, state, crossing_who(metric), threshold, label),
        "pointer": pointer,
        "labels": crossing_labels(metric, threshold, state),
    }


def crossing_who(metric: dict[str, str]) -> str:
    """The series a crossing's summary names: its labels but the metric name."""
    return ", ".join(f"{k}={v}" for k, v in sorted(metric.items()) if k != "__name__")


def crossing_summary(
    value: float, state: str, who: str, threshold: tuple[str, float], label: str
) -> str:
    """``label > 0.9 (0.95) for pod=a`` when the series went above, ``label back to 0.5, no
    longer > 0.9 for pod=a`` when it came back."""
    op, limit = threshold
    text = (
        f"{label} {op} {limit:g} ({value:.4g})"
        if state == "above"
        else f"{label} back to {value:.4g}, no longer {op} {limit:g}"
    )
    return f"{text}{' for ' + who if who else ''}"


def crossing_labels(metric: dict[str, str], threshold: tuple[str, float], state: str) -> Any:
    """A crossing event's labels: the series', the threshold and the state."""
    op, limit = threshold
    return {**metric, "threshold": f"{op} {limit:g}", "state": state}


def alert_event_rows(
    alerts: pd.DataFrame, horizon: pd.Timestamp | None = None
) -> list[dict[str, Any]]:
    """Event rows for the transitions of ``ALERTS`` samples (a `_samples` frame)."""
    return _alert_rows(alerts, horizon)


def _alert_rows(alerts: pd.DataFrame, horizon: pd.Timestamp | None) -> list[dict[str, Any]]:
    # not .map(json.loads): on a string column pandas aligns the dicts' keys, adding None labels
    import pandas as pd

    metric = pd.Series(
        [json.loads(text) for text in alerts["labels"]], index=alerts.index, dtype=object
    )
    state = metric.map(lambda m: m.get("alertstate", "firing"))
    alert = metric.map(
        lambda m: json.dumps({k: v for k, v in m.items() if k != "alertstate"}, sort_keys=True)
    )
    frame = pd.DataFrame({"time": alerts["time"], "series": alert, "alertstate": state})
    rows = []
    kinds = {
        "pending": ("alert_pending", "warning"),
        "firing": ("alert_firing", "error"),
        "resolved": ("alert_resolved", "info"),
    }
    for t in alert_transitions(frame, horizon).itertuples():
        labels = {k: v for k, v in json.loads(t.series).items() if k != "__name__"}
        kind, severity = kinds[t.state]
        who = ", ".join(f"{k}={v}" for k, v in sorted(labels.items()) if k != "alertname")
        rows.append(
            {
                "time_raw": iso_z(t.time),
                "kind": kind,
                "severity": severity,
                "summary": f"{labels.get('alertname', '?')} {t.state} ({who})",
                "pointer": _first_pointer(alerts, t.series, metric),
                "labels": labels,
            }
        )
    return rows


def _first_pointer(alerts: pd.DataFrame, series: str, metric: pd.Series) -> str:
    name = json.loads(series)
    match = metric.map(lambda m: {k: v for k, v in m.items() if k != "alertstate"} == name)
    pointer = alerts.loc[match, "pointer"].iloc[0]
    return str(pointer).rsplit("/values/", 1)[0]

"""The timeline for Timesketch: CSV or JSON Lines with its mandatory fields.

Timesketch reads ``message``, ``datetime`` (ISO 8601) and ``timestamp_desc`` from every row
and takes ``timestamp`` (microseconds since the epoch) if present; other columns become
searchable attributes (timesketch docs/user-guide/import-from-json-csv.md; the importer's
``ImportStreamer._fix_data_frame`` and ``_fix_dict`` in timesketch_import_client/importer.py,
which our tests run on this output). ``message`` is our one-line summary, the full text is
``full_message``; every other column of the event record is kept under its own name.

``timestamp_desc`` names which clock the time came from, as plaso does ("Content
Modification Time", ...): the container runtime for pod logs, the Kubernetes event's own
timestamp, Alertmanager's ``startsAt``, PagerDuty's ``created_at``, ..., and says when the
time was inferred, read in an assumed zone, or corrected for a clock offset.
"""

from __future__ import annotations

import json

import pandas as pd

from incident_timeline.timeline.schema import COLUMNS, TIME_COLUMNS

# (source, kind) -> clock; "*" for any kind of that source. Which field each collector puts
# in `time` is documented in its formats module (DESIGN: "the most trustworthy clock").
CLOCKS: dict[tuple[str, str], str] = {
    ("kubernetes", "log"): "Container runtime time (kubelet log timestamp)",
    ("kubernetes", "*"): "Kubernetes event time",
    ("prometheus", "metric_threshold"): "Prometheus sample time",
    ("prometheus", "*"): "Prometheus rule evaluation time (ALERTS)",
    ("alertmanager", "alert_resolved"): "Alertmanager endsAt",
    ("alertmanager", "alert_notify"): "Alertmanager notification time (webhook log)",
    ("alertmanager", "silence"): "Alertmanager silence startsAt",
    ("alertmanager", "*"): "Alertmanager startsAt",
    ("pagerduty", "*"): "PagerDuty created_at",
    ("integrity", "*"): "Start of the finding",
    ("file", "*"): "Time written in the log line",
}
QUALITY: dict[str, str] = {
    "assumed_tz": " (naive; zone assumed from the config)",
    "corrected": " (corrected for a detected clock offset)",
}
INFERRED = "Inferred time (no timestamp in the evidence; from its neighbours)"
FIELDS: tuple[str, ...] = (
    "message",
    "datetime",
    "timestamp",
    "timestamp_desc",
    *(c for c in COLUMNS if c not in ("time", "summary", "message")),
    "full_message",
)


def timestamp_desc(frame: pd.DataFrame) -> pd.Series:
    """Which clock each row's time is from, in words."""
    exact = pd.Series(
        [
            CLOCKS.get((s, k)) or CLOCKS.get((s, "*")) or f"{s} event time"
            for s, k in zip(frame["source"].tolist(), frame["kind"].tolist(), strict=True)
        ],
        index=frame.index,
        dtype="string",
    )
    suffix = frame["time_quality"].map(QUALITY).fillna("").astype("string")
    out = exact + suffix
    return out.where(frame["time_quality"] != "inferred", INFERRED)


def timesketch_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows with Timesketch's fields first, then ours."""
    time = frame["time"].dt.tz_convert("UTC")
    out = pd.DataFrame(index=frame.index)
    out["message"] = frame["summary"]
    out["datetime"] = time.dt.strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")
    out["timestamp"] = time.dt.as_unit("ns").astype("int64") // 1000
    out["timestamp_desc"] = timestamp_desc(frame)
    for name in FIELDS[4:-1]:
        out[name] = frame[name]
    for name in TIME_COLUMNS:
        if name in out:
            stamps = frame[name].dt.strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")
            out[name] = stamps.where(frame[name].notna(), None)
    out["full_message"] = frame["message"]
    return out.reset_index(drop=True)


def render_timesketch(frame: pd.DataFrame, *, csv: bool) -> str:
    """CSV (``csv=True``) or JSON Lines for ``timesketch_importer`` / the web upload."""
    out = timesketch_frame(frame)
    if csv:
        return str(out.to_csv(index=False, lineterminator="\n"))
    records = out.astype(object).where(out.notna(), None).to_dict("records")
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)

"""What the figures show, as plain data: a pure function of the bundle's metrics and events.

`metric_figures` gives one `MetricFigure` per named or thresholded query (its top series by
peak, the rest summarised, the threshold, the impact spans, the response markers);
`overview_figure` one lane per source with event density and the key moments. Drawing
(`plots.py`) only reads these, so tests assert on what a figure will show, not on pixels.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from incident_timeline.timeline.metrics import parse_threshold

TOP_SERIES = 5
OVERVIEW_BINS = 120
# Series the collectors keep for the trust checks, not for people: ALERTS history is shown as
# alert markers; node_timex_*, node_time_seconds and scrape_duration_seconds are the clock
# checks' inputs (`timeline/trust/`, `collector/prometheus/evidence.py`).
NOT_A_QUERY = re.compile(
    r"^(alerts|ALERTS.*|node_timex_.*|node_time_seconds|scrape_duration_seconds)$"
)
# A rolling update emits one ScalingReplicaSet event per step (kubernetes/kubernetes
# pkg/controller/deployment/sync.go); steps of one stream this close together are one deploy.
DEPLOY_BURST = pd.Timedelta(minutes=5)
_SCALED = re.compile(r"Scaled (up|down) replica set (\S+)")
_ROLLBACK = re.compile(r"(?i)\b(rollback|rolled back|roll back|rollout undo|revert(ed)?)\b")
MARKER_KINDS: dict[str, str] = {
    "alert_pending": "alert pending",
    "alert_firing": "alert firing",
    "alert_resolved": "alert resolved",
    "page_trigger": "page",
    "page_ack": "ack",
    "page_escalate": "escalation",
    "page_resolve": "resolved",
}
SOURCE_ORDER = ("kubernetes", "prometheus", "alertmanager", "pagerduty", "chat", "loki", "file")


@dataclass(frozen=True)
class Marker:
    """A vertical line: when, which category (deploy, rollback, alert firing, page, ack,
    escalation, mitigation, ...) and its label."""

    time: pd.Timestamp
    category: str
    label: str


@dataclass(frozen=True)
class Span:
    """A shaded stretch of time (the impact: the query beyond its threshold)."""

    start: pd.Timestamp
    end: pd.Timestamp
    label: str


@dataclass(frozen=True)
class Line:
    """One plotted series: its label and samples (UTC times, values)."""

    label: str
    times: tuple[pd.Timestamp, ...]
    values: tuple[float, ...]
    peak: float


@dataclass(frozen=True)
class MetricFigure:
    """One query's figure. ``others`` counts the series beyond the top ones; their maximum at
    each time is ``rest`` (None when there are none)."""

    name: str
    title: str
    lines: tuple[Line, ...]
    others: int
    rest: Line | None
    threshold: tuple[str, float] | None
    spans: tuple[Span, ...]
    markers: tuple[Marker, ...]
    window: tuple[pd.Timestamp, pd.Timestamp]


@dataclass(frozen=True)
class Lane:
    """One source's row of the overview: events per bin."""

    source: str
    counts: tuple[int, ...]
    total: int


@dataclass(frozen=True)
class OverviewFigure:
    """The whole incident: lanes over shared bin edges, spans and labelled key moments."""

    title: str
    edges: tuple[pd.Timestamp, ...]
    lanes: tuple[Lane, ...]
    spans: tuple[Span, ...]
    markers: tuple[Marker, ...] = field(default=())


def _same(text: str) -> str:
    return text


def metric_figures(
    manifest: Mapping[str, Any],
    metrics: Mapping[str, pd.DataFrame],
    events: pd.DataFrame,
    *,
    top: int = TOP_SERIES,
    redact: Callable[[str], str] = _same,
) -> list[MetricFigure]:
    """One figure per named or thresholded query in ``metrics``, in name order."""
    queries = query_settings(manifest)
    window = _window(manifest, events)
    markers = tuple(m for m in response_markers(events, redact) if window[0] <= m.time <= window[1])
    figures = []
    for name in sorted(metrics):
        settings = queries.get(name)
        threshold = _threshold(name, settings, events)
        if NOT_A_QUERY.match(name) or (settings is None and threshold is None and queries):
            continue
        samples = metrics[name]
        if not len(samples):
            continue
        label = (settings or {}).get("label") or name
        lines, rest, others = _top_lines(samples, top, redact)
        figures.append(
            MetricFigure(
                name=name,
                title=redact(str(label) if label == name else f"{label} ({name})"),
                lines=lines,
                others=others,
                rest=rest,
                threshold=threshold,
                spans=tuple(impact_spans(events, name, window[1])),
                markers=markers,
                window=window,
            )
        )
    return figures


def query_settings(manifest: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The configured queries by name: Prometheus ``[[prometheus.queries]]`` and
    ``[[file]]`` exports of query_range with a ``stream``, each with threshold and label."""
    config = manifest.get("config") or {}
    found: dict[str, dict[str, Any]] = {}
    for query in (config.get("prometheus") or {}).get("queries") or []:
        if isinstance(query, dict) and query.get("name"):
            found[str(query["name"])] = query
    for entry in config.get("file") or []:
        query_range = isinstance(entry, dict) and entry.get("format") == "prometheus-query-range"
        if query_range and entry.get("stream"):
            found[str(entry["stream"])] = entry
    return found


def _threshold(
    name: str, settings: Mapping[str, Any] | None, events: pd.DataFrame
) -> tuple[str, float] | None:
    """The query's threshold: from its crossing events (what the collector applied), else
    from the config."""
    crossings = events.loc[(events["kind"] == "metric_threshold") & (events["stream"] == name)]
    texts = [_label(text, "threshold") for text in crossings["labels"].tolist()]
    texts += [(settings or {}).get("threshold")]
    for text in texts:
        if text:
            try:
                return parse_threshold(str(text))
            except ValueError:
                continue
    return None


def _top_lines(
    samples: pd.DataFrame, top: int, redact: Callable[[str], str]
) -> tuple[tuple[Line, ...], Line | None, int]:
    data = samples.dropna(subset=["value"]).sort_values(["series", "time"], kind="stable")
    peaks = data.groupby("series")["value"].max().sort_values(ascending=False, kind="stable")
    order = sorted(peaks.index, key=lambda s: (-peaks[s], s))
    lines = tuple(
        _line(redact(_short(str(s))), data.loc[data["series"] == s], float(peaks[s]))
        for s in order[:top]
    )
    rest_series = order[top:]
    if not rest_series:
        return lines, None, 0
    rest = data.loc[data["series"].isin(rest_series)].groupby("time")["value"].max()
    frame = pd.DataFrame({"time": rest.index, "value": rest.to_numpy()})
    label = f"max of {len(rest_series)} other series"
    return lines, _line(label, frame, float(rest.max())), len(rest_series)


def _line(label: str, rows: pd.DataFrame, peak: float) -> Line:
    return Line(label, tuple(rows["time"].tolist()), tuple(rows["value"].astype(float)), peak)


def _short(series: str) -> str:
    """``up{instance="a",job="b"}`` -> ``instance=a, job=b``: the metric name is the title."""
    pairs = re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', series)
    return ", ".join(f"{k}={v}" for k, v in pairs if k != "__name__") or series


def impact_spans(events: pd.DataFrame, name: str, until: pd.Timestamp) -> list[Span]:
    """Where query ``name`` was beyond its threshold: from each ``above`` crossing to the next
    ``below`` of the same series (or ``until`` if it never came back)."""
    rows = events.loc[(events["kind"] == "metric_threshold") & (events["stream"] == name)]
    rows = rows.sort_values("time", kind="stable")
    spans: list[Span] = []
    open_at: dict[str, pd.Timestamp] = {}
    for time, labels in zip(rows["time"], rows["labels"], strict=True):
        parsed = _labels(labels)
        series = json.dumps({k: v for k, v in parsed.items() if k not in ("state", "threshold")})
        if parsed.get("state") == "above":
            open_at.setdefault(series, time)
        elif parsed.get("state") == "below" and series in open_at:
            spans.append(Span(open_at.pop(series), time, "beyond threshold"))
    spans += [Span(start, until, "beyond threshold") for start in open_at.values()]
    return sorted(spans, key=lambda s: (s.start, s.end))


def response_markers(events: pd.DataFrame, redact: Callable[[str], str] = _same) -> list[Marker]:
    """Deploys and rollbacks (one per rollout), alert state changes, pages, acks,
    escalations, resolution and the mitigation, in time order."""
    markers = _deploy_markers(events, redact)
    for kind, category in MARKER_KINDS.items():
        rows = events.loc[events["kind"] == kind].sort_values("time", kind="stable")
        last: pd.Timestamp | None = None
        for time, summary in zip(rows["time"], rows["summary"], strict=True):
            # Prometheus and Alertmanager both report one firing: one line, not two.
            if last is not None and time - last < pd.Timedelta(minutes=1):
                continue
            markers.append(Marker(time, category, redact(_clip(str(summary)))))
            last = time
    mitigation = _mitigation(events, markers, redact)
    if mitigation is not None:
        markers.append(mitigation)
    return sorted(markers, key=lambda m: (m.time, m.category, m.label))


def _deploy_markers(events: pd.DataFrame, redact: Callable[[str], str]) -> list[Marker]:
    """One marker per rollout (a burst of deploy steps of one stream); a rollout that scales
    a ReplicaSet back up after an earlier one scaled it down is a rollback (that is what
    ``kubectl rollout undo`` does), as is one whose text says so."""
    rows = events.loc[events["kind"] == "deploy"].sort_values(["stream", "time"], kind="stable")
    markers: list[Marker] = []
    scaled_down: set[str] = set()
    last: dict[str, pd.Timestamp] = {}
    for time, stream, summary in zip(rows["time"], rows["stream"], rows["summary"], strict=True):
        text = str(summary)
        steps = _SCALED.findall(text)
        back = any(d == "up" and rs in scaled_down for d, rs in steps) or bool(
            _ROLLBACK.search(text)
        )
        scaled_down |= {rs for d, rs in steps if d == "down"}
        if stream not in last or time - last[stream] > DEPLOY_BURST:
            markers.append(Marker(time, "deploy", redact(f"deploy: {_clip(str(stream))}")))
        if back and markers[-1].category == "deploy":
            start = markers.pop()
            markers.append(Marker(start.time, "rollback", redact(f"rollback: {_clip(stream)}")))
        last[stream] = time
    return markers


def _mitigation(
    events: pd.DataFrame, markers: list[Marker], redact: Callable[[str], str]
) -> Marker | None:
    """The first rollback, else the first note saying the change was rolled back or
    mitigated: the moment people acted to end the impact."""
    rollbacks = sorted((m for m in markers if m.category == "rollback"), key=lambda m: m.time)
    if rollbacks:  # the first rollback's own marker becomes the mitigation: one line, not two
        markers.remove(rollbacks[0])
        return Marker(rollbacks[0].time, "mitigation", f"{rollbacks[0].label} (mitigation)")
    notes = events.loc[
        (events["kind"] == "note")
        & events["summary"].str.contains(
            r"(?i)\b(?:rolled back|rollback|reverted|mitigat\w*)\b", regex=True, na=False
        )
    ]
    if not len(notes):
        return None
    first = notes.sort_values("time", kind="stable").iloc[0]
    return Marker(first["time"], "mitigation", redact(_clip(str(first["summary"]))))


def overview_figure(
    manifest: Mapping[str, Any],
    events: pd.DataFrame,
    *,
    bins: int = OVERVIEW_BINS,
    redact: Callable[[str], str] = _same,
) -> OverviewFigure:
    """One lane per source (in `SOURCE_ORDER`, others after by name) with events per bin over
    the window, every query's impact span and the response markers."""
    since, until = _window(manifest, events)
    edges = pd.date_range(since, until, periods=bins + 1).as_unit("ns")
    edge_ns = edges.asi8
    present = sorted(set(events["source"].tolist()))
    order = [s for s in SOURCE_ORDER if s in present] + [
        s for s in present if s not in SOURCE_ORDER
    ]
    lanes = []
    times = events["time"].dt.as_unit("ns").astype("int64").to_numpy()
    for source in order:
        mask = (events["source"] == source).to_numpy()
        counts, _ = np.histogram(times[mask], bins=edge_ns)
        lanes.append(Lane(source, tuple(int(c) for c in counts), int(mask.sum())))
    spans = [
        s
        for name in sorted(set(events.loc[events["kind"] == "metric_threshold", "stream"]))
        for s in impact_spans(events, str(name), until)
    ]
    title = str(manifest.get("title") or "Incident overview")
    return OverviewFigure(
        title=redact(title),
        edges=tuple(edges),
        lanes=tuple(lanes),
        spans=tuple(sorted(spans, key=lambda s: (s.start, s.end))),
        markers=tuple(m for m in response_markers(events, redact) if since <= m.time <= until),
    )


def _window(manifest: Mapping[str, Any], events: pd.DataFrame) -> tuple[pd.Timestamp, pd.Timestamp]:
    window = manifest.get("window") or {}
    try:
        return pd.Timestamp(window["since"]), pd.Timestamp(window["until"])
    except (KeyError, TypeError, ValueError):
        if not len(events):
            now = pd.Timestamp(0, tz="UTC")
            return now, now + pd.Timedelta(hours=1)
        return events["time"].min(), events["time"].max()


def _labels(text: Any) -> dict[str, str]:
    try:
        parsed = json.loads(str(text))
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in parsed.items()} if isinstance(parsed, dict) else {}


def _label(text: Any, key: str) -> str | None:
    return _labels(text).get(key)


def _clip(text: str, width: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"

"""The Appendix and the Evidence integrity section: queries with links for the window, the
sources, the raw evidence index, every clock and gap finding in plain words.

Links are only ever built on URLs from the user's own configuration (``[prometheus] url``,
``[incident] grafana_url``); a URL found in evidence (an alert's ``generatorURL``) is shown as
text, never as a live link. Prometheus' expression browser takes ``g0.expr``, ``g0.tab``,
``g0.range_input`` and ``g0.end_input`` (web/ui, both the classic and the 3.x UI); Grafana
Explore takes ``panes`` (JSON with the datasource, queries and range in epoch ms) and
``schemaVersion=1`` (Grafana 10+ URL format, docs "Explore: share a link").
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pandas as pd

from incident_timeline.collector.bundle import warning_text
from incident_timeline.report.facts import Moment, moments
from incident_timeline.timeline.trust.findings import Correction
from incident_timeline.timeline.window import Window

# What a finding means for the timeline, by the check that made it (timeline/trust).
MEANING: dict[str, str] = {
    "node_clock": "Times this node stamped (its kubelet's events, its pods' log timestamps) "
    "are off by that much; order against other nodes is uncertain within it.",
    "app_clock": "The app's own timestamps are not UTC; the timeline orders its lines by the "
    "container runtime's clock instead.",
    "missing_logs": "What this pod did is known only from Kubernetes events.",
    "logs_cut": "The pod's last minutes are missing from its logs.",
    "metric_gap": "No samples here: a threshold crossing in this span cannot be seen.",
    "target_down": "The scrape target was down: its metrics are missing for the span.",
    "backwards": "Time runs backwards in this stream: some lines are out of order.",
    "future": "Times lie in the future of the collection: a clock was ahead.",
    "event_ttl": "Kubernetes events older than the API server's --event-ttl are gone.",
    "alert_path": "One system stamped an alert before the system that caused it: clocks differ.",
    "causality": "An effect is stamped before its cause: a clock is off.",
    "silence": "The stream wrote nothing in this span: what it did then is unknown, not "
    "absent (its lines may have been lost, or the process hung).",
}
_SAFE_URL = re.compile(r"^https?://[^\s<>()\"']+$")


@dataclasses.dataclass(frozen=True)
class Query:
    """A query of the bundle: its name, PromQL (when known) and links for the window."""

    name: str
    expr: str | None
    threshold: str | None
    origin: str
    graph_url: str | None = None
    explore_url: str | None = None


@dataclasses.dataclass(frozen=True)
class Finding:
    """One clock or gap finding in plain words."""

    moment: Moment
    check: str
    meaning: str
    offered: str | None


def queries(
    manifest: Mapping[str, Any], events: pd.DataFrame, window: Window | None
) -> list[Query]:
    """The configured queries, the saved query exports, and each alert rule's expression."""
    config = manifest.get("config") or {}
    prom = config.get("prometheus") or {}
    base = _safe(prom.get("url"))
    incident = config.get("incident") or {}
    grafana = _safe(incident.get("grafana_url"))
    datasource = incident.get("grafana_datasource")
    out = []
    for q in prom.get("queries") or []:
        expr = str(q.get("expr") or "")
        out.append(
            Query(
                str(q.get("label") or q.get("name")),
                expr or None,
                q.get("threshold"),
                "[prometheus] query " + str(q.get("name")),
                graph_link(base, expr, window) if expr else None,
                explore_link(grafana, datasource, expr, window) if expr else None,
            )
        )
    for entry in config.get("file") or []:
        if entry.get("format") == "prometheus-query-range" and entry.get("threshold"):
            name = str(entry.get("label") or entry.get("stream") or entry.get("path"))
            out.append(Query(name, None, entry.get("threshold"), f"export {entry.get('path')}"))
    for name, expr in _alert_rules(events).items():
        out.append(
            Query(
                f"alert {name}",
                expr,
                None,
                "the alert's generatorURL",
                graph_link(base, expr, window),
                explore_link(grafana, datasource, expr, window),
            )
        )
    return out


def graph_link(base: str | None, expr: str, window: Window | None) -> str | None:
    """The Prometheus expression browser's graph of ``expr`` over the window."""
    if base is None or window is None:
        return None
    params = {
        "g0.expr": expr,
        "g0.tab": "0",
        "g0.range_input": f"{int(window.duration.total_seconds())}s",
        "g0.end_input": window.until.strftime("%Y-%m-%d %H:%M:%S"),
    }
    return f"{base.rstrip('/')}/graph?{urlencode(params)}"


def explore_link(base: str | None, datasource: Any, expr: str, window: Window | None) -> str | None:
    """Grafana Explore on ``expr`` over the window (the default datasource unless named)."""
    if base is None or window is None:
        return None
    query: dict[str, Any] = {"refId": "A", "expr": expr}
    pane: dict[str, Any] = {"queries": [query]}
    if datasource:
        pane["datasource"] = str(datasource)
        query["datasource"] = {"type": "prometheus", "uid": str(datasource)}
    pane["range"] = {
        "from": str(int(window.since.timestamp() * 1000)),
        "to": str(int(window.until.timestamp() * 1000)),
    }
    panes = json.dumps({"a": pane}, separators=(",", ":"), sort_keys=True)
    return f"{base.rstrip('/')}/explore?{urlencode({'schemaVersion': '1', 'panes': panes})}"


def _alert_rules(events: pd.DataFrame) -> dict[str, str]:
    rows = events.loc[events["kind"].str.startswith("alert_").fillna(False), "labels"]
    found: dict[str, str] = {}
    for text in rows.drop_duplicates():
        try:
            lab = json.loads(str(text))
        except ValueError:
            continue
        url, name = lab.get("generator_url"), lab.get("alertname")
        if url and name and name not in found:
            expr = parse_qs(urlsplit(str(url)).query).get("g0.expr")
            if expr:
                found[str(name)] = expr[0]
    return found


def _safe(url: Any) -> str | None:
    return str(url) if url and _SAFE_URL.match(str(url)) else None


def findings(events: pd.DataFrame) -> list[Finding]:
    """Every clock and gap finding, in time order, with what it means for the timeline."""
    rows = events.loc[events["kind"].isin(("clock", "gap"))]
    out = []
    for moment in moments(rows):
        check = moment.labels.get("check", "")
        out.append(
            Finding(moment, check, MEANING.get(check, ""), moment.labels.get("correction_offered"))
        )
    return out


def correction_lines(
    corrections: Sequence[Correction], applied: Mapping[str, int]
) -> list[dict[str, str]]:
    """The corrections the user accepted: ``id`` and a plain ``text`` saying what shifted."""
    return [
        {
            "id": c.id,
            "text": f"{c.description}; {' and '.join(c.columns)} shifted by "
            f"{c.shift_ns / 1e9:+.3f} s on {applied.get(c.id, 0)} rows",
        }
        for c in corrections
    ]


def sources(manifest: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per source: name, status, events, error; and its warnings."""
    out = []
    for name, info in sorted((manifest.get("sources") or {}).items()):
        info = info or {}
        count = (info.get("counts") or {}).get("events")
        out.append(
            {
                "name": str(name),
                "status": str(info.get("status") or ""),
                "events": "" if count is None else str(count),
                "error": str(info.get("error") or ""),
                "warnings": [warning_text(w) for w in info.get("warnings") or []],
            }
        )
    return out


def files(manifest: Mapping[str, Any]) -> list[dict[str, str]]:
    """The raw evidence index: path, size and short sha256 of every file in the manifest."""
    listed = manifest.get("files") or {}
    return [
        {
            "path": str(path),
            "bytes": str((listed[path] or {}).get("bytes", "?")),
            "sha256": str((listed[path] or {}).get("sha256") or "")[:12],
        }
        for path in sorted(listed)
    ]

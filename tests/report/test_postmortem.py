"""The postmortem draft on a small made-up incident: sections, computed facts, templates."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from incident_timeline.collector.errors import TemplateError
from incident_timeline.report.postmortem import SECTIONS, environment, human_duration, postmortem
from incident_timeline.timeline.merge import merge_events
from incident_timeline.timeline.schema import empty_events, make_events
from tests.report.gfm import Html, render_gfm

MANIFEST: dict[str, Any] = {
    "tool": {"name": "incident-timeline", "version": "0.1.0"},
    "title": "Checkout API 5xx after v2.3.4 deploy",
    "window": {"since": "2026-02-17T14:00:00Z", "until": "2026-02-17T15:30:00Z"},
    "collected_at": "2026-02-17T15:31:02Z",
    "config": {
        "incident": {"grafana_url": "https://grafana.example", "grafana_datasource": "prom1"},
        "prometheus": {
            "url": "http://prometheus:9090",
            "queries": [
                {"name": "errors", "label": "5xx ratio", "threshold": "> 0.05", "expr": "x > 1"}
            ],
        },
    },
    "sources": {
        "pagerduty": {
            "status": "partial",
            "error": "HTTP 429 | rate limited",
            "warnings": [],
            "counts": {"events": 6},
        },
        "file": {
            "status": "ok",
            "error": None,
            "warnings": ["exports/app.log line 3: no time zone, assumed UTC"],
            "counts": {"events": 12345, "files": 14},
        },
    },
    "files": {
        "raw/file/exports/events.json": {"sha256": "0123456789abcdef" * 4, "bytes": 1234},
        "events/file.parquet": {"sha256": "fedcba9876543210" * 4, "bytes": 5678},
    },
}
EVIL = "<script>x</script> <img src=x onerror=alert(1)> <nil> __init__ &amp; [x](javascript:y)"
ROWS = [  # time, source, kind, severity, actor, summary, labels
    ("13:55:00", "file", "deploy", "info", "ci-bot", "old deploy", {"version": "v2.3.3"}),
    ("14:01:00", "file", "deploy", "info", "ci-bot", "deploy", {"version": "v2.3.4"}),
    ("14:05:12", "kubernetes", "log", "error", None, "db pool exhausted wait_ms=2000", {}),
    ("14:05:13", "kubernetes", "log", "info", None, "GET /health 200", {}),
    ("14:06:40", "kubernetes", "log", "error", None, "db pool exhausted wait_ms=150", {}),
    ("14:07:00", "kubernetes", "log", "error", None, EVIL, {}),
    (
        "14:08:00",
        "prometheus",
        "metric_threshold",
        "warning",
        None,
        "5xx ratio > 0.05 (0.09)",
        {"state": "above", "threshold": "> 0.05", "service": "api"},
    ),
    (
        "14:10:02",
        "alertmanager",
        "alert_firing",
        "critical",
        None,
        "HighErrors",
        {"alertname": "HighErrors", "severity": "page"},
    ),
    (
        "14:10:03",
        "alertmanager",
        "alert_firing",
        "info",
        None,
        "Watchdog",
        {"alertname": "Watchdog"},
    ),
    (
        "14:13:33",
        "pagerduty",
        "page_trigger",
        "critical",
        "system",
        "Triggered",
        {"incident": "PX1", "incident_title": "[#42] HighErrors"},
    ),
    ("14:15:00", "pagerduty", "page_escalate", "info", "system", "Escalated to level 2", {}),
    ("14:16:47", "pagerduty", "page_ack", "info", "Alice Chen", "Acknowledged", {}),
    (
        "14:21:30",
        "file",
        "deploy",
        "info",
        "alice.chen",
        "rollback",
        {"version": "v2.3.3", "rollback": "true"},
    ),
    (
        "14:25:00",
        "prometheus",
        "metric_threshold",
        "info",
        None,
        "5xx ratio back",
        {"state": "below", "threshold": "> 0.05", "service": "api"},
    ),
    (
        "14:40:00",
        "integrity",
        "gap",
        "warning",
        None,
        "No samples for errors",
        {"check": "metric_gap"},
    ),
    ("14:58:21", "pagerduty", "page_resolve", "info", "Bob Li", "Resolved", {}),
]


def timeline(rows: list[tuple[Any, ...]] = ROWS) -> pd.DataFrame:
    frame = make_events(
        time=[pd.Timestamp(f"2026-02-17 {r[0]}", tz="UTC") for r in rows],
        source=[r[1] for r in rows],
        stream=["errors" if r[2] == "metric_threshold" else "s" for r in rows],
        kind=[r[2] for r in rows],
        severity=[r[3] for r in rows],
        actor=[r[4] for r in rows],
        summary=[r[5] for r in rows],
        labels=[r[6] for r in rows],
        ref=[f"raw/x#L{i}" for i in range(len(rows))],
    )
    return merge_events([frame])


def draft(manifest: dict[str, Any] = MANIFEST, events: pd.DataFrame | None = None) -> str:
    return postmortem(manifest, timeline() if events is None else events, csv_name="t.csv")


def section(text: str, name: str) -> str:
    """The body of one ``##`` section, without its heading."""
    match = re.search(rf"^## {re.escape(name)}\n(.*?)(?=^## |\Z)", text, re.DOTALL | re.MULTILINE)
    assert match, name
    return match.group(1)


def test_every_section_in_order_and_one_final_newline() -> None:
    text = draft()
    assert re.findall(r"^## (.+)$", text, re.MULTILINE) == list(SECTIONS)
    assert text.endswith("\n") and not text.endswith("\n\n") and "\n\n\n" not in text


def test_header() -> None:
    text = draft()
    assert text.startswith("# Postmortem: Checkout API 5xx after v2.3.4 deploy\n")
    for row in (
        "| **Status** | Draft |",
        "| **Date** | 2026-02-17 |",
        "| **Incident** | `PX1` (#42) |",
        "| **Severity (alert labels)** | page |",
        "| **Impact start** | 2026-02-17 14:08:00 UTC |",
        "| **Impact end** | 2026-02-17 14:25:00 UTC |",
        "| **Duration** | 17 min |",
    ):
        assert row in text
    assert draft(dict(MANIFEST, title=None)).startswith("# Postmortem: Untitled incident\n")


def test_summary_sentence() -> None:
    assert section(draft(), "Summary").strip().splitlines()[0] == (
        "5xx ratio \\> 0.05 (service=api) for 17 min, 14:08:00–14:25:00 UTC, starting 7 min "
        "after deploy v2.3.4 by ci-bot (14:01:00); mitigated by rollback to v2.3.3 by "
        "alice.chen at 14:21:30; resolved at 14:58:21 by Bob Li."
    )


def test_what_changed_lists_the_window_only_and_marks_leads() -> None:
    lines = [x for x in section(draft(), "What Changed").splitlines() if x.startswith("- ")]
    assert lines == [
        "- 14:01:00 Deploy v2.3.4 by ci-bot: 14:01:00 ◀ (file, `raw/x#L1`)",
        "- 14:21:30 Rollback to v2.3.3 by alice.chen: 14:21:30 (file, `raw/x#L12`)",
    ]


def test_detection_and_response_name_their_two_events() -> None:
    text = draft()
    detection = section(text, "Detection")
    assert (
        "- Symptom to alert firing: 4 min 50 s (first error log 14:05:12 → alert firing "
        "14:10:02)" in detection
    )
    assert "- Alert firing to page: 3 min 31 s (alert firing 14:10:02 → page 14:13:33)" in detection
    response = section(text, "Response")
    for line in (
        "- **Time to acknowledge:** 3 min 14 s (page 14:13:33 → acknowledged 14:16:47)",
        "- **Time to escalate:** 1 min 27 s (page 14:13:33 → escalated 14:15:00)",
        "- **Time to mitigate:** 7 min 57 s (page 14:13:33 → rollback to v2.3.3 14:21:30)",
        "- **Time to symptom end:** 11 min 27 s (page 14:13:33 → symptom ended 14:25:00)",
        "- **Time to resolve:** 44 min 48 s (page 14:13:33 → resolved 14:58:21)",
        "- Alice Chen (also alice.chen): acknowledged, rolled back",
        "- Bob Li: resolved",
    ):
        assert line in response, line


def test_negative_gap_is_called_out() -> None:
    events = timeline()
    events.loc[events["kind"] == "page_trigger", "time"] = pd.Timestamp(
        "2026-02-17 14:09:00", tz="UTC"
    )
    detection = section(draft(events=merge_events([events])), "Detection")
    assert (
        "- Alert firing to page: -1 min 2 s (alert firing 14:10:02 → page 14:09:00): the page "
        "came 1 min 2 s before the alert firing"
    ) in detection


def test_timeline_table_without_integrity_rows_or_heartbeats() -> None:
    body = section(draft(), "Timeline")
    assert body.startswith(
        "\nAll times UTC on 2026-02-17. 11 key events of 15; every event is in `t.csv`.\n"
        "1 clock or gap finding is under Evidence integrity, not in this table.\n"
    )
    rows = [x for x in body.splitlines() if x.startswith("| ")]
    assert rows[:3] == [
        "| Time (UTC) | Event | Source | Actor |",
        "| --- | --- | --- | --- |",
        "| 14:01:00 | Deploy v2.3.4 by ci-bot: 14:01:00 | file | ci-bot |",
    ]
    assert "| 14:05:12 | db pool exhausted wait_ms=2000 (×2 in window) | kubernetes |  |" in rows
    assert not any("No samples" in r or "Watchdog" in r or "old deploy" in r for r in rows)


def test_appendix_queries_sources_and_index() -> None:
    body = section(draft(), "Appendix")
    assert (
        "- **5xx ratio** (\\> 0.05), from \\[prometheus\\] query errors: [Prometheus graph for "
        "the window](http://prometheus:9090/graph?g0.expr=x+%3E+1&g0.tab=0&g0.range_input=5400s"
        "&g0.end_input=2026-02-17+15%3A30%3A00), [Grafana Explore](https://grafana.example/"
        "explore?schemaVersion=1&panes="
    ) in body
    assert "%22from%22%3A%221771336800000%22" in body  # 14:00:00Z in epoch ms
    assert "| pagerduty | partial | 6 | HTTP 429 \\| rate limited |" in body
    assert "- Warning from file: exports/app.log line 3: no time zone, assumed UTC" in body
    assert "- `events/file.parquet`: 5678 bytes, sha256 `fedcba987654`" in body
    assert body.rstrip().endswith("`incident report BUNDLE`")


def test_rendered_with_cmark_gfm_evidence_stays_text() -> None:
    html = render_gfm(draft())
    page = Html(html)
    for table in page.tables:
        assert len({len(row) for row in table}) == 1, table
    assert "".join(page.text).count(EVIL) == 1  # its Timeline row
    assert {"script", "img"}.isdisjoint(page.tags)
    assert not any(link.startswith("javascript") for link in page.links)
    subsections = ["Queries", "Sources", "Raw evidence index", "Regenerate"]
    assert page.headings[1:] == [*SECTIONS, *subsections]


def test_no_events_gives_every_section_and_invents_nothing() -> None:
    manifest = copy.deepcopy(MANIFEST)
    del manifest["window"], manifest["collected_at"]
    text = draft(manifest, empty_events())
    assert re.findall(r"^## (.+)$", text, re.MULTILINE) == list(SECTIONS)
    assert "Time to" not in text and "Impact start" not in text
    assert "_The evidence shows no threshold breach or error log to summarise._" in text
    assert "collected at an unknown time;" in text


def test_deterministic() -> None:
    assert draft() == draft()


def test_a_team_template_gets_the_same_context_escaped(tmp_path: Path) -> None:
    mine = tmp_path / "ours.md.j2"
    mine.write_text(
        "# {{ story.title }}\n{{ story.summary }}\n"
        "{% for r in story.timeline.rows %}{{ r.time_text }} {{ r.event }}\n{% endfor %}"
    )
    text = postmortem(MANIFEST, timeline(), template=mine)
    assert text.startswith("# Checkout API 5xx after v2.3.4 deploy\n5xx ratio \\> 0.05")
    assert "14:07:00 \\<script\\>x\\</script\\>" in text
    mine.write_text("{{ story.nope }}")
    with pytest.raises(TemplateError, match=r"ours\.md\.j2: .*Story.* has no attribute 'nope'"):
        postmortem(MANIFEST, timeline(), template=mine)
    mine.write_text("{% for %}")
    with pytest.raises(TemplateError, match=r"ours.md.j2:1: "):
        postmortem(MANIFEST, timeline(), template=mine)


def test_human_duration() -> None:
    cases = {
        pd.Timedelta(0): "0 s",
        pd.Timedelta(seconds=194): "3 min 14 s",
        pd.Timedelta(minutes=90): "1 h 30 min",
        pd.Timedelta(hours=1, seconds=5): "1 h 5 s",
        pd.Timedelta(days=2, hours=3): "2 d 3 h",
        pd.Timedelta(seconds=59.6): "1 min",
        pd.Timedelta(seconds=-65): "-1 min 5 s",
        pd.Timedelta(seconds=2.5): "3 s",
        pd.Timedelta(seconds=-0.4): "0 s",
    }
    assert {delta: human_duration(delta) for delta in cases} == cases


def test_a_long_incident_keeps_at_most_forty_rows_and_every_page() -> None:
    rows: list[tuple[Any, ...]] = [
        (f"14:{10 + i // 2:02d}:{(i % 2) * 30:02d}", "kubernetes", "k8s_event", "warning", None,
         f"Pod w{i}x: Reason{chr(65 + i % 26)}{chr(65 + i // 26)}: failed", {})
        for i in range(30)
    ]  # fmt: skip
    rows += [
        (f"14:{10 + i:02d}:05", "pagerduty", "page_notify", "info", None, f"Notified p{i}", {})
        for i in range(30)
    ]
    rows += [("14:50:00", "pagerduty", "page_ack", "info", "Alice", "Acknowledged", {})]
    body = section(draft(events=timeline(rows)), "Timeline")
    table = [x for x in body.splitlines() if x.startswith("| ")][2:]
    assert len(table) == 40
    assert "40 key events of 61 (2 less telling rows left out)" in body  # 10 k8s signatures + 1
    assert "| 14:50:00 | Acknowledged | pagerduty | Alice |" in table
    assert sum("Notified" in r for r in table) == 30  # notifications outrank k8s warnings


def test_a_log_silence_reads_as_lines_missing_not_as_muted_notifications() -> None:
    from incident_timeline.report.appendix import findings
    from incident_timeline.timeline.trust.findings import Finding, findings_frame

    start = pd.Timestamp("2026-02-17T14:20:00Z")
    silence = Finding(
        id="silence:worker@14:20:00",
        kind="gap",
        check="silence",  # timeline/trust/gaps.py: a log stream quiet far beyond its usual gaps
        time=start,
        end=start + pd.Timedelta(minutes=15),
        subject="worker",
        summary="worker silent for 15 min",
        detail="",
        ref="raw/file/worker.log#L120",
    )
    [found] = findings(findings_frame([silence]))
    assert found.meaning.startswith("The stream wrote nothing in this span")
    assert "Notifications" not in found.meaning


def test_counts_in_prose_read_as_numbers_not_years() -> None:
    # "5 key events of 2001" read like a year, and "1 clock and gap findings are" was wrong.
    template = environment().from_string(
        '{{ k | counted("key event") }} of {{ n | num }}; {{ f | counted("finding") }}'
    )
    assert template.render(k=1, n=2001, f=12345) == "1 key event of 2,001; 12,345 findings"

"""Figures: what they show comes from the bundle's events and metrics (asserted on the specs
the drawing receives), the files are written at the stated size, and one golden image."""

from __future__ import annotations

import os
import re
import struct
from pathlib import Path

import pandas as pd
import pytest
from matplotlib.testing.compare import compare_images

from incident_timeline.report.figspec import (
    Line,
    Marker,
    MetricFigure,
    Span,
    metric_figures,
    overview_figure,
    response_markers,
)
from incident_timeline.report.plots import DPI, SIZE, draw_metric, figures_markdown, write_figures
from incident_timeline.report.trust import load, read_metrics
from incident_timeline.timeline.schema import make_events
from tests.support import DATA, utc

GOLDEN = DATA / "golden" / "metric.png"


def png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", head[16:24])


def test_the_demo_figure_shows_the_incident_from_its_events(demo_bundle: Path) -> None:
    manifest, assembled = load(demo_bundle)
    [spec] = metric_figures(manifest, read_metrics(demo_bundle, manifest), assembled.events)
    assert (spec.name, spec.title, spec.threshold) == (
        "error_ratio",
        "5xx ratio (error_ratio)",
        (">", 0.05),
    )
    assert [(line.label, len(line.times)) for line in spec.lines] == [("service=checkout-api", 361)]
    assert spec.spans == (
        Span(utc("2026-02-17T14:11:15"), utc("2026-02-17T14:26:45"), "beyond threshold"),
    )
    assert [(m.time.strftime("%H:%M:%S"), m.category) for m in spec.markers] == [
        ("14:02:05", "deploy"),  # the CI pipeline
        ("14:02:10", "deploy"),  # the rollout it started
        ("14:11:30", "alert pending"),
        ("14:13:30", "alert firing"),
        ("14:13:33", "page"),
        ("14:16:47", "ack"),
        ("14:22:40", "mitigation"),  # the CI rollback, first
        ("14:22:41", "rollback"),  # the ReplicaSet scaled back up
        ("14:31:12", "resolved"),
    ]
    assert spec.markers[6].label == "rollback: ci/deploy (mitigation)"


def test_the_overview_has_a_lane_per_source_with_every_event(demo_bundle: Path) -> None:
    manifest, assembled = load(demo_bundle)
    spec = overview_figure(manifest, assembled.events)
    inside = assembled.events["time"].between(utc("2026-02-17T14:00"), utc("2026-02-17T15:30"))
    expected = assembled.events.loc[inside, "source"].value_counts()
    assert [lane.source for lane in spec.lanes] == [
        "kubernetes",
        "prometheus",
        "alertmanager",
        "pagerduty",
        "file",
        "integrity",
    ]
    assert {lane.source: sum(lane.counts) for lane in spec.lanes} == expected.to_dict()
    assert len(spec.edges) == 121 and spec.spans[0].start == utc("2026-02-17T14:11:15")


def test_report_writes_the_figures_and_links_them(demo_bundle: Path) -> None:
    names = sorted(p.name for p in (demo_bundle / "figures").iterdir())
    assert names == [
        "overview.png",
        "overview.svg",
        "query-error_ratio.png",
        "query-error_ratio.svg",
    ]
    for name in ("overview", "query-error_ratio"):
        assert png_size(demo_bundle / "figures" / f"{name}.png") == (SIZE[0] * DPI, SIZE[1] * DPI)
        svg = (demo_bundle / "figures" / f"{name}.svg").read_text()
        assert svg.startswith("<?xml") and 'width="864pt" height="360pt"' in svg
    text = (demo_bundle / "postmortem.md").read_text()
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert links == ["figures/overview.png", "figures/query-error_ratio.png"]


def test_figure_links_are_relative_to_the_document(tmp_path: Path) -> None:
    from incident_timeline.report.plots import Written

    fig = Written("overview", "A [b] title", "figures/overview.png", "figures/overview.svg")
    text = figures_markdown([fig], tmp_path / "bundle", tmp_path / "docs" / "pm.md")
    assert "![A b title](../bundle/figures/overview.png)" in text


def synthetic() -> tuple[dict[str, object], dict[str, pd.DataFrame], pd.DataFrame]:
    times = pd.date_range("2026-03-01T10:00Z", periods=61, freq="1min")
    rows = []
    for i in range(8):  # eight pods; the top five by peak get lines, three are summarised
        for j, t in enumerate(times):
            value = (i + 1) * (3.0 if 20 <= j < 40 else 1.0)
            rows.append({"time": t, "series": f'{{pod="p{i}"}}', "labels": "{}", "value": value})
    metrics = {"latency": pd.DataFrame(rows), "alerts": pd.DataFrame(rows)}
    events = make_events(
        time=[
            utc("2026-03-01T10:05"),
            utc("2026-03-01T10:20"),
            utc("2026-03-01T10:40"),
            utc("2026-03-01T10:22"),
            utc("2026-03-01T10:30"),
            utc("2026-03-01T10:50"),
        ],
        source=["kubernetes", "prometheus", "prometheus", "pagerduty", "pagerduty", "pagerduty"],
        stream=["ns/deployment/api", "latency", "latency", "P1", "P1", "P1"],
        kind=[
            "deploy",
            "metric_threshold",
            "metric_threshold",
            "page_trigger",
            "page_escalate",
            "page_resolve",
        ],
        summary=[
            "Scaled up replica set api-1 to 1",
            "latency above",
            "latency below",
            "Triggered",
            "Escalated to Bob",
            "Resolved",
        ],
        labels=[
            "{}",
            '{"pod": "p7", "state": "above", "threshold": "> 20"}',
            '{"pod": "p7", "state": "below", "threshold": "> 20"}',
            "{}",
            "{}",
            "{}",
        ],
        ref="raw/x#L1",
    )
    manifest = {
        "title": "Synthetic",
        "window": {"since": "2026-03-01T10:00:00Z", "until": "2026-03-01T11:00:00Z"},
    }
    return manifest, metrics, events


def test_top_series_by_peak_and_the_rest_summarised() -> None:
    manifest, metrics, events = synthetic()
    [spec] = metric_figures(manifest, metrics, events, top=5)  # alerts: markers, not a figure
    assert [line.label for line in spec.lines] == [f"pod=p{i}" for i in (7, 6, 5, 4, 3)]
    assert spec.lines[0].peak == 24.0 and spec.others == 3
    assert spec.rest is not None and spec.rest.label == "max of 3 other series"
    assert max(spec.rest.values) == 9.0 and spec.threshold == (">", 20.0)
    assert [(m.category, m.label) for m in spec.markers] == [
        ("deploy", "deploy: ns/deployment/api"),
        ("page", "Triggered"),
        ("escalation", "Escalated to Bob"),
        ("resolved", "Resolved"),
    ]


def test_figure_labels_are_redacted() -> None:
    events = synthetic()[2]
    events.loc[3, "summary"] = "Triggered with token=abcd1234efgh"
    from incident_timeline.report.redact import Redactor

    markers = response_markers(events, Redactor.default().text)
    assert [m.label for m in markers if m.category == "page"] == ["Triggered with token=«secret-1»"]


def test_golden_image(tmp_path: Path) -> None:
    t0 = utc("2026-03-01T10:00")
    minutes = [t0 + pd.Timedelta(minutes=i) for i in range(61)]
    spec = MetricFigure(
        name="error_ratio",
        title="5xx ratio (error_ratio)",
        lines=(
            Line(
                "service=api",
                tuple(minutes),
                tuple(0.3 if 20 <= i < 35 else 0.01 for i in range(61)),
                0.3,
            ),
        ),
        others=0,
        rest=None,
        threshold=(">", 0.05),
        spans=(Span(minutes[20], minutes[35], "beyond threshold"),),
        markers=(
            Marker(minutes[10], "deploy", "deploy"),
            Marker(minutes[22], "page", "page"),
            Marker(minutes[34], "mitigation", "rollback"),
        ),
        window=(minutes[0], minutes[-1]),
    )
    out = tmp_path / "metric.png"
    draw_metric(spec).savefig(out, dpi=DPI, metadata={"Software": None})
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.write_bytes(out.read_bytes())
    # RMS over 0-255 pixel values; font hinting differences stay well below 2.
    assert compare_images(str(GOLDEN), str(out), tol=2) is None


@pytest.mark.parametrize("count", [0, 1])
def test_a_bundle_without_metrics_still_gets_an_overview(tmp_path: Path, count: int) -> None:
    manifest, metrics, events = synthetic()
    written = write_figures(tmp_path, manifest, {} if count == 0 else metrics, events)
    assert [w.name for w in written] == ["overview"] + (["query-latency"] if count else [])


def test_the_draft_shows_its_figures_when_rendered_by_cmark_gfm(demo_bundle: Path) -> None:
    import shutil
    import subprocess

    from tests.report.browser import missing

    binary = shutil.which("cmark-gfm")
    if binary is None:
        missing("cmark-gfm is not installed; apt-get install --no-install-recommends cmark-gfm")
    page = subprocess.run(
        [str(binary), "--extension", "table", demo_bundle / "postmortem.md"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    images = re.findall(r'<img src="([^"]+)" alt="([^"]*)"', page)
    assert images == [
        ("figures/overview.png", "Checkout API 5xx after v2.3.4 deploy: events per source"),
        ("figures/query-error_ratio.png", "5xx ratio (error_ratio)"),
    ]
    assert all((demo_bundle / src).is_file() for src, _ in images)

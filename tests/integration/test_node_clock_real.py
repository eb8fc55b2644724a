"""Node clocks read from a real Prometheus scraping at 1 s: a real node_exporter on this
(unskewed) machine, and a small exporter whose node_time_seconds runs 1.25 s behind. The
finding names the skewed node with the right size and direction, its correction moves that
node's pod's log lines forward, and a recorded raw-samples export reads the same."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from incident_timeline.collector.bundle import read_manifest
from incident_timeline.collector.config import load_config
from incident_timeline.collector.files.collector import parse
from incident_timeline.collector.formats import Context
from incident_timeline.collector.prometheus.collector import PrometheusCollector
from incident_timeline.report.trust import read_metrics
from incident_timeline.timeline.schema import make_events
from incident_timeline.timeline.trust.checks import check_integrity
from incident_timeline.timeline.trust.findings import apply_corrections
from incident_timeline.timeline.trust.nodeclock import direct_readings
from tests.integration import servers
from tests.integration.servers import Server, wait_for
from tests.support import run_collector

SHIFT = -1.25  # node-x's clock, against this machine's (= Prometheus')
SCRAPES = 8


class Scraped:
    """The running servers and when scraping began."""

    def __init__(self) -> None:
        self.node = servers.start_time_node_exporter(servers.temp_dir("node-exporter-clock"))
        workdir = servers.temp_dir("prometheus-clock")
        self.skewed = servers.shifted_clock_exporter(workdir, SHIFT)
        config = (
            "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
            "scrape_configs:\n"
            f"- {{job_name: node, static_configs: [{{targets: ['{self.node.url[7:]}'], "
            "labels: {node: this-machine}}]}\n"
            f"- {{job_name: skewed, static_configs: [{{targets: ['{self.skewed.url[7:]}'], "
            "labels: {node: node-x}}]}\n"
        )
        self.started = datetime.now(UTC)
        self.prometheus: Server = servers.start_prometheus(workdir, config)

    def stop(self) -> None:
        for thing in (self.prometheus, self.skewed, self.node):
            thing.stop()


@pytest.fixture(scope="module")
def scraped() -> Iterator[Scraped]:
    servers.binary("prometheus")
    servers.binary("prometheus-node-exporter")
    running = Scraped()
    try:
        url = running.prometheus.url + "/api/v1/query"

        def enough() -> bool:
            q = {"query": "min(count_over_time(node_time_seconds[1m]))"}
            result = httpx.get(url, params=q).json()["data"]["result"]
            return bool(result) and float(result[0]["value"][1]) >= SCRAPES

        wait_for(f"{SCRAPES} scrapes of both targets", enough, timeout=40)
        yield running
    finally:
        running.stop()


def collect(tmp_path: Path, scraped: Scraped) -> Path:
    config = tmp_path / "config.toml"
    config.write_text(f'[prometheus]\nurl = "{scraped.prometheus.url}"\ngap_selector = ""\n')
    built = load_config(config).sources["prometheus"]
    prom = PrometheusCollector(built.settings, tmp_path)
    now = datetime.now(UTC)
    since = scraped.started - timedelta(seconds=5)
    out, outcome = run_collector(tmp_path, "prometheus", prom, since, now, now)
    assert outcome.status == "ok", outcome
    return out


def pod_on_node_x(first: pd.Timestamp) -> pd.DataFrame:
    """The scheduler's event placing pod ns/api-1 on node-x, and two lines it logged (their
    runtime stamps on node-x's clock)."""
    scheduled = make_events(
        time=[first],
        source="kubernetes",
        stream="ns/pod/api-1",
        kind="k8s_event",
        actor="default-scheduler",
        summary=["api-1: Scheduled"],
        message=["Successfully assigned ns/api-1 to node-x"],
        labels=[{"kind": "Pod", "name": "api-1", "namespace": "ns", "reason": "Scheduled"}],
        ref=["raw/k/events.json#/items/0"],
    )
    lines = make_events(
        time=[first + pd.Timedelta(seconds=2), first + pd.Timedelta(seconds=3)],
        source="kubernetes",
        stream="ns/api-1/app",
        kind="log",
        summary=["line 1", "line 2"],
        labels={"namespace": "ns", "pod": "api-1", "container": "app"},
        ref=["raw/k/api-1.log#L1", "raw/k/api-1.log#L2"],
    )
    return pd.concat([scheduled, lines], ignore_index=True)


def findings_of(tmp_path: Path, scraped: Scraped) -> tuple[Any, dict[str, pd.DataFrame], Path]:
    out = collect(tmp_path, scraped)
    manifest = read_manifest(out)
    metrics = read_metrics(out, manifest)
    events = pod_on_node_x(pd.Timestamp(scraped.started))
    return check_integrity(events, metrics, manifest), metrics, out


def test_this_machine_agrees_with_prometheus_and_the_skewed_node_is_named(
    scraped: Scraped, tmp_path: Path
) -> None:
    integrity, metrics, _ = findings_of(tmp_path, scraped)
    clock = metrics["node_time_seconds"]
    mine = clock[clock["labels"].str.contains('"node": "this-machine"')]
    durations = metrics["scrape_duration_seconds"]
    took = mine[["time"]].merge(
        durations[durations["labels"].str.contains('"job": "node"')][["time", "value"]],
        on="time",
    )["value"]
    direct = mine["value"] - mine["time"].dt.as_unit("ns").astype("int64") / 1e9
    assert len(direct) >= SCRAPES and len(took) == len(direct)
    # node_exporter reads the clock during the scrape: each reading lies within that scrape's
    # duration of Prometheus' stamp (a few ms; more when the machine is loaded), never before
    assert ((direct.to_numpy() >= -0.005) & (direct.to_numpy() <= took.to_numpy() + 0.005)).all()
    assert direct.median() < 0.02, direct.describe()

    node_findings = [f for f in integrity.findings if f.check.startswith("node_clock")]
    assert [f.id for f in node_findings] == ["node_clock:node-x"]  # this machine: no skew
    [finding] = node_findings
    assert abs(float(finding.labels["offset_seconds"]) - SHIFT) < 0.05
    assert finding.summary.startswith("node-x clock 1.2")
    assert " behind Prometheus (" in finding.summary
    assert int(finding.labels["samples"]) >= SCRAPES


def test_the_correction_moves_node_x_lines_forward(scraped: Scraped, tmp_path: Path) -> None:
    integrity, _, _ = findings_of(tmp_path, scraped)
    [correction] = [c for c in integrity.corrections() if c.id == "node_clock:node-x"]
    events = pod_on_node_x(pd.Timestamp(scraped.started))
    fixed, counts = apply_corrections(events, [correction])
    assert counts == {"node_clock:node-x": 2}
    moved = (fixed["time"] - events["time"]).dt.total_seconds()
    assert list(moved.iloc[1:] > 1.2) == [True, True] and moved.iloc[0] == 0  # forward
    assert abs(moved.iloc[1] + SHIFT) < 0.05


def test_a_recorded_raw_export_reads_the_same(scraped: Scraped, tmp_path: Path) -> None:
    _, metrics, out = findings_of(tmp_path, scraped)
    live = direct_readings(metrics)
    manifest = read_manifest(out)
    since, until = (pd.Timestamp(manifest["window"][k]) for k in ("since", "until"))
    span = f"{int((until - since).total_seconds() * 1000)}ms"
    exported = {}
    for name, selector in (
        ("node_time_seconds", "node_time_seconds"),
        ("scrape_duration_seconds", 'scrape_duration_seconds{job=~"node|skewed"}'),
    ):  # curl .../api/v1/query?query=<selector>[<window>]&time=<until>, saved as returned
        body = httpx.get(
            scraped.prometheus.url + "/api/v1/query",
            params={"query": f"{selector}[{span}]", "time": f"{until.timestamp():.3f}"},
        ).content
        ctx = Context(ref=f"raw/file/{name}.json", stream=name)
        samples = parse("prometheus-query-range", body, ctx).metrics
        assert samples is not None
        exported[name] = samples
    recorded = direct_readings(exported)
    assert sorted(live) == sorted(recorded) == ["node-x", "this-machine"]
    assert live["this-machine"] == recorded["this-machine"] == []
    [a], [b] = live["node-x"], recorded["node-x"]
    assert (a.samples, a.start, a.end) == (b.samples, b.start, b.end)
    assert a.offset == pytest.approx(b.offset, abs=1e-6)
    assert json.loads(body)["data"]["resultType"] == "matrix"

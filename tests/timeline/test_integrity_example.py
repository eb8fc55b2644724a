"""The bundled example's planted traps are each found with the right size and place, and the
same story without them (``generate.py --clean``) gives no finding at all."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from incident_timeline.report.cli import cli
from incident_timeline.report.trust import load
from incident_timeline.timeline.trust.checks import Assembled
from incident_timeline.timeline.trust.findings import Finding
from tests.support import ROOT

TRUTH = json.loads((ROOT / "examples/checkout-incident/truth.json").read_text())
TRAPS = TRUTH["traps"]


def collect(config: Path, out: Path) -> Path:
    result = CliRunner().invoke(
        cli, ["collect", "-c", str(config), "-o", str(out)], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Assembled:
    bundle = collect(ROOT / "config.example.toml", tmp_path_factory.mktemp("ex") / "bundle")
    return load(bundle)[1]


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Assembled:
    root = tmp_path_factory.mktemp("clean")
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "examples/generate.py"),
            "--clean",
            str(root / "examples/checkout-incident"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    shutil.copy(ROOT / "config.example.toml", root / "config.toml")
    return load(collect(root / "config.toml", root / "bundle"))[1]


def by_check(assembled: Assembled, check: str) -> list[Finding]:
    return [f for f in assembled.integrity.findings if f.check == check]


def at(text: str) -> pd.Timestamp:
    return pd.Timestamp(text)


def test_node_b_clock_is_ahead_by_its_offset_for_the_whole_window(example: Assembled) -> None:
    [node] = by_check(example, "node_clock")
    skew = TRAPS["clock_skew"]
    assert node.id == f"node_clock:{skew['node']}"
    # the direct measure, within the scrape latency the example's scrapes took (4-12 ms)
    assert float(node.labels["offset_seconds"]) == pytest.approx(skew["offset_seconds"], abs=0.01)
    assert node.labels["measure"] == "node_time_seconds − scrape time"
    assert node.labels["samples"] == "360"  # 90 min of 15 s scrapes
    assert (node.labels["sync_status"], node.labels["maxerror_seconds"]) == ("0", "16")
    assert abs(float(node.labels["timex_offset_seconds"])) < 0.001  # the kernel shows nothing
    assert float(node.labels["event_offset_seconds"]) == pytest.approx(2.4, abs=1.0)
    assert node.labels["disagree"] == ""
    assert (node.time, node.end) == (at("2026-02-17T14:00:09.604Z"), at("2026-02-17T15:29:54.604Z"))
    assert node.correction is not None and (node.correction.since, node.correction.until) == (
        None,
        None,
    )  # measured for the whole window
    assert node.ref.startswith("metrics/node_time_seconds.parquet#/data/result/1/")
    node_b_logged = sorted(
        p["name"] for p in TRUTH["pods"] if p["node"] == "node-b" and p["log_exports"]
    )
    assert node.correction is not None
    assert sorted({s.split("/")[1] for s in node.correction.streams}) == node_b_logged
    assert node.correction.shift_ns == -2_400_000_000
    assert "node-b clock 2.4 s ahead" in node.summary


def test_pgbouncer_logs_new_york_time_without_a_zone(example: Assembled) -> None:
    [app] = by_check(example, "app_clock")
    assert app.id == "app_clock:pgbouncer"
    assert float(app.labels["offset_seconds"]) == pytest.approx(-5 * 3600, abs=0.05)
    assert app.labels["utc_offset"] == "UTC−05:00"
    assert TRAPS["pgbouncer_timezone"]["zone"] in app.labels["zones"].split(",")
    assert "America/New_York" in app.summary and "5 h behind" in app.summary
    pgbouncers = [
        s
        for s in TRUTH["counts"]["log_exports"]["exports/checkout-logs-1420.txt"]["streams"]
        if s.endswith("/pgbouncer")
    ]
    pgbouncers += [
        s
        for s in TRUTH["counts"]["log_exports"]["exports/checkout-logs-1530.txt"]["streams"]
        if s.endswith("/pgbouncer")
    ]
    assert app.correction is not None
    assert sorted(app.correction.streams) == sorted(pgbouncers)
    assert (app.correction.columns, app.correction.shift_ns) == (("embedded_time",), 18000 * 10**9)


def test_six_minute_scrape_gap_in_up_for_one_pod(example: Assembled) -> None:
    [gap] = by_check(example, "metric_gap")
    trap = TRAPS["scrape_gap"]
    assert (gap.time, gap.end) == (at(trap["start"]), at(trap["end"]))
    assert gap.labels["missing_steps"] == str(trap["missing_samples"]) == "24"
    assert (gap.labels["pod"], gap.labels["instance"]) == (trap["pod"], trap["instance"])
    assert gap.labels["end_exclusive"] == "true"
    assert gap.ref.startswith("metrics/up.parquet#/data/result/")
    assert "14:40:00 to 14:46:00" in gap.summary


def test_deleted_pods_are_in_events_but_have_no_logs(example: Assembled) -> None:
    missing = by_check(example, "missing_logs")
    assert sorted(f.labels["pod"] for f in missing) == sorted(TRAPS["deleted_pods_without_logs"])
    [deleted] = [f for f in missing if f.labels["pod"] == TRAPS["deleted_pod"]]
    pod = TRUTH["deleted_pod"]
    assert deleted.labels["node"] == pod["node"]
    assert deleted.end == at(pod["killing_event_timestamp"])  # node-b's clock, as reported
    assert deleted.time == at(
        next(p["created"] for p in TRUTH["pods"] if p["name"] == pod["name"])
    ).floor("s")
    assert deleted.ref.startswith("raw/file/examples/checkout-incident/exports/events.json#/")


def test_logs_saved_at_1420_miss_the_rest_of_the_bad_pods_lives(example: Assembled) -> None:
    cut = {f.labels["pod"]: f for f in by_check(example, "logs_cut")}
    bad = {
        p["name"]: p
        for p in TRUTH["pods"]
        if p["version"] == TRUTH["deploy"]["version"]
        and p["log_exports"] == ["exports/checkout-logs-1420.txt"]
    }
    assert set(cut) <= set(bad) and len(cut) == 3
    for name, finding in cut.items():
        assert finding.time < at("2026-02-17T14:20:01Z") < finding.end
        assert abs(finding.end - at(bad[name]["deleted"])) < pd.Timedelta(seconds=3)


def test_alert_path_lags_from_prometheus_to_pagerduty(example: Assembled) -> None:
    [path] = example.integrity.paths
    alert = TRUTH["alert"]
    assert [s.name for s in path.stages] == ["prometheus", "alertmanager", "webhook", "pagerduty"]
    assert [s.time for s in path.stages] == [
        at(alert["firing_first_sample"]),
        at(alert["starts_at"]),
        at(alert["webhook_firing_received"]),
        at(TRUTH["pagerduty"]["triggered"]),
    ]
    assert [round(lag, 3) for *_, lag in path.lags()] == [0.512, 0.688, 1.8]
    assert not by_check(example, "alert_path")


def test_only_the_planted_traps_are_found(example: Assembled) -> None:
    checks = sorted({f.check for f in example.integrity.findings})
    assert checks == ["app_clock", "logs_cut", "metric_gap", "missing_logs", "node_clock"]
    ids = [f.id for f in example.integrity.findings]
    assert len(ids) == len(set(ids)) == 11


def test_findings_are_events_on_the_timeline(example: Assembled) -> None:
    rows = example.events[example.events["source"] == "integrity"]
    assert len(rows) == len(example.integrity.findings)
    assert set(rows["kind"]) == {"clock", "gap"} and set(rows["severity"]) == {"warning"}
    assert rows["time"].is_monotonic_increasing
    assert example.duplicates == 2  # the two "Note added" entries of the PagerDuty log


def test_the_clean_variant_gives_no_finding(clean: Assembled) -> None:
    assert clean.integrity.findings == ()
    [path] = clean.integrity.paths  # the alert still travels, in order
    assert all(lag >= 0 for *_, lag in path.lags())
    assert clean.duplicates > 0  # its two log saves overlap: the same lines count once

"""`incident clocks` on the bundled example, and corrections flowing into timeline and report."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner, Result

from incident_timeline.report.cli import cli
from tests.support import ROOT

TRUTH = json.loads((ROOT / "examples/checkout-incident/truth.json").read_text())


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def collected(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("clocks") / "bundle"
    result = run("collect", "-c", str(ROOT / "config.example.toml"), "-o", str(out))
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture
def bundle(collected: Path, tmp_path: Path) -> Path:
    """A private copy, so corrections written by one test do not leak into another."""
    return Path(shutil.copytree(collected, tmp_path / "bundle"))


def test_text_report_names_each_trap_and_offers_corrections(collected: Path) -> None:
    result = run("clocks", str(collected))
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0] == (
        "Window 2026-02-17T14:00:00Z .. 2026-02-17T15:30:00Z · 11 finding(s): "
        "2 clock, 9 gap · 2 correction(s) on offer"
    )
    text = result.output
    assert (
        "CLOCK  node_clock:node-b\n  14:00:09.604–15:29:54.604  node-b clock 2.4 s ahead of "
        "Prometheus (14:00:09.604–15:29:54.604; node_time_seconds − scrape time, median of 360 "
        "scrapes, spread 2 ms); agree: node_timex_sync_status 0 (not synchronised), maxerror "
        "16 s ≥ the offset, kubelet events +2.0 s (median of 44, against 35 events of other "
        "nodes); silent: node_timex_offset_seconds +0.000 s"
    ) in text
    assert (
        f"  correction: shift time and embedded_time by −2.4 s on 8 stream(s), 44 event(s) "
        f"(offered: incident clocks {collected} --correct node_clock:node-b)"
    ) in text
    assert "fits UTC−05:00: America/New_York" in text
    assert (
        "  14:40:00–14:46:00  up: no samples for pod=checkout-api-5c9d7f6b8-hmlh4 from "
        "14:40:00 to 14:46:00 (24 missing 15 s steps, 6 min)"
    ) in text
    assert f"No logs for pod {TRUTH['deleted_pod']['name']} on node-b" in text
    assert (
        "  HighErrorRate: Prometheus firing 14:13:30 → Alertmanager startsAt 14:13:30.512 "
        "(+0.512 s) → webhook received 14:13:31.200 (+0.688 s) → PagerDuty trigger "
        "14:13:33 (+1.800 s); total +3.000 s"
    ) in lines
    assert (
        "  webhook received → PagerDuty trigger: 1 alert, median +1.800 s, spread 0.000 s "
        "(min +1.800 s, max +1.800 s)"
    ) in lines
    assert lines[-1].startswith(f"Accept: incident clocks {collected} --correct (all)")


def test_json_report(collected: Path) -> None:
    result = run("clocks", str(collected), "--format", "json")
    doc = json.loads(result.output)
    assert doc["window"] == {"since": "2026-02-17T14:00:00Z", "until": "2026-02-17T15:30:00Z"}
    assert len(doc["findings"]) == 11 and doc["corrections_applied"] == {}
    node = next(f for f in doc["findings"] if f["id"] == "node_clock:node-b")
    assert (node["kind"], node["time"], node["end"]) == (
        "clock",
        "2026-02-17T14:00:09.604Z",
        "2026-02-17T15:29:54.604Z",
    )
    assert node["correction"]["shift_seconds"] == -2.4
    assert doc["alert_paths"][0]["lags_seconds"] == [0.512, 0.688, 1.8]
    assert [(h["cause"], h["effect"], h["count"], h["negative"]) for h in doc["alert_hops"]] == [
        ("prometheus", "alertmanager", 1, 0),
        ("alertmanager", "webhook", 1, 0),
        ("webhook", "pagerduty", 1, 0),
    ]


def test_correct_one_then_timeline_and_report_use_it(bundle: Path) -> None:
    result = run("clocks", str(bundle), "--correct", "node_clock:node-b")
    assert result.exit_code == 0
    assert f"Wrote {bundle / 'corrections.json'}: node_clock:node-b" in result.output
    assert "(applied to 5917 rows)" in result.output
    saved = json.loads((bundle / "corrections.json").read_text())
    assert [c["id"] for c in saved["corrections"]] == ["node_clock:node-b"]

    timeline = run("timeline", str(bundle), "--format", "jsonl", "--grep", "^panic:")
    [panic] = [json.loads(line) for line in timeline.output.splitlines()]
    trap = TRUTH["traps"]["multiline_panic"]
    assert pd.Timestamp(panic["time"]) - pd.Timestamp(trap["true_time"]) < pd.Timedelta("5ms")
    assert panic["time_quality"] == "corrected"
    assert panic["labels"]["time_original"].startswith(trap["time"][:19])
    assert panic["labels"]["correction"] == "node_clock:node-b"

    key = run("timeline", str(bundle), "--key-only", "--format", "md").output
    assert "node-b clock 2.4 s ahead" in key and "\\[corrected\\]" in key

    run("report", str(bundle))
    text = (bundle / "postmortem.md").read_text()
    assert "Times of 5917 events were corrected for clock problems" in text
    assert "Corrections applied (accepted with `incident clocks --correct`" in text
    assert (
        "- `node_clock:node-b`: node-b's clock was 2.4 s ahead; time and "
        "embedded_time shifted by -2.400 s on 5917 rows"
    ) in text
    assert "## Evidence Integrity" in text
    assert "Corrections on offer, not applied: `app_clock:pgbouncer`. Accept them" in text


def test_correct_all_and_unknown_ids(bundle: Path) -> None:
    bad = CliRunner().invoke(cli, ["clocks", str(bundle), "--correct", "node_clock:node-z"])
    assert bad.exit_code == 1
    assert (
        "Error: no suggested correction node_clock:node-z; on offer: node_clock:node-b, "
        "app_clock:pgbouncer"
    ) in bad.output
    assert not (bundle / "corrections.json").exists()
    result = run("clocks", str(bundle), "--correct")
    assert "app_clock:pgbouncer, node_clock:node-b" in result.output
    frame = pd.DataFrame(
        json.loads(line)
        for line in run(
            "timeline", str(bundle), "--format", "jsonl", "--grep", "pooler error"
        ).output.splitlines()
    )
    gap = pd.to_datetime(frame["time"]) - pd.to_datetime(frame["embedded_time"])
    assert gap.abs().max() < pd.Timedelta("10ms")  # pgbouncer's local time now reads as UTC


def test_broken_corrections_file_is_a_clear_error(bundle: Path) -> None:
    (bundle / "corrections.json").write_text("{}")
    result = CliRunner().invoke(cli, ["timeline", str(bundle)])
    assert result.exit_code == 1
    assert (
        "corrections.json: not a corrections document: no 'corrections' list; fix or "
        "delete it to show uncorrected times" in result.output
    )

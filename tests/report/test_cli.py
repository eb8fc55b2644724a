"""The `incident` commands end to end on the bundled example, through click's runner."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from incident_timeline.report.cli import cli
from incident_timeline.report.postmortem import SECTIONS
from tests.support import ROOT

EXAMPLE = ROOT / "examples" / "checkout-incident"
TRUTH = json.loads((EXAMPLE / "truth.json").read_text())


def invoke(*args: str) -> object:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("demo") / "bundle"
    result = CliRunner().invoke(cli, ["demo", "-o", str(out)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return out, result.output


def jsonl(bundle: Path, *args: str) -> pd.DataFrame:
    result = invoke("timeline", str(bundle), "--format", "jsonl", *args)
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    rows = [json.loads(line) for line in result.output.splitlines()]  # type: ignore[attr-defined]
    return pd.DataFrame(rows)


def test_demo_prints_where_the_outputs_are(demo: tuple[Path, str]) -> None:
    out, output = demo
    assert f"Postmortem:  {out / 'postmortem.md'}" in output
    assert f"Timeline:    {out / 'timeline.md'}" in output
    for name in ("manifest.json", "postmortem.md", "timeline.md", "events/file.parquet"):
        assert (out / name).is_file(), name


def test_demo_ack_is_on_the_timeline_exactly(demo: tuple[Path, str]) -> None:
    frame = jsonl(demo[0], "--source", "pagerduty")
    ack = frame[frame["kind"] == "page_ack"]
    assert ack[["time", "actor", "source"]].to_dict("records") == [
        {"time": "2026-02-17T14:16:47.000000000Z", "actor": "Alice Chen", "source": "pagerduty"}
    ]
    assert (TRUTH["pagerduty"]["acknowledged"], TRUTH["pagerduty"]["responder"]) == (
        "2026-02-17T14:16:47Z",
        "Alice Chen",
    )


def test_every_pod_log_line_is_in_the_bundle(demo: tuple[Path, str]) -> None:
    lines = sum(
        len(p.read_text().splitlines()) for p in EXAMPLE.glob("exports/checkout-logs-*.txt")
    )
    frame = jsonl(demo[0], "--source", "kubernetes")
    logs = frame[frame["kind"] == "log"]
    assert len(logs) == lines == TRUTH["counts"]["log_lines_total"]
    first = logs[logs["summary"].str.contains("status=503")].iloc[0]
    assert first["embedded_time"] == "2026-02-17T14:10:03.412000000Z"
    assert first["time"] == TRUTH["first_5xx"]["runtime_timestamp"].replace("Z", "") + "Z"
    assert first["ref"] == f"raw/file/examples/checkout-incident/{TRUTH['first_5xx']['file']}#L276"
    assert first["stream"] == f"checkout/{TRUTH['first_5xx']['pod']}/checkout-api"


def test_demo_manifest(demo: tuple[Path, str]) -> None:
    manifest = json.loads((demo[0] / "manifest.json").read_text())
    assert manifest["window"] == {"since": "2026-02-17T14:00:00Z", "until": "2026-02-17T15:30:00Z"}
    source = manifest["sources"]["file"]
    assert (source["status"], source["error"], source["counts"]["files"]) == ("ok", None, 17)
    assert source["counts"]["k8s_events"] == TRUTH["counts"]["events"]
    assert len([f for f in manifest["files"] if f.startswith("raw/file/")]) == 17


def test_key_timeline_in_markdown(demo: tuple[Path, str]) -> None:
    result = invoke("timeline", str(demo[0]), "--key-only", "--format", "md")
    lines = result.output.splitlines()  # type: ignore[attr-defined]
    assert lines[0] == "| Time (UTC) | Source | Kind | Actor | Summary |"
    assert (
        "| 2026-02-17 14:16:47 | pagerduty | page_ack | Alice Chen | Acknowledged by Alice Chen |"
        in lines
    )
    assert 20 < len(lines) < 60
    kinds = [line.split(" | ")[2] for line in lines[2:]]
    # one row per rollout: the deploy log's v2.3.4 and rollback pipelines, and the two
    # Kubernetes rollouts (the deploy log's history from the day before is outside the window)
    assert kinds.count("deploy") == 4


def test_postmortem_draft(demo: tuple[Path, str]) -> None:
    text = (demo[0] / "postmortem.md").read_text()
    headings = [line[3:] for line in text.splitlines() if line.startswith("## ")]
    assert headings == list(SECTIONS)
    assert "- **Time to acknowledge:** 3 min 14 s (page 14:13:33 → acknowledged 14:16:47)" in text
    assert "| Time (UTC) | Event | Source | Actor |" in text
    assert (demo[0] / "postmortem-timeline.csv").is_file()


def test_timeline_filters_and_files(demo: tuple[Path, str], tmp_path: Path) -> None:
    frame = jsonl(demo[0], "--grep", "pool exhausted", "--source", "kubernetes")
    assert len(frame) > 0 and frame["summary"].str.contains("pool exhausted").all()
    out = tmp_path / "t.csv"
    assert invoke("timeline", str(demo[0]), "--key-only", "-o", str(out)).exit_code == 0  # type: ignore[attr-defined]
    assert out.read_text().splitlines()[0].startswith("time,source,stream,kind,severity,actor")
    pq = tmp_path / "t.parquet"
    invoke("timeline", str(demo[0]), "-o", str(pq))
    full = pd.read_parquet(pq)
    # every collected event, less the two PagerDuty "Note added" entries merged into their
    # notes, plus the integrity findings (source "integrity")
    assert (
        len(full[full["source"] != "integrity"]) + 2
        == json.loads((demo[0] / "manifest.json").read_text())["sources"]["file"]["counts"][
            "events"
        ]
    )
    bad = CliRunner().invoke(cli, ["timeline", str(demo[0]), "--grep", "db(pool"])
    assert bad.exit_code == 1 and "invalid grep pattern 'db(pool'" in bad.output


def test_collect_errors_and_exit_codes(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[incident]\ntitel = "x"\n')
    result = CliRunner().invoke(cli, ["collect", "-c", str(config), "--last", "1h", "-o", "b"])
    assert result.exit_code == 1
    assert f"Error: {config}: unknown key incident.titel (did you mean 'title'?)" in result.output
    config.write_text('[[file]]\npath = "x.log"\n')
    result = CliRunner().invoke(
        cli,
        [
            "collect",
            "-c",
            str(config),
            "--since",
            "2026-02-17T15:00:00Z",
            "--until",
            "2026-02-17T14:00:00Z",
            "-o",
            str(tmp_path / "b"),
        ],
    )
    assert result.exit_code == 1
    assert "the window's start 2026-02-17T15:00:00Z is not before its end" in result.output
    assert not (tmp_path / "b").exists()
    result = CliRunner().invoke(
        cli, ["collect", "-c", str(config), "--last", "1h", "-o", str(tmp_path / "b")]
    )
    assert result.exit_code == 3, result.output
    assert "x.log: no such file" in result.output
    assert (
        json.loads((tmp_path / "b/manifest.json").read_text())["sources"]["file"]["status"]
        == "partial"
    )


def test_not_a_bundle(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["report", str(tmp_path)])
    assert result.exit_code == 1 and "is not a bundle (no manifest.json)" in result.output


def test_example_is_what_the_generator_makes() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples/generate.py"), "--check"],
        check=False,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr

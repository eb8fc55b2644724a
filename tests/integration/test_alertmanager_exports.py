"""Issue 8, item 9 end to end: the same alert and silence from a real Alertmanager's API and
from real ``amtool ... -o json`` exports of it are one event each on the timeline, while the
bundle keeps both copies as evidence."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pandas as pd
from click.testing import CliRunner

from incident_timeline.report.cli import cli
from tests.integration.servers import LocalHTTP, Server, binary


def iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def amtool(url: str, *args: str) -> str:
    command = [binary("amtool"), *args, "-o", "json", f"--alertmanager.url={url}"]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout


def test_an_alert_and_a_silence_from_the_api_and_amtool_are_one_event_each(
    alertmanager: tuple[Server, LocalHTTP], tmp_path: Path
) -> None:
    server, _ = alertmanager
    api = httpx.Client(base_url=server.url + "/api/v2")
    now = datetime.now(UTC).replace(microsecond=0)
    labels = {"alertname": "ExportedTwice", "instance": "api-7:8080"}
    posted = api.post(
        "/alerts", json=[{"labels": labels, "startsAt": iso(now - timedelta(minutes=3))}]
    )
    assert posted.status_code == 200, posted.text
    matchers = [{"name": "alertname", "value": "ExportedTwice", "isRegex": False}]
    silence = {
        "matchers": matchers,
        "startsAt": iso(now),
        "endsAt": iso(now + timedelta(hours=1)),
        "createdBy": "bob@example.com",
        "comment": "exported twice",
    }
    silence_id = api.post("/silences", json=silence).json()["silenceID"]
    exports = tmp_path / "exports"
    exports.mkdir()
    # amtool's own JSON, as an on-call engineer saves it (all states: the alert is silenced)
    (exports / "silences.json").write_text(
        amtool(server.url, "silence", "query", "alertname=ExportedTwice")
    )
    (exports / "alerts.json").write_text(
        amtool(server.url, "alert", "query", "-a", "-s", "-i", "alertname=ExportedTwice")
    )
    config = tmp_path / "config.toml"
    config.write_text(f'[alertmanager]\nurl = "{server.url}"\n[[file]]\npath = "exports/*.json"\n')
    bundle = tmp_path / "bundle"
    window = [
        "--since",
        iso(now - timedelta(minutes=30)),
        "--until",
        iso(now + timedelta(minutes=5)),
    ]
    runner = CliRunner()
    result = runner.invoke(cli, ["collect", "-c", str(config), *window, "-o", str(bundle)])
    assert result.exit_code == 0, result.output
    stored = pd.concat(
        [pd.read_parquet(bundle / f"events/{s}.parquet") for s in ("alertmanager", "file")]
    )
    copies = stored["labels"].str.contains(silence_id, regex=False)
    assert sorted(stored.loc[copies, "ref"].str.partition("#")[0]) == [
        "raw/alertmanager/api/silences.json",
        "raw/file/exports/silences.json",
    ]
    timeline = runner.invoke(cli, ["timeline", str(bundle), "-f", "jsonl"])
    assert timeline.exit_code == 0, timeline.output
    rows = [json.loads(line) for line in timeline.stdout.splitlines()]
    silences = [r for r in rows if r["kind"] == "silence" and silence_id in json.dumps(r["labels"])]
    alerts = [r for r in rows if r["kind"] == "alert_firing" and "ExportedTwice" in r["summary"]]
    assert len(silences) == 1, silences
    assert len(alerts) == 1, alerts

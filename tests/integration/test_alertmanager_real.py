"""`incident collect` against a real Alertmanager (alerts and silences posted through its API,
notifications logged by a real webhook receiver), and the same alert followed through a live
Prometheus evaluating a real alerting rule into that Alertmanager."""

from __future__ import annotations

import json
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
from click.testing import CliRunner

from incident_timeline.collector.alertmanager.collector import REMOVED
from incident_timeline.collector.prometheus.queryrange import fingerprint
from incident_timeline.report.cli import cli
from tests.integration.servers import Live, LocalHTTP, Server, binary, wait_for


def iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def collect(tmp_path: Path, toml: str, since: datetime, until: datetime) -> tuple[Any, Path]:
    config = tmp_path / "config.toml"
    config.write_text(toml)
    out = tmp_path / "bundle"
    result = CliRunner().invoke(
        cli,
        [
            "collect",
            "-c",
            str(config),
            "--since",
            iso(since),
            "--until",
            iso(until),
            "-o",
            str(out),
        ],
    )
    return result, out


def events(out: Path, source: str) -> pd.DataFrame:
    frame = pd.read_parquet(out / f"events/{source}.parquet")
    return frame.sort_values(["time", "kind"], kind="stable").reset_index(drop=True)


def named(frame: pd.DataFrame, alertname: str) -> pd.DataFrame:
    keep = frame["labels"].map(lambda text: json.loads(text).get("alertname") == alertname)
    return frame[keep].reset_index(drop=True)


def test_alerts_and_silences_from_the_real_api(
    alertmanager: tuple[Server, LocalHTTP], tmp_path: Path
) -> None:
    server, _ = alertmanager
    api = httpx.Client(base_url=server.url + "/api/v2")
    now = datetime.now(UTC).replace(microsecond=0)
    labels = {"alertname": "DiskFull", "instance": "db-1:9100", "severity": "warning"}
    starts = now - timedelta(minutes=10)
    posted = api.post(
        "/alerts",
        json=[
            {
                "labels": labels,
                "startsAt": iso(starts),
                "generatorURL": "http://prometheus/graph?g0.expr=x",
            }
        ],
    )
    assert posted.status_code == 200, posted.text
    silence = {
        "matchers": [{"name": "alertname", "value": "DiskFull", "isRegex": False, "isEqual": True}],
        "startsAt": iso(now - timedelta(minutes=5)),
        "endsAt": iso(now + timedelta(hours=1)),
        "createdBy": "alice@example.com",
        "comment": "disk swap in progress, OPS-123",
    }
    silence_id = api.post("/silences", json=silence).json()["silenceID"]
    stored = next(s for s in api.get("/silences").json() if s["id"] == silence_id)
    seen = next(a for a in api.get("/alerts").json() if a["labels"] == labels)

    result, out = collect(
        tmp_path,
        f'[alertmanager]\nurl = "{server.url}"\n',
        now - timedelta(minutes=30),
        now + timedelta(minutes=1),
    )
    assert result.exit_code == 0, result.output
    frame = events(out, "alertmanager")
    [silenced] = frame[frame["labels"].str.contains(silence_id)].itertuples()
    # a silence cannot be back-dated: Alertmanager stores its creation time as startsAt
    assert silenced.time == pd.Timestamp(stored["startsAt"]) > pd.Timestamp(now)
    assert (silenced.kind, silenced.actor, silenced.message) == (
        "silence",
        "alice@example.com",
        "disk swap in progress, OPS-123",
    )
    assert silenced.summary == (
        f"Silence by alice@example.com on alertname=DiskFull until "
        f"{stored['endsAt']}: disk swap in progress, OPS-123"
    )
    [alert] = named(frame, "DiskFull").itertuples()
    assert (alert.kind, alert.time) == ("alert_firing", pd.Timestamp(starts))
    assert json.loads(alert.labels) == {
        **labels,
        "fingerprint": fingerprint(labels),
        "state": "suppressed",
        "receivers": "webhook-logger",
        "ends_at": seen["endsAt"],
        "updated_at": seen["updatedAt"],
        "generator_url": "http://prometheus/graph?g0.expr=x",
    }
    assert seen["fingerprint"] == fingerprint(labels)  # our FNV-1a is Alertmanager's
    version = subprocess.run(
        [binary("prometheus-alertmanager"), "--version"], capture_output=True, text=True, check=True
    ).stdout
    status = json.loads((out / "raw/alertmanager/api/status.json").read_text())
    assert status["config"] == {"original": REMOVED}
    assert f"version {status['versionInfo']['version']} " in version
    assert status["cluster"]["status"] == "disabled"


def test_the_same_alert_in_prometheus_and_alertmanager(
    live_prometheus: Live, alertmanager: tuple[Server, LocalHTTP], tmp_path: Path
) -> None:
    prom, exporter = live_prometheus.prometheus, live_prometheus.exporter
    am, hook = alertmanager
    papi = httpx.Client(base_url=prom.url + "/api/v1")
    wait_for(
        "Prometheus to scrape the exporter",
        lambda: papi.get("/query", params={"query": 'up{job="app"} == 1'}).json()["data"]["result"],
    )
    since = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=30)

    def ours(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [i for i in items if i["labels"].get("alertname") == "LiveErrorRatio"]

    def logged(status: str) -> list[dict[str, Any]]:
        return [
            n
            for n in hook.notifications()
            if n["payload"]["status"] == status
            and n["payload"]["commonLabels"].get("alertname") == "LiveErrorRatio"
        ]

    exporter.values["app_error_ratio"] = 0.9
    [firing] = wait_for(
        "the alert to fire",
        lambda: [
            a for a in ours(papi.get("/alerts").json()["data"]["alerts"]) if a["state"] == "firing"
        ],
    )
    [in_am] = wait_for(
        "Alertmanager to receive it", lambda: ours(httpx.get(am.url + "/api/v2/alerts").json())
    )
    wait_for("the firing notification", lambda: logged("firing"))
    exporter.values["app_error_ratio"] = 0.0
    [resolved] = wait_for("the resolved notification", lambda: logged("resolved"))
    time.sleep(2)  # past 1.5 evaluation steps: the data shows the alert ended

    toml = (
        f'[prometheus]\nurl = "{prom.url}"\nstep = "1s"\n\n[alertmanager]\nurl = "{am.url}"\n'
        f'webhook_log = "{hook.log_path}"\n'
    )
    result, out = collect(tmp_path, toml, since, datetime.now(UTC) + timedelta(seconds=30))
    assert result.exit_code == 0, result.output

    p = named(events(out, "prometheus"), "LiveErrorRatio")
    assert list(p["kind"]) == ["alert_pending", "alert_firing", "alert_resolved"]
    active_at = pd.Timestamp(firing["activeAt"])
    assert p["time"][0] == active_at.floor("ms")  # the first pending evaluation
    assert list(p["embedded_time"]) == [active_at.floor("s")] * 3  # ALERTS_FOR_STATE: seconds
    assert p["time"][1] - p["time"][0] == pd.Timedelta(seconds=2)  # for: 2s, evaluated every 1s
    assert p["time"][1] == pd.Timestamp(in_am["startsAt"])  # Prometheus sends FiredAt
    assert p["time"][2] == pd.Timestamp(resolved["payload"]["alerts"][0]["endsAt"])
    for labels in p["labels"]:
        assert json.loads(labels)["fingerprint"] == in_am["fingerprint"]
    assert p["message"][1].endswith(
        "\nrule LiveErrorRatio (group live, for 2s): app_error_ratio > 0.5"
    )

    notes = named(events(out, "alertmanager"), "LiveErrorRatio")
    assert list(notes["summary"]) == [
        "Alertmanager notified webhook-logger: [FIRING:1] LiveErrorRatio",
        "Alertmanager notified webhook-logger: [RESOLVED:1] LiveErrorRatio",
    ]
    assert list(notes["time"]) == [
        pd.Timestamp(logged(s)[0]["time"]) for s in ("firing", "resolved")
    ]
    assert list(notes["embedded_time"]) == [p["time"][1], p["time"][2]]
    for labels in notes["labels"]:
        assert json.loads(labels)["fingerprint"] == in_am["fingerprint"]

    node = httpx.get(live_prometheus.node.url + "/metrics").text
    sync = next(
        float(line.split()[1])
        for line in node.splitlines()
        if line.startswith("node_timex_sync_status ")
    )
    kept = pd.read_parquet(out / "metrics/node_timex_sync_status.parquet")
    assert set(kept["value"]) == {sync}  # the real exporter's own value, as kept for plots

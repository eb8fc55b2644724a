"""`incident collect` against a real Prometheus holding a backfilled incident (promtool), and
against a port where nothing listens. Every value asserted is known from the backfilled data
(see `tests.integration.servers.incident_series`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner

from incident_timeline.collector.bundle import read_manifest
from incident_timeline.report.cli import cli
from tests.integration.servers import Server, at, binary, free_port

SINCE, UNTIL = "2026-03-04T14:00:00Z", "2026-03-04T15:00:00Z"
QUERIES = """
[[prometheus.queries]]
name = "error_ratio"
expr = "http_error_ratio"
threshold = "> 0.05"
label = "5xx ratio"

[[prometheus.queries]]
name = "broken"
expr = "sum(rate(http_error_ratio[5m])"
"""
EXPECTED = [
    (
        "14:00:00",
        "clock",
        "clock ahead by 0.5 s (node_timex_offset_seconds -0.5 s, beyond ±0.1 s) on "
        "instance=node-b:9100, job=node",
    ),
    ("14:00:00", "clock", "clock maximum error 16 s, above 1 s, on instance=node-b:9100, job=node"),
    (
        "14:00:00",
        "clock",
        ("clock not NTP-synchronised (node_timex_sync_status 0) on instance=node-b:9100, job=node"),
    ),
    (
        "14:00:00",
        "clock",
        "clock ahead of Prometheus by 2.4 s (node_time_seconds − scrape time +2.4 s, "
        "beyond ±0.1 s) on instance=node-b:9100, job=node",
    ),
    ("14:01:00", "k8s_event", "pod checkout/p1 phase Pending → Running"),
    ("14:05:00", "metric_threshold", "up < 1 (0) for instance=b:8080, job=app"),
    ("14:07:00", "metric_threshold", "up back to 1, no longer < 1 for instance=b:8080, job=app"),
    ("14:10:00", "metric_threshold", "5xx ratio > 0.05 (0.073) for service=checkout-api"),
    ("14:11:00", "alert_pending", "HighErrorRate pending (service=checkout-api, severity=page)"),
    ("14:12:00", "alert_firing", "HighErrorRate firing (service=checkout-api, severity=page)"),
    ("14:15:00", "k8s_event", "container app of checkout/p1 restarted (restarts 0 → 1)"),
    ("14:20:00", "alert_resolved", "HighErrorRate resolved (service=checkout-api, severity=page)"),
    (
        "14:20:00",
        "metric_threshold",
        "5xx ratio back to 0.01, no longer > 0.05 for service=checkout-api",
    ),
    (
        "14:40:00",
        "gap",
        'no samples of up{instance="a:8080",job="app"} from 14:40:00 to 14:46:00 (6 min)',
    ),
    ("14:50:00", "k8s_event", "pod checkout/p1 phase Running → Failed"),
]


def collect(tmp_path: Path, url: str, extra: str = "", name: str = "bundle") -> tuple[Any, Path]:
    config = tmp_path / f"{name}.toml"
    config.write_text(f'[prometheus]\nurl = "{url}"\n{extra}{QUERIES}')
    out = tmp_path / name
    result = CliRunner().invoke(
        cli, ["collect", "-c", str(config), "--since", SINCE, "--until", UNTIL, "-o", str(out)]
    )
    return result, out


def events(out: Path) -> pd.DataFrame:
    frame = pd.read_parquet(out / "events/prometheus.parquet")
    return frame.sort_values(["time", "kind", "summary"], kind="stable").reset_index(drop=True)


def follow(out: Path, ref: str) -> Any:
    rel, _, pointer = ref.partition("#")
    node = json.loads((out / rel).read_text())
    for part in pointer.strip("/").split("/"):
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


@pytest.fixture(scope="module")
def bundle(
    backfilled_prometheus: Server,
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Any, Path]:
    return collect(tmp_path_factory.mktemp("prom"), backfilled_prometheus.url)


def test_every_event_of_the_backfilled_incident(bundle: tuple[Any, Path]) -> None:
    result, out = bundle
    assert result.exit_code == 3, result.output  # partial: the broken query
    frame = events(out)
    got = [
        (t.strftime("%H:%M:%S"), k, s)
        for t, k, s in zip(frame["time"], frame["kind"], frame["summary"], strict=False)
    ]
    assert got == EXPECTED
    assert (frame["source"] == "prometheus").all() and (frame["time_quality"] == "exact").all()


def test_bad_promql_reaches_the_user_verbatim(bundle: tuple[Any, Path]) -> None:
    result, out = bundle
    error = "query broken: bad_data: 1:31: parse error: unclosed left parenthesis"
    assert "prometheus   partial" in result.output and f"\n    {error}\n" in result.output
    assert read_manifest(out)["sources"]["prometheus"]["error"] == error


def test_alert_history_has_active_at_fingerprint_and_refs(bundle: tuple[Any, Path]) -> None:
    _, out = bundle
    frame = events(out)
    alerts = frame[frame["kind"].str.startswith("alert_")]
    assert list(alerts["embedded_time"]) == [pd.Timestamp("2026-03-04T14:11:00Z")] * 3
    for labels in alerts["labels"]:
        assert json.loads(labels) == {
            "alertname": "HighErrorRate",
            "service": "checkout-api",
            "severity": "page",
            "fingerprint": "c5962100eddb5f40",
        }
    refs = list(alerts["ref"])
    assert [follow(out, r) for r in refs] == [
        [at("14:11"), "1"],
        [at("14:12"), "1"],
        [at("14:19:45"), "1"],
    ]
    assert follow(out, refs[0].rsplit("/values/", 1)[0] + "/metric")["alertstate"] == "pending"


def test_threshold_and_gap_refs_point_at_the_raw_samples(bundle: tuple[Any, Path]) -> None:
    _, out = bundle
    frame = events(out)
    crossing = frame[frame["summary"].str.startswith("5xx ratio >")].iloc[0]
    assert crossing["ref"].startswith("raw/prometheus/queries/error_ratio/000.json#")
    assert follow(out, crossing["ref"]) == [at("14:10"), "0.073"]
    gap = frame[frame["kind"] == "gap"].iloc[0]
    assert gap["ref"].startswith("raw/prometheus/samples/up/000.json#")
    assert follow(out, gap["ref"]) == [at("14:40"), "1"]
    assert json.loads(gap["labels"]) == {
        "instance": "a:8080",
        "job": "app",
        "gap_start": "2026-03-04T14:40:00Z",
        "gap_end": "2026-03-04T14:46:00Z",
        "gap_seconds": "360",
    }


def test_query_range_hides_the_gap_that_raw_samples_show(bundle: tuple[Any, Path]) -> None:
    _, out = bundle
    up = pd.read_parquet(out / "metrics/up.parquet")
    a = up[up["series"] == 'up{instance="a:8080",job="app"}']
    every = pd.date_range("2026-03-04T14:00Z", "2026-03-04T14:59:45Z", freq="15s")
    hidden = sorted(set(every) - set(a["time"]))
    assert [t.strftime("%H:%M:%S") for t in hidden] == ["14:45:15", "14:45:30", "14:45:45"]


def test_node_clock_series_are_kept_for_plots(bundle: tuple[Any, Path]) -> None:
    _, out = bundle
    offsets = pd.read_parquet(out / "metrics/node_timex_offset_seconds.parquet")
    assert len(offsets) == 480
    by_node = offsets.groupby("series")["value"].agg(["min", "max"])
    assert by_node.to_dict("index") == {
        'node_timex_offset_seconds{instance="node-a:9100",job="node"}': {
            "min": 0.0003,
            "max": 0.0003,
        },
        'node_timex_offset_seconds{instance="node-b:9100",job="node"}': {"min": -0.5, "max": -0.5},
    }
    assert (
        offsets["ref"]
        .iloc[0]
        .startswith("raw/prometheus/builtin/node_timex_offset_seconds/000.json#/data/result/")
    )


def test_small_chunks_stitch_to_the_same_evidence(
    backfilled_prometheus: Server, bundle: tuple[Any, Path], tmp_path: Path
) -> None:
    result, out = collect(
        tmp_path, backfilled_prometheus.url, "max_points_per_request = 50\n", "chunked"
    )
    assert result.exit_code == 3, result.output
    assert len(list((out / "raw/prometheus/queries/error_ratio").iterdir())) == 5
    assert len(list((out / "raw/prometheus/samples/up").iterdir())) == 5
    columns = ["time", "kind", "summary", "labels", "embedded_time"]
    pd.testing.assert_frame_equal(events(out)[columns], events(bundle[1])[columns])
    for name in ("error_ratio", "up", "node_timex_sync_status"):
        # rows come chunk by chunk (series sorted within each): the same rows, in blocks
        small, whole = (
            pd.read_parquet(b / f"metrics/{name}.parquet").sort_values(
                ["series", "time"], kind="stable", ignore_index=True
            )
            for b in (out, bundle[1])
        )
        pd.testing.assert_frame_equal(small.iloc[:, :4], whole.iloc[:, :4])
        for row in small.iloc[[0, len(small) // 2, -1]].itertuples():
            # a sample's evidence (``ref`` + its place) is itself in its own chunk
            time, value = follow(out, f"{row.ref}/{row.sample}")
            assert pd.Timestamp(time, unit="s", tz="UTC") == row.time
            assert float(value) == row.value
    for ref in events(out)["ref"]:
        assert follow(out, ref)  # every ref resolves in its own chunk


def test_unreachable_server_fails_the_source_but_writes_the_bundle(tmp_path: Path) -> None:
    port = free_port()
    result, out = collect(tmp_path, f"http://127.0.0.1:{port}", "retries = 0\n")
    assert result.exit_code == 3
    source = read_manifest(out)["sources"]["prometheus"]
    assert source["status"] == "failed"
    assert source["error"].startswith(
        f"prometheus: cannot reach http://127.0.0.1:{port}: ConnectError: "
    )
    assert "Connection refused" in source["error"]
    assert (out / "events/prometheus.parquet").exists()


def test_a_missing_server_skips_naming_the_package_but_fails_under_ci(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("shutil.which", lambda name: None)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(
        pytest.skip.Exception,
        match=r"install the Debian package "
        r"prometheus-alertmanager \(apt-get install",
    ):
        binary("prometheus-alertmanager")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true: a missing server is a failure"):
        binary("promtool")


def test_node_clocks_from_raw_samples_of_a_real_server(
    backfilled_prometheus: Server, bundle: tuple[Any, Path], tmp_path: Path
) -> None:
    from incident_timeline.report.trust import load

    _, out = bundle
    _, assembled = load(out)
    [node] = [f for f in assembled.integrity.findings if f.check == "node_clock"]
    assert node.id == "node_clock:node-b"
    assert (node.labels["offset_seconds"], node.labels["samples"]) == ("2.400", "240")
    assert (node.labels["low_seconds"], node.labels["high_seconds"]) == ("2.397", "2.403")
    assert "agree: node_timex_offset_seconds -0.500 s (clamped at ±0.5 s, same direction)" in (
        node.summary
    )
    # raw samples fetched in chunks read the same
    _, chunked = collect(
        tmp_path, backfilled_prometheus.url, "max_points_per_request = 50\n", "chunked"
    )
    assert len(list((chunked / "raw/prometheus/samples/node_time_seconds").iterdir())) == 5
    for name in ("node_time_seconds", "scrape_duration_seconds"):
        # the same samples; their evidence (ref, sample) is in each collect's own chunks
        small, whole = (pd.read_parquet(b / f"metrics/{name}.parquet") for b in (chunked, out))
        pd.testing.assert_frame_equal(small.iloc[:, :4], whole.iloc[:, :4])
        for row in small.iloc[[0, -1]].itertuples():
            time, value = follow(chunked, f"{row.ref}/{row.sample}")
            assert (round(time * 1000), float(value)) == (row.time.value // 10**6, row.value)

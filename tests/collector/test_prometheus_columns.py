"""Matrix answers read as columns: the fast path and the JSON path agree to the value, odd
bodies fall back, stitching keeps every sample once, and crossings read in pieces are the
crossings of the whole."""

from __future__ import annotations

import json
import math
import random
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from incident_timeline.collector.prometheus.chunks import Chunk, Stitcher, format_value, stitch
from incident_timeline.collector.prometheus.matrix import parse_body, series_of
from incident_timeline.collector.prometheus.queryrange import matrix_problem
from incident_timeline.collector.prometheus.streaming import METRICS_SCHEMA
from incident_timeline.timeline.metrics import crossing_positions, threshold_crossings
from incident_timeline.timeline.window import Window
from tests.collector.test_prometheus import (
    QUERY,
    RATIO,
    T0,
    FakePrometheus,
    collector,
    events_of,
    pointer,
    run,
)

T = int(T0.timestamp())


def body(result: list[dict[str, object]], **extra: object) -> bytes:
    """A matrix answer written compactly, as Prometheus writes it."""
    document = {"status": "success", "data": {"resultType": "matrix", "result": result}, **extra}
    return json.dumps(document, separators=(",", ":")).encode()


ODD = [
    {"metric": {"__name__": "m", "job": 'a "quoted" \\ "values":[1,"2"]]'}, "values": []},
    {
        "metric": {"__name__": "m", "job": "b"},
        "values": [[T, "0.5"], [T + 15.25, "NaN"], [T + 30, "+Inf"], [T + 45, "-Inf"]],
    },
    {"metric": {}, "values": [[T + 0.001, "1e-05"], [T + 1, "-12345678901234567890"]]},
]


def test_the_fast_path_reads_every_value_as_the_json_path_does() -> None:
    raw = body(ODD, warnings=["w"])
    envelope, fast = parse_body(raw)
    assert fast is not None  # compact: read as columns
    assert envelope["warnings"] == ["w"]
    assert [s["values"] for s in envelope["data"]["result"]] == [[], [], []]
    assert [s["metric"] for s in envelope["data"]["result"]] == [s["metric"] for s in ODD]
    slow = series_of(json.loads(raw))
    assert [s.metric for s in fast] == [s.metric for s in slow] == [s["metric"] for s in ODD]
    for a, b in zip(fast, slow, strict=True):
        np.testing.assert_array_equal(a.times, b.times)
        np.testing.assert_array_equal(a.values, b.values)  # NaN equal to NaN here
    assert fast[1].times.tolist() == [T * 1000, T * 1000 + 15250, (T + 30) * 1000, (T + 45) * 1000]
    assert fast[1].values[0] == 0.5 and math.isnan(fast[1].values[1])
    assert fast[1].values[2:].tolist() == [math.inf, -math.inf]
    assert fast[2].times.tolist() == [T * 1000 + 1, (T + 1) * 1000]
    assert fast[2].values.tolist() == [1e-05, -1.2345678901234567e19]


@pytest.mark.parametrize(
    "raw",
    [
        json.dumps(
            {"status": "success", "data": {"resultType": "matrix", "result": ODD[1:]}}, indent=1
        ).encode(),  # another server's spacing
        body([{"metric": {}, "values": [[T, "\\u0031"]]}]).replace(b"\\\\u", b"\\u"),  # escape
        body([{"metric": {}, "values": [[T, "1_0"]]}]),  # Python reads it, Arrow does not
        body([{"metric": {}, "values": [[T, " 1"], [T + 15, "2"]]}]),  # a space: Python reads it
    ],
)
def test_other_layouts_fall_back_to_json_with_the_same_values(raw: bytes) -> None:
    envelope, fast = parse_body(raw)
    assert fast is None
    assert matrix_problem(envelope) is None
    assert all(s["values"] for s in envelope["data"]["result"])  # decoded whole
    slow = series_of(envelope)
    expected = [float(p[1]) for s in json.loads(raw)["data"]["result"] for p in s["values"]]
    assert np.concatenate([s.values for s in slow]).tolist() == pytest.approx(expected, nan_ok=True)


@pytest.mark.parametrize(
    ("values", "problem"),
    [
        ([[T, "abc"]], "/data/result/0/values/0"),
        ([[T, "1"], [T + 15, ""]], "/data/result/0/values/1"),
        ([[T, "1"], [True, "2"]], "/data/result/0/values/1"),
        ([[T, 1]], "/data/result/0/values/0"),
        ([[T, "1", "2"]], "/data/result/0/values/0"),
        ([[T, "1"], [str(T), 2]], "/data/result/0/values/1"),  # quotes swapped
        ([[T, "[2"]], "/data/result/0/values/0"),  # brackets the CSV would never see
        ([[T, "2][3"], [T + 15, "4"]], "/data/result/0/values/0"),
        ([[T, "1,5"]], "/data/result/0/values/0"),
        ([[T, "1]"]], "/data/result/0/values/0"),  # "]" next to "]" once quotes are dropped
        ([[T, "1"], [T + 15, "]2"]], "/data/result/0/values/1"),
        ([[T, "1["], [T + 15, "2"]], "/data/result/0/values/0"),
        ([[T, "1"], [T + 15, "Nan1"]], "/data/result/0/values/1"),  # number characters only
    ],
)
def test_a_wrong_sample_is_left_to_the_shape_check(values: list[object], problem: str) -> None:
    envelope, fast = parse_body(body([{"metric": {}, "values": values}]))
    assert fast is None
    assert matrix_problem(envelope) is not None
    assert matrix_problem(envelope)[1] == problem  # type: ignore[index]


def test_errors_and_other_results_are_envelopes_only() -> None:
    error = b'{"status":"error","errorType":"bad_data","error":"parse error"}'
    assert parse_body(error) == (json.loads(error), None)
    vector = b'{"status":"success","data":{"resultType":"vector","result":[]}}'
    assert parse_body(vector) == (json.loads(vector), None)
    assert parse_body(b"<html>502</html>") == (None, None)


def test_stitching_keeps_each_sample_once_with_exact_first_and_last_values() -> None:
    since, until = T0, T0 + timedelta(hours=1)
    scrapes = [T + 0.6 + 15 * i for i in range(240)]  # 14:00:00.6 .. 14:59:45.6

    def chunk(index: int, first: int, last: int) -> Chunk:
        values = [[t, format_value(i * 0.5)] for i, t in enumerate(scrapes) if first <= i <= last]
        envelope, columns = parse_body(body([{"metric": {"a": "1"}, "values": values}]))
        return Chunk(f"raw/p/{index:03d}.json", envelope, columns)

    # three raw chunks, overlapping by one sample at each edge, as raw_chunks plans them
    stitcher = Stitcher(since, until)
    pieces = [stitcher.add(chunk(0, 0, 100)), stitcher.add(chunk(1, 100, 200))]
    pieces.append(stitcher.add(chunk(2, 200, 239)))
    assert [len(p.times) for [p] in pieces] == [101, 100, 39]
    assert [p.offset for [p] in pieces] == [0, 1, 1]
    joined = np.concatenate([p.values for [p] in pieces])
    assert len(joined) == 240 and joined[0] == 0.0 and joined[-1] == 119.5
    assert pieces[1][0].times[0] == round((T + 0.6 + 15 * 101) * 1000)
    assert pieces[2][0].refs()[-1].as_py() == "raw/p/002.json#/data/result/0/values/39"
    whole = stitch([chunk(0, 0, 100), chunk(1, 100, 200), chunk(2, 200, 239)], since, until)
    assert whole.ref("/data/result/0/values/239") == "raw/p/002.json#/data/result/0/values/39"
    assert whole.ref("/data/result/0/values/101") == "raw/p/001.json#/data/result/0/values/1"
    values = whole.document["data"]["result"][0]["values"]
    assert values[0] == [T + 0.6, "0"] and values[-1] == [scrapes[-1], "119.5"]


def test_crossings_read_in_pieces_are_the_crossings_of_the_whole() -> None:
    rnd = random.Random(3)
    values = np.array([rnd.choice([0.1, 0.9, 0.5, math.nan]) for _ in range(400)])
    times = pd.date_range("2026-02-17T14:00Z", periods=400, freq="15s")
    whole = threshold_crossings(
        pd.DataFrame({"time": times, "series": "s", "value": values}), ">=", 0.5
    )
    found, before = [], None
    for start, end in ((0, 1), (1, 3), (3, 170), (170, 171), (171, 400)):
        positions, above, before = crossing_positions(values[start:end], ">=", 0.5, before)
        found += [
            (start + int(p), "above" if a else "below")
            for p, a in zip(positions, above, strict=True)
        ]
    assert [(times[p], s) for p, s in found] == list(
        zip(whole["time"], whole["state"], strict=True)
    )
    assert len(found) > 50


def test_thirty_days_arrive_complete_with_exact_values_and_refs(tmp_path: Path) -> None:
    fake = FakePrometheus({"ratio": [RATIO]})
    prom = collector(tmp_path, fake, 'step = "15s"\nbuiltin_queries = false\n' + QUERY)
    window = Window(T0 - timedelta(days=29, hours=14), T0 + timedelta(hours=10))
    out, outcome = run(tmp_path, prom, window)
    assert outcome.status == "ok" and outcome.counts["samples"] == 172_800
    ranges = [r for r in fake.requests if r.url.path == "/api/v1/query_range"]
    assert [r.headers["accept-encoding"] for r in ranges] == ["identity"] * 16
    parquet = pq.ParquetFile(out / "metrics/error_ratio.parquet")
    assert parquet.metadata.num_row_groups == 16  # one per answer: memory stays flat
    samples = pd.read_parquet(out / "metrics/error_ratio.parquet")
    assert len(samples) == 172_800 and samples["time"].is_monotonic_increasing
    # written with dictionary labels and refs, read as the strings every metrics file has
    assert samples.dtypes.to_dict() == {
        "time": "datetime64[ns, UTC]",
        "series": pd.StringDtype(),
        "labels": pd.StringDtype(),
        "value": "float64",
        "ref": pd.StringDtype(),
        "sample": "int64",
    }
    first, last = samples.iloc[0], samples.iloc[-1]
    assert first["time"] == pd.Timestamp(window.since) and first["value"] == 0.01
    assert last["time"] == pd.Timestamp(window.until) - pd.Timedelta(seconds=15)
    # a sample's evidence: its series' values array in the raw answer, and its place there
    assert first["ref"] == "raw/prometheus/queries/error_ratio/000.json#/data/result/0/values"
    assert last["ref"] == "raw/prometheus/queries/error_ratio/015.json#/data/result/0/values"
    assert (first["sample"], last["sample"]) == (0, 7799)
    assert samples["ref"].nunique() == 16
    assert pointer(out, f"{last['ref']}/{last['sample']}") == [
        int(window.until.timestamp()) - 15,
        "0.01",
    ]
    assert samples["series"].iloc[0] == 'ratio{service="checkout-api"}'
    inside = samples[samples["value"] == 0.073]
    assert len(inside) == 40 and inside["time"].iloc[0] == pd.Timestamp("2026-02-17T14:10Z")
    events = events_of(out)
    assert list(events["summary"]) == [
        "5xx ratio > 0.05 (0.073) for service=checkout-api",
        "5xx ratio back to 0.01, no longer > 0.05 for service=checkout-api",
    ]
    assert [pointer(out, r) for r in events["ref"]] == [
        [int(datetime(2026, 2, 17, 14, 10, tzinfo=UTC).timestamp()), "0.073"],
        [int(datetime(2026, 2, 17, 14, 20, tzinfo=UTC).timestamp()), "0.01"],
    ]


def test_the_metrics_schema_is_the_one_pandas_gives() -> None:
    # streaming.METRICS_SCHEMA writes pandas' metadata out by hand (collecting needs no pandas)
    frame = pd.DataFrame(
        {
            "time": pd.Series(dtype="datetime64[ns, UTC]"),
            "series": pd.Series(dtype="string"),
            "labels": pd.Series(dtype="string"),
            "value": pd.Series(dtype="float64"),
            "ref": pd.Series(dtype="string"),
            "sample": pd.Series(dtype="int64"),
        }
    )
    expected = pa.Schema.from_pandas(frame, preserve_index=False)
    assert METRICS_SCHEMA.equals(expected, check_metadata=True)


_NO_PANDAS = r"""
import http.server, json, sys, threading
from urllib.parse import parse_qs, urlparse

class Answers(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        url = urlparse(self.path)
        start = int(float(parse_qs(url.query).get("start", ["0"])[0]))
        data = {
            "/api/v1/label/__name__/values": ["m"],
            "/api/v1/rules": {"groups": []},
            "/api/v1/alerts": {"alerts": []},
        }.get(url.path)
        if data is None:
            values = [[start + 15 * i, str(i / 10)] for i in range(3)]
            data = {"resultType": "matrix", "result": [{"metric": {"job": "a"}, "values": values}]}
        body = json.dumps({"status": "success", "data": data}, separators=(",", ":")).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Answers)
threading.Thread(target=server.serve_forever, daemon=True).start()
config, out = sys.argv[1], sys.argv[2]
with open(config, "w") as handle:
    handle.write(
        '[incident]\ntitle = "t"\n\n[prometheus]\n'
        f'url = "http://127.0.0.1:{server.server_address[1]}"\n'
        'step = "15s"\nbuiltin_queries = false\n\n'
        '[[prometheus.queries]]\nname = "m"\nexpr = "m"\n'
    )
from incident_timeline.report.cli import cli

argv = ["collect", "-c", config, "-o", out, "--since", "2026-01-01T00:00:00Z"]
try:
    cli([*argv, "--until", "2026-01-01T01:00:00Z"])
except SystemExit as exc:
    assert not exc.code, exc.code
server.shutdown()
print("pandas" in sys.modules)
"""


def test_collecting_range_queries_imports_no_pandas(tmp_path: Path) -> None:
    # half a second of every `incident collect`: range queries are read and written with
    # Arrow alone (matrix.arrow says where pyarrow itself would import pandas)
    argv = [sys.executable, "-c", _NO_PANDAS, str(tmp_path / "c.toml"), str(tmp_path / "b")]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "False"
    rows = pq.ParquetFile(tmp_path / "b" / "metrics" / "m.parquet").metadata.num_rows
    assert rows > 0

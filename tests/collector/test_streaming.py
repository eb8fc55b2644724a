"""Big files stream through the file collector in pieces: the events, raw copy and manifest are
exactly those of reading each file whole, whatever the piece size."""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import os
from datetime import datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from incident_timeline.collector.bundlefiles import EventsWriter
from incident_timeline.collector.files import pieces
from incident_timeline.collector.files.collector import FileCollector, FileSource
from incident_timeline.collector.formats import Context
from incident_timeline.collector.kubernetes.formats import parse_kubectl_logs
from incident_timeline.timeline import schema
from incident_timeline.timeline.timestamps import open_records, read_runtime_log
from tests.support import DATA, ROOT, run_collector, utc

SINCE, UNTIL = (
    datetime.fromisoformat("2024-01-15T14:00Z"),
    datetime.fromisoformat("2024-01-15T15:00Z"),
)


def _cri_text() -> bytes:
    """Runtime lines with partial records on both streams, interleaved, and a stray line."""
    lines = []
    for i in range(400):
        stamp = f"2024-01-15T14:{i // 60:02d}:{i % 60:02d}.{i:09d}Z"
        stream = "stderr" if i % 7 == 0 else "stdout"
        tag = "P" if i % 5 in (1, 2) else "F"
        lines.append(f"{stamp} {stream} {tag} part {i} level=info")
        if i == 200:
            lines.append("not a runtime line at all")
    return ("\n".join(lines) + "\n").encode()


def _collect(tmp_path: Path, files: list[tuple[Path, str]], piece: int, workers: int = 1) -> Path:
    pieces.PIECE, pieces.WORKERS = piece, workers
    sources = [FileSource(path=str(p), format=fmt, stream=p.name) for p, fmt in files]
    out, outcome = run_collector(
        tmp_path, "file", FileCollector(sources, tmp_path), SINCE, UNTIL, UNTIL
    )
    # The test files' dates lie outside the window: that is said (partial), nothing more.
    assert outcome.status == "ok" or "outside the window" in (outcome.error or ""), outcome.error
    return out


@pytest.fixture(autouse=True)
def _restore_piece() -> object:
    saved = pieces.PIECE, pieces.WORKERS
    yield
    pieces.PIECE, pieces.WORKERS = saved


def test_pieces_give_the_events_of_a_whole_read(tmp_path: Path) -> None:
    cri = tmp_path / "0.log"
    cri.write_bytes(_cri_text())
    files = [
        (DATA / "logfmt-kubectl-timestamps.log", "kubectl-logs"),
        (DATA / "java-logback.log", "log"),
        (DATA / "klog-openshift-misc.log", "auto"),
        (cri, "cri"),
    ]
    whole = _collect(tmp_path / "whole", files, 1 << 24)
    # Two pieces parsed at once (their first timeless lines given the time before them
    # afterwards) change nothing either.
    split = _collect(tmp_path / "split", files, 2000, workers=2)
    assert pq.read_table(split / "events/file.parquet").equals(
        pq.read_table(whole / "events/file.parquet")
    )
    manifest = json.loads((whole / "manifest.json").read_text())
    manifest_split = json.loads((split / "manifest.json").read_text())
    for key in ("status", "error", "warnings", "counts"):  # same outcome, counts, warnings
        assert manifest_split["sources"]["file"][key] == manifest["sources"]["file"][key]
    raw, raw_split = manifest["files"], manifest_split["files"]
    for rel, entry in raw.items():
        if rel.startswith("raw/"):
            assert raw_split[rel] == entry
            digest = hashlib.sha256((split / rel).read_bytes()).hexdigest()
            assert digest == entry["sha256"]


def test_cri_partial_records_stay_whole_across_pieces(tmp_path: Path) -> None:
    cri = tmp_path / "0.log"
    cri.write_bytes(_cri_text())
    split = _collect(tmp_path / "split", [(cri, "cri")], 600)
    events = pq.read_table(split / "events/file.parquet").to_pandas()
    whole = read_runtime_log(cri.read_bytes())
    assert len(events) == len(whole) == 241  # 401 lines, 160 of them continuations
    assert [int(ref.rsplit("#L")[1]) for ref in events["ref"]] == whole["line"].tolist()
    assert events["message"].tolist() == whole["message"].tolist()


def test_open_records_cuts_before_a_record_still_open() -> None:
    head = b"2024-01-15T14:00:00Z stdout F done\n"
    open_ = b"2024-01-15T14:00:01Z stdout P par\n"
    other = b"2024-01-15T14:00:02Z stderr F err\n"
    assert open_records(head + open_ + other) == len(head)
    assert open_records(head + other) == len(head + other)
    # No line is free (one record open from the first line on): 0, the caller reads on.
    assert open_records(open_ + other) == 0


def test_pieces_number_lines_and_copy_every_byte() -> None:
    data = b"a\nbb\n\nccc\nlast without newline"
    copied = io.BytesIO()
    got = list(pieces.pieces(io.BytesIO(data), copied, size=3))
    assert copied.getvalue() == data
    assert b"".join(p for _, p in got) == data
    assert got[0][0] == 1
    for (n, p), (m, _) in itertools.pairwise(got):
        assert m == n + p.count(b"\n")


def test_kubectl_stamp_in_another_shape_goes_through_the_regex() -> None:
    data = (
        b"2024-01-15T14:31:02.5+01:00 fast path\n"
        b"2024-01-15T14:31:02Zglued to the text\n"
        b"2024-01-15T14:31:02,5Z comma is not kubectl's\n"
        b"2024-01-15 14:31:02Z no T\n"
    )
    ctx = Context(ref="raw/file/k", stream="k", fallback_time=utc("2024-01-15T14:00Z"))
    events = parse_kubectl_logs(data, ctx).events
    assert events["time_raw"].tolist() == [
        "2024-01-15T14:31:02.5+01:00",
        "2024-01-15T14:31:02Z",
        "2024-01-15T14:31:02,5Z",  # the app's own stamp, read by the time engine
        "2024-01-15 14:31:02Z",
    ]
    assert events["time"].tolist() == [
        utc("2024-01-15T13:31:02.5Z"),
        utc("2024-01-15T14:31:02Z"),
        utc("2024-01-15T14:31:02.5Z"),
        utc("2024-01-15T14:31:02Z"),
    ]
    assert events["message"].tolist() == [
        "fast path",
        "glued to the text",
        "2024-01-15T14:31:02,5Z comma is not kubectl's",
        "2024-01-15 14:31:02Z no T",
    ]
    # No second clock anywhere: the first two bodies carry none, the last two are the app's.
    assert events["embedded_time"].isna().all()


def test_events_writer_writes_row_groups_and_renames_at_close(tmp_path: Path) -> None:
    path = tmp_path / "events" / "x.parquet"
    writer = EventsWriter(path, rows=4)
    frame = schema.make_events(
        time=[utc("2024-01-15T14:00Z")] * 3, source="file", stream="s", kind="log",
        summary=["a", "b", "c"], ref=["r#L1", "r#L2", "r#L3"],
    )  # fmt: skip
    for _ in range(3):
        writer.add(schema.to_table(frame))
    assert not path.exists()
    writer.close()
    meta = pq.ParquetFile(path).metadata
    assert meta.num_rows == 9
    # 3 + 3 rows reach 4: written as groups of 4 and 2; the last 3 at close.
    assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == [4, 2, 3]
    assert pq.read_table(path).schema.equals(schema.SCHEMA)
    assert list(tmp_path.joinpath("events").iterdir()) == [path]


def test_duckdb_reads_a_bundle_as_it_is(tmp_path: Path) -> None:
    """The README's promise: events/*.parquet is plain Parquet another engine reads directly."""
    if os.environ.get("CI") == "true":  # a test dependency: missing under CI is a failure
        import duckdb
    else:
        duckdb = pytest.importorskip("duckdb", reason="needs the duckdb package (test extra)")
    cri = tmp_path / "0.log"
    cri.write_bytes(_cri_text())
    bundle = _collect(tmp_path / "b", [(cri, "cri")], 1 << 23)
    glob = str(bundle / "events" / "*.parquet")
    rows = duckdb.sql(
        f"SELECT epoch_ns(time), ref FROM read_parquet('{glob}') ORDER BY time, ref LIMIT 2"
    ).fetchall()
    assert [ref.rsplit("#", 1)[1] for _, ref in rows] == ["L1", "L2"]
    assert rows[0][0] == utc("2024-01-15T14:00:00Z").value
    assert duckdb.sql(f"SELECT count(*) FROM read_parquet('{glob}')").fetchall() == [(241,)]


def test_a_json_document_bigger_than_a_piece_is_detected_whole(tmp_path: Path) -> None:
    events = ROOT / "examples" / "checkout-incident" / "exports" / "events.json"
    whole = _collect(tmp_path / "whole", [(events, "auto")], 1 << 23)
    split = _collect(tmp_path / "split", [(events, "auto")], 64)
    got = pq.read_table(split / "events/file.parquet")
    assert got.equals(pq.read_table(whole / "events/file.parquet"))
    assert set(got["kind"].to_pylist()) >= {"k8s_event", "deploy"}


def test_pieces_parsed_side_by_side_come_back_in_order() -> None:
    import time as clock

    def parse(item: tuple[int, float]) -> int:
        clock.sleep(item[1])  # later items finish first
        return item[0]

    items = [(i, 0.02 * (5 - i)) for i in range(6)]
    assert list(pieces.parsed_in_order(parse, items, workers=2)) == list(range(6))
    with pytest.raises(ZeroDivisionError):
        list(pieces.parsed_in_order(lambda item: 1 // item[0], [(1, 0), (0, 0)], workers=2))


def test_first_timeless_rows_of_a_piece_inherit_the_time_before_it() -> None:
    times = [utc("2024-01-15T14:00:05Z")] * 4
    frame = schema.make_events(
        time=times, source="file", stream="s", kind="log", summary=list("abcd"),
        ref=[f"r#L{i}" for i in range(4)],
        time_quality=["inferred", "inferred", "exact", "inferred"],
    )  # fmt: skip
    before = utc("2024-01-15T14:00:01Z")
    got = pieces.inherit(frame, before)
    assert got["time"].tolist() == [before, before, times[2], times[3]]
    assert got["time_quality"].tolist() == frame["time_quality"].tolist()
    assert pieces.inherit(frame, None) is frame
    timeless = frame.assign(time_quality="inferred")
    assert pieces.inherit(timeless, before)["time"].tolist() == [before] * 4

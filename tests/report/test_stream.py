"""``incident timeline --format csv/jsonl`` streams the timeline a batch at a time: the bytes
are those of the whole timeline loaded at once, whatever the row groups' order, the files'
cut, the batches' bounds or where in the timeline a secret first appears."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from incident_timeline.collector.bundle import read_manifest
from incident_timeline.collector.bundlefiles import sha256_file
from incident_timeline.report import cli as cli_module
from incident_timeline.report import stream as stream_module
from incident_timeline.report.curation import Curation, Note, write_curation
from incident_timeline.report.render import render_chunks, stream_chunks
from incident_timeline.report.stream import timeline_stream
from incident_timeline.report.trust import scan_integrity
from incident_timeline.timeline import runs
from incident_timeline.timeline.schema import SCHEMA

SECRET = "hunter2-correct-horse"


def write(path: Path, frame: pd.DataFrame, row_group: int) -> None:
    table = pa.Table.from_pandas(frame, schema=SCHEMA, preserve_index=False)
    pq.write_table(table, path, row_group_size=row_group)


@pytest.fixture
def shuffled(demo_bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The example's events with secrets, cut into two files of small row groups out of time
    order (the second file also holds twins of rows of the first), read in small batches."""
    bundle = tmp_path / "bundle"
    shutil.copytree(demo_bundle, bundle)
    events = pq.read_table(bundle / "events" / "file.parquet").to_pandas()
    late, early = events.index[-40], events.index[30]
    # The secret is found in a late row's pair; an early row says it bare (masked too, by the
    # second pass), and secrets sit in the stream and labels columns (numbered first).
    events.loc[late, "message"] = f"login password={SECRET} ok"
    events.loc[early, "message"] = f"retrying with {SECRET}"
    events.loc[events.index[200], "labels"] = json.dumps({"api_key": "k3y-0f-the-labels"})
    events.loc[events.index[500], "stream"] = "ns/x/app?token=s7ream-t0ken"
    events.loc[events.index[900], "summary"] = "Authorization: Bearer abc.def-ghi123"
    shuffled = events.sample(frac=1.0, random_state=3)
    first, second = shuffled.iloc[: len(events) // 2], shuffled.iloc[len(events) // 2 :]
    twins = events.iloc[100:110].assign(ref=lambda f: f["ref"].str.replace("raw/", "raw/copy/"))
    write(bundle / "events" / "file.parquet", first.sort_values("time").iloc[::-1], 300)
    write(bundle / "events" / "two.parquet", pd.concat([second, twins]), 512)
    manifest = json.loads((bundle / "manifest.json").read_text())
    for rel in ("events/file.parquet", "events/two.parquet"):
        path = bundle / rel
        manifest["files"][rel] = {"sha256": sha256_file(path), "bytes": path.stat().st_size}
    (bundle / "manifest.json").write_text(json.dumps(manifest, indent=2))
    monkeypatch.setattr(runs, "BATCH_ROWS", 64)
    monkeypatch.setattr(runs, "OUT_ROWS", 200)
    return bundle


def whole(bundle: Path, fmt: str, **kwargs: object) -> bytes:
    frame = cli_module._timeline(bundle, False, **kwargs)  # type: ignore[arg-type]
    return b"".join(render_chunks(frame, fmt))


def streamed(bundle: Path, fmt: str, **kwargs: object) -> bytes:
    frames = timeline_stream(bundle, **kwargs)  # type: ignore[arg-type]
    assert frames is not None
    return b"".join(stream_chunks(frames, fmt))


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_the_stream_gives_the_bytes_of_the_whole_timeline(shuffled: Path, fmt: str) -> None:
    got = streamed(shuffled, fmt, sources=(), grep=None)
    assert got == whole(shuffled, fmt, sources=(), grep=None)
    text = got.decode()
    assert SECRET not in text and "s7ream-t0ken" not in text and "k3y-0f-the-labels" not in text
    # Numbered as the whole timeline numbers them: the stream column first, then by column.
    assert sorted(set(re.findall("«secret-[0-9]+»", text))) == [
        f"«secret-{i}»" for i in (1, 2, 3, 4)
    ]
    assert "ns/x/app?token=«secret-1»" in text and "retrying with «secret-3»" in text


def test_filters_and_no_redaction_give_the_whole_timeline_s_rows(shuffled: Path) -> None:
    for kwargs in (
        {"sources": ("pagerduty", "integrity"), "grep": None},
        {"sources": (), "grep": "secret|password|retrying"},
        {"sources": (), "grep": None, "redact": False},
    ):
        assert streamed(shuffled, "csv", **kwargs) == whole(shuffled, "csv", **kwargs)


def test_rows_out_of_order_across_files_come_out_in_timeline_order(shuffled: Path) -> None:
    frames = timeline_stream(shuffled)
    assert frames is not None
    times = pd.concat(list(frames))["time"]
    assert times.is_monotonic_increasing


def test_a_logged_private_key_is_left_to_the_whole_timeline(shuffled: Path) -> None:
    path = shuffled / "events" / "two.parquet"
    events = pq.read_table(path).to_pandas()
    events.loc[events.index[5], "message"] = "-----BEGIN RSA PRIVATE KEY-----"
    write(path, events, 512)
    manifest = json.loads((shuffled / "manifest.json").read_text())
    manifest["files"]["events/two.parquet"]["sha256"] = sha256_file(path)
    (shuffled / "manifest.json").write_text(json.dumps(manifest))
    assert timeline_stream(shuffled) is None


def test_key_only_from_the_stream_is_the_whole_timeline_s(
    shuffled: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = pq.read_table(shuffled / "events" / "two.parquet").to_pandas()
    info = events.loc[(events["kind"] == "log") & (events["severity"] == "info"), "ref"]
    note = Note("2026-02-17T14:20:00Z", f"rotated {SECRET}", "sam", "14:20", "2026-02-18T09:00Z")
    write_curation(shuffled, Curation(notes=(note,), pins=(str(info.iloc[3]),)))
    got = cli_module._timeline(shuffled, True, (), None)
    assert str(info.iloc[3]) in set(got["ref"]) and "note" in set(got["kind"])
    monkeypatch.setattr(stream_module, "timeline_stream", lambda *args, **kwargs: None)
    want = cli_module._timeline(shuffled, True, (), None)
    pd.testing.assert_frame_equal(got, want)
    assert b"".join(render_chunks(got, "table")) == b"".join(render_chunks(want, "table"))


def test_the_scan_hands_over_the_rows_it_drops_before_checking_the_logs(shuffled: Path) -> None:
    seen: list[list[np.ndarray]] = []
    _, _, dropped = scan_integrity(shuffled, read_manifest(shuffled), seen.append)
    assert len(seen) == 1 and len(seen[0]) == len(dropped) == 2
    assert all(np.array_equal(a, b) for a, b in zip(seen[0], dropped, strict=True))
    assert sum(map(len, dropped)) >= 10  # the second file's twins

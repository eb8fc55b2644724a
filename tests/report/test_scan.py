"""``incident clocks`` reads the events a row group at a time and digests the log lines a
stream at a time: the findings do not depend on how the files are cut into row groups, on
the order streams arrive in, or on a stream ending in another row group than it began."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from incident_timeline.report.scan import scan_events
from incident_timeline.report.trust import load, load_integrity
from incident_timeline.timeline.schema import SCHEMA, make_events
from incident_timeline.timeline.trust.checks import check_digested, check_integrity, log_digest
from tests.timeline.test_integrity_checks import logs, s


def write(path: Path, frame: pd.DataFrame, row_group: int) -> None:
    table = pa.Table.from_pandas(frame, schema=SCHEMA, preserve_index=False)
    pq.write_table(table, path, row_group_size=row_group)


def lines(stream: str, times: list[float], offset: float, file: str) -> pd.DataFrame:
    """Log lines of ``stream`` at ``times`` (s after T0), the app's clock ``offset`` s off."""
    return logs(times, stream, offset=offset, file=file)


def test_small_row_groups_and_interleaved_streams_find_what_the_full_load_finds(
    demo_bundle: Path, tmp_path: Path
) -> None:
    bundle = tmp_path / "bundle"
    shutil.copytree(demo_bundle, bundle)
    path = bundle / "events" / "file.parquet"
    events = pq.read_table(path).to_pandas()
    # By time, the example's 16 log streams interleave: each spans many of the 97-row groups.
    write(path, events.sort_values("time", kind="stable"), row_group=97)
    assert pq.ParquetFile(path).num_row_groups == 133
    _, full = load(bundle)
    _, integrity, applied = load_integrity(bundle)
    assert integrity.to_dict() == full.integrity.to_dict()
    assert applied == dict(full.applied)
    found = {f.id: f for f in integrity.findings}
    assert len(found) == 11
    assert found["app_clock:pgbouncer"].labels["lines"] == "792"
    assert found["app_clock:pgbouncer"].labels["offset_seconds"] == "-18000.002"


def test_scan_hands_out_each_stream_whole_once_it_ends_without_dropped_twins(
    tmp_path: Path,
) -> None:
    a = lines("ns/a-1/app", [0, 1, 2, 3, 4, 5], 0.0, "raw/f/a.log")
    b = lines("ns/b-1/app", [0.5, 1.5, 2.5, 3.5, 4.5, 5.5, 60, 61, 62], 0.0, "raw/f/b.log")
    alert = make_events(
        time=[s(2)], source="alertmanager", stream="am", kind="alert_firing",
        summary=["HighErrorRate"], ref=["raw/am/alerts.json#/0"],
    )  # fmt: skip
    # Groups of four rows: a's lines end in the second, b's in the fourth. a's line 3 is in
    # another raw file too, read from a second events file: of the twins the one first on
    # the timeline's key stays (there: row 0 before row 2), so a ends in the second file.
    one = pd.concat([a.iloc[:3], b.iloc[:1], a.iloc[3:], b.iloc[1:3], alert, b.iloc[3:]])
    twin = a.iloc[[2]].assign(ref="raw/g/a.log#L3")
    write(tmp_path / "one.parquet", one, row_group=4)
    write(tmp_path / "two.parquet", twin, row_group=4)
    others, batches = scan_events([tmp_path / "one.parquet", tmp_path / "two.parquet"])
    assert list(others["summary"]) == ["HighErrorRate"]
    got = [(sorted(set(batch["stream"])), list(batch["ref"])) for batch in batches]
    refs_a = ["raw/f/a.log#L1", "raw/f/a.log#L2", "raw/g/a.log#L3"]
    assert got == [
        (["ns/b-1/app"], [f"raw/f/b.log#L{i}" for i in range(1, 10)]),
        (["ns/a-1/app"], refs_a + [f"raw/f/a.log#L{i}" for i in range(4, 7)]),
    ]


def test_the_digest_fed_a_stream_at_a_time_finds_what_check_integrity_finds() -> None:
    zone = [lines(f"ns/api-{i}/app", [float(t) for t in range(30)], -18000.0, "a") for i in (1, 2)]
    silent = lines("ns/db-1/app", [*range(25), 400.0, 401.0], 2.5, "raw/f/db.log")
    back = lines("ns/job-1/app", [*range(10), 3.0, 11.0], 0.0, "raw/f/job.log")
    events = pd.concat([*zone, silent, back], ignore_index=True)
    manifest = {"collected_at": s(300).isoformat()}
    whole = check_integrity(events.sort_values("time", kind="stable"), {}, manifest)
    digest = log_digest(manifest)
    for _, stream in sorted(events.groupby("stream"), reverse=True):
        digest.add(stream.sort_values("time", kind="stable"))
    split = check_digested(events.iloc[:0], digest, {}, manifest)
    assert split.to_dict() == whole.to_dict()
    checks = sorted((f.check, f.subject) for f in whole.findings)
    assert checks == [
        ("app_clock", "container/app"),
        ("app_clock", "container/app"),
        ("backwards", "ns/job-1/app"),
        ("future", "ns/db-1/app"),
        ("silence", "ns/db-1/app"),
    ]
    clocks = [f for f in whole.findings if f.check == "app_clock"]
    lines_by_offset = {f.labels["offset_seconds"]: f.labels["lines"] for f in clocks}
    assert lines_by_offset == {"-18000.000": "60", "2.500": "27"}

"""Issue 8, items 5-7 and 11: hostile or odd export files cost only themselves, and say so."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from pathlib import Path

from incident_timeline.collector.bundle import read_manifest
from incident_timeline.collector.files import pieces
from incident_timeline.collector.files.collector import FileCollector
from tests.support import DATA, events_of, run_collector

SINCE = datetime(2026, 2, 17, 14, tzinfo=UTC)
UNTIL = datetime(2026, 2, 17, 15, tzinfo=UTC)
GOOD = "2026-02-17T14:05:00Z started\n2026-02-17T14:06:00Z pool exhausted\n"


def collect(tmp_path: Path, tables: str) -> tuple[Path, object, list[dict]]:
    config = tmp_path / "config.toml"
    config.write_text(tables)
    from incident_timeline.collector.config import load_config

    collector = load_config(config).sources["file"]
    assert isinstance(collector, FileCollector)
    out, outcome = run_collector(tmp_path, "file", collector, SINCE, UNTIL, UNTIL)
    return out, outcome, read_manifest(out)["sources"]["file"]["warnings"]


def test_a_wrong_typed_field_costs_its_file_only(tmp_path: Path) -> None:
    (tmp_path / "a.log").write_text(GOOD)
    bad = {
        "status": "success",
        "data": {"resultType": "matrix", "result": [{"metric": {}, "values": [["x", "y"]]}]},
    }
    (tmp_path / "q.json").write_text(json.dumps(bad))
    (tmp_path / "z.log").write_text(GOOD)
    out, outcome, warnings = collect(
        tmp_path,
        '[[file]]\npath = "a.log"\n[[file]]\npath = "q.json"\nformat = "prometheus-query-range"\n'
        '[[file]]\npath = "z.log"\n',
    )
    assert outcome.status == "partial"  # type: ignore[attr-defined]
    assert warnings == [
        {
            "kind": "bad_file",
            "message": "q.json: sample ['x', 'y'] is not [time, \"value\"] "
            "(at /data/result/0/values/0); kept in raw/, its lines stored as unparsed events",
            "ref": "raw/file/q.json",
            "partial": True,
        }
    ]
    events = events_of(out)
    assert sorted(events["ref"]) == [
        "raw/file/a.log#L1",
        "raw/file/a.log#L2",
        "raw/file/q.json#L1",
        "raw/file/z.log#L1",
        "raw/file/z.log#L2",
    ]
    assert events.loc[events["ref"] == "raw/file/q.json#L1", "kind"].item() == "unparsed"
    assert (out / "raw/file/q.json").read_bytes() == (tmp_path / "q.json").read_bytes()


def test_detection_falls_back_and_reads_gzip_and_cr_lines(tmp_path: Path) -> None:
    exports = tmp_path / "exports"
    exports.mkdir()
    (exports / "tags.log").write_text(
        "[worker-3] 2026-02-17T14:05:00Z connection reset\n[worker-4] retry\n"
    )
    (exports / "app.log.gz").write_bytes(gzip.compress(GOOD.encode()))
    (exports / "mac.log").write_bytes(GOOD.replace("\n", "\r").encode())
    (exports / "blob.bin").write_bytes(b"\x00\x01\x02binary\n")
    out, outcome, warnings = collect(tmp_path, '[[file]]\npath = "exports/*"\n')
    counts = outcome.counts  # type: ignore[attr-defined]
    assert (counts["files"], counts["failed_files"], counts["log_lines"]) == (4, 1, 6)
    events = events_of(out)
    assert sorted(events["ref"].str.partition("#")[0].unique()) == [
        "raw/file/exports/app.log.gz",
        "raw/file/exports/mac.log",
        "raw/file/exports/tags.log",
    ]
    assert set(events.loc[events["stream"] == "mac.log", "summary"]) == {
        "started",
        "pool exhausted",
    }
    messages = [w["message"] for w in warnings]
    assert "exports/blob.bin: binary content (NUL bytes); kept in raw/, not parsed" in messages
    assert (out / "raw/file/exports/app.log.gz").read_bytes()[:2] == b"\x1f\x8b"  # kept as received


def test_an_explicit_format_the_content_contradicts_warns(tmp_path: Path) -> None:
    entries = {
        "log_entries": [
            {
                "id": "R1",
                "type": "trigger_log_entry",
                "created_at": "2026-02-17T14:05:00Z",
                "summary": "x",
            }
        ]
    }
    (tmp_path / "pd.json").write_text(json.dumps(entries))
    _, _, warnings = collect(tmp_path, '[[file]]\npath = "pd.json"\nformat = "kubectl-logs"\n')
    assert warnings[0]["kind"] == "format"
    assert warnings[0]["message"] == (
        "pd.json: format = 'kubectl-logs', but the content looks like "
        "'pagerduty-log-entries'; read as 'kubectl-logs'"
    )


def test_a_file_without_timestamps_is_reported_and_partial(tmp_path: Path) -> None:
    (tmp_path / "app.log").write_text("".join(f"request {i} done\n" for i in range(2000)))
    _, outcome, warnings = collect(tmp_path, '[[file]]\npath = "app.log"\n')
    assert outcome.status == "partial"  # type: ignore[attr-defined]
    assert warnings[0]["kind"] == "no_timestamps"
    assert warnings[0]["message"].startswith("app.log: no timestamp found in 2,000 of 2,000 lines")


def test_every_event_outside_the_window_is_said(tmp_path: Path) -> None:
    (tmp_path / "app.log").write_text("2026-02-18T09:00:00Z late\n2026-02-18T09:01:00Z later\n")
    _, outcome, warnings = collect(tmp_path, '[[file]]\npath = "app.log"\n')
    assert outcome.status == "partial"  # type: ignore[attr-defined]
    assert [w["message"] for w in warnings] == [
        "app.log: all 2 events fall outside the window; they run 2026-02-18T09:00:00Z .. "
        "2026-02-18T09:01:00Z"
    ]


EXPORTS = Path(__file__).resolve().parents[2] / "examples" / "checkout-incident" / "exports"


def test_a_malformed_record_costs_that_record_only(tmp_path: Path) -> None:
    events = json.loads((EXPORTS / "events.json").read_text())
    events["items"][2]["count"] = "5"  # kubectl would never write it; a hand edit might
    (tmp_path / "events.json").write_text(json.dumps(events))
    out, outcome, warnings = collect(tmp_path, '[[file]]\npath = "events.json"\n')
    assert outcome.status == "partial"  # type: ignore[attr-defined]
    assert warnings == [
        {
            "kind": "unparsed",
            "message": "events.json: 1 record(s) unreadable as kubectl-events, kept as unparsed "
            'events (first at /items/2/count: "5" is a string, not an integer)',
            "ref": "raw/file/events.json#/items/2/count",
            "partial": True,
        }
    ]
    got = events_of(out)
    assert len(got) == len(events["items"])
    bad = got.loc[got["kind"] == "unparsed"]
    assert bad["ref"].tolist() == ["raw/file/events.json#/items/2"]
    assert json.loads(bad["message"].item())["count"] == "5"
    refs = sorted(got.loc[got["kind"] != "unparsed", "ref"].str.rsplit("/", n=1).str[1].astype(int))
    assert refs == [i for i in range(len(events["items"])) if i != 2]


def test_files_outside_the_config_dir_keep_apart_without_their_absolute_paths(
    tmp_path: Path,
) -> None:
    config_dir, elsewhere = tmp_path / "config", tmp_path / "home" / "alice"
    config_dir.mkdir()
    for n, folder in enumerate((elsewhere / "a", elsewhere / "b")):
        folder.mkdir(parents=True)
        (folder / "app.log").write_text(f"2026-02-17T14:0{n}:00Z from {folder.name}\n")
    tables = "".join(f'[[file]]\npath = "{elsewhere / d / "app.log"}"\n' for d in "ab")
    out, outcome, warnings = collect(config_dir, tables)
    assert warnings == [] and outcome.status == "ok"  # type: ignore[attr-defined]
    files = [f for f in read_manifest(out)["files"] if f.startswith("raw/")]
    assert len(files) == 2 and all(f.startswith("raw/file/external/") for f in files)
    assert all(f.endswith("/app.log") and "alice" not in f for f in files)
    events = events_of(out)
    assert sorted(events["summary"]) == ["from a", "from b"]
    assert set(events["ref"].str.partition("#")[0]) == set(files)
    assert "alice" not in (out / "manifest.json").read_text()


def _traces(records: int, frames: int) -> str:
    """``records`` stamped error lines, each followed by a Java stack trace of ``frames``."""
    out = []
    for i in range(records):
        out.append(f"2026-02-17T14:{i % 60:02d}:00Z ERROR order {i} failed\n")
        out.append("java.lang.IllegalStateException: pool exhausted\n")  # not indented
        out += [f"\tat com.example.Shop.step{j}(Shop.java:{j + 10})\n" for j in range(frames)]
    return "".join(out)


def test_indented_continuation_lines_are_not_missing_timestamps(tmp_path: Path) -> None:
    # 9 of 10 lines have no time of their own, 8 of them stack frames: each record has its
    # time; only the exception line of each (1 in 2 of the lines that open a record) lacks one.
    (tmp_path / "app.log").write_text(_traces(200, 8))
    _, outcome, warnings = collect(tmp_path, '[[file]]\npath = "app.log"\n')
    assert outcome.status == "ok", warnings  # type: ignore[attr-defined]
    assert warnings == []


def test_a_big_file_read_in_pieces_counts_continuations_across_them(tmp_path: Path) -> None:
    from incident_timeline.collector.files import pieces

    (tmp_path / "app.log").write_text(_traces(3000, 8))
    saved = pieces.PIECE
    pieces.PIECE = 4096  # many pieces; most open with stack frames of the record before
    try:
        _, outcome, warnings = collect(tmp_path, '[[file]]\npath = "app.log"\n')
    finally:
        pieces.PIECE = saved
    assert outcome.status == "ok", warnings  # type: ignore[attr-defined]


def test_unstamped_records_are_still_reported_beside_their_continuations(tmp_path: Path) -> None:
    text = _traces(10, 2) + "".join(f"request {i} done\n  took 3 ms\n" for i in range(100))
    (tmp_path / "app.log").write_text(text)
    _, outcome, warnings = collect(tmp_path, '[[file]]\npath = "app.log"\n')
    assert outcome.status == "partial"  # type: ignore[attr-defined]
    assert warnings[0]["message"].startswith(
        "app.log: no timestamp found in 230 of 240 lines (120 of them continue the line above);"
    )


def test_indented_lines_of_a_file_with_no_time_at_all_are_reported(tmp_path: Path) -> None:
    (tmp_path / "app.log").write_text("".join(f"    request {i} done\n" for i in range(50)))
    _, outcome, warnings = collect(tmp_path, '[[file]]\npath = "app.log"\n')
    assert outcome.status == "partial"  # type: ignore[attr-defined]
    assert warnings[0]["message"].startswith("app.log: no timestamp found in 50 of 50 lines;")


def test_real_multi_line_logs_are_not_reported_as_missing_timestamps(tmp_path: Path) -> None:
    # A PostgreSQL log with multi-line statements (their lines indented by the query's own
    # text) and a JVM GC log (each pause's details indented under it): every record is timed.
    tables = "".join(
        f'[[file]]\npath = "{DATA / name}"\n' for name in ("postgresql-slowlog.log", "jvm-gc.log")
    )
    _, _, warnings = collect(tmp_path, tables)
    assert [w for w in warnings if w["kind"] == "no_timestamps"] == []


def test_windows_encodings_are_read_as_text(tmp_path: Path) -> None:
    # Windows PowerShell 5.1's `>` and Out-File write UTF-16LE with a byte order mark and CRLF;
    # Notepad and .NET tools write a UTF-8 mark. A line with a character outside the BMP
    # (a surrogate pair in UTF-16) and one of U+00E9 check the decoding.
    lines = [f"2026-02-17T14:{i // 60:02d}:{i % 60:02d}Z request {i} café 🚒" for i in range(600)]
    text = "".join(f"{line}\r\n" for line in lines)
    files = {
        "ps-le.log": text.encode("utf-16"),  # the mark, then little-endian (on this machine)
        "ps-be.log": b"\xfe\xff" + text.encode("utf-16-be"),
        "bom.log": b"\xef\xbb\xbf" + text.encode(),
    }
    saved = pieces.PIECE
    for piece in (1 << 24, 4097):  # whole, and in odd-sized pieces that split characters
        here = tmp_path / str(piece)
        here.mkdir()
        for name, data in files.items():
            (here / name).write_bytes(data)
        pieces.PIECE = piece
        try:
            out, outcome, warnings = collect(
                here, "".join(f'[[file]]\npath = "{name}"\n' for name in files)
            )
        finally:
            pieces.PIECE = saved
        assert outcome.status == "ok" and warnings == []  # type: ignore[attr-defined]
        events = events_of(out)
        for name, data in files.items():
            mine = events.loc[events["stream"] == name]
            assert mine["summary"].tolist() == [f"request {i} café 🚒" for i in range(600)]
            assert (mine["time_quality"] == "exact").all()
            assert mine["ref"].iloc[-1] == f"raw/file/{name}#L600"
            assert (out / "raw/file" / name).read_bytes() == data

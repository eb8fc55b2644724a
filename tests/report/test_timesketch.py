"""Timesketch export: its mandatory fields, checked by Timesketch's own importer code; and the
output format follows -o's suffix, never contradicting --format."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
import pytest

from incident_timeline.report.cli import output_format
from incident_timeline.report.timesketch import INFERRED, timesketch_frame
from incident_timeline.timeline.schema import make_events
from tests.support import cli, utc


def frame() -> pd.DataFrame:
    return make_events(
        time=[
            utc("2026-02-17T14:05:00.123456789"),
            utc("2026-02-17T14:06"),
            utc("2026-02-17T14:07"),
        ],
        source=["kubernetes", "alertmanager", "file"],
        stream=["ns/pod/c", "alerts.json", "app.log"],
        kind=["log", "alert_firing", "log"],
        summary=["GET /x 500", "HighErrorRate firing", "no timestamp here"],
        message=["2026-02-17T14:05:00.123456789Z GET /x 500", "", "no timestamp here"],
        time_quality=["exact", "exact", "inferred"],
        ref=["raw/a#L1", "raw/b#/0", "raw/c#L9"],
    )


def test_mandatory_fields_and_which_clock() -> None:
    out = timesketch_frame(frame())
    assert list(out.columns[:4]) == ["message", "datetime", "timestamp", "timestamp_desc"]
    assert out["datetime"].tolist()[0] == "2026-02-17T14:05:00.123456+00:00"
    assert out["timestamp"].tolist()[0] == 1771337100123456
    assert out["timestamp_desc"].tolist() == [
        "Container runtime time (kubelet log timestamp)",
        "Alertmanager startsAt",
        INFERRED,
    ]
    assert out["full_message"].tolist()[0].endswith("GET /x 500")
    assert {"source", "stream", "kind", "ref", "labels", "time_raw"} <= set(out.columns)


def test_timesketch_importer_reads_our_csv_and_jsonl() -> None:
    importer = pytest.importorskip("timesketch_import_client.importer")
    from incident_timeline.report.timesketch import render_timesketch

    streamer = importer.ImportStreamer()
    # What ImportStreamer.add_file does with a .csv: pandas.read_csv, then _fix_data_frame.
    csv = pd.read_csv(io.StringIO(render_timesketch(frame(), csv=True)))
    fixed = streamer._fix_data_frame(csv)
    assert fixed["datetime"].tolist() == [
        "2026-02-17T14:05:00.123456+0000",
        "2026-02-17T14:06:00.000000+0000",
        "2026-02-17T14:07:00.000000+0000",
    ]
    assert fixed["message"].tolist()[1] == "HighErrorRate firing"
    assert fixed["timestamp_desc"].tolist()[2] == INFERRED
    # A .jsonl line goes through add_json -> _fix_dict: nothing of ours is replaced.
    for line in render_timesketch(frame(), csv=False).splitlines():
        ours = json.loads(line)
        mine = dict(ours)
        streamer._fix_dict(mine)
        assert {k: mine[k] for k in ("message", "timestamp_desc", "timestamp")} == {
            k: ours[k] for k in ("message", "timestamp_desc", "timestamp")
        }
        assert pd.Timestamp(mine["datetime"]) == pd.Timestamp(ours["datetime"])


@pytest.mark.parametrize(
    ("fmt", "output", "expected"),
    [
        (None, None, "table"),
        (None, "t.md", "md"),
        (None, "t.CSV", "csv"),
        (None, "t.jsonl", "jsonl"),
        (None, "t.parquet", "parquet"),
        (None, "t.html", "html"),
        (None, "t.out", "table"),
        ("timesketch", "t.csv", "timesketch"),
        ("timesketch", "t.jsonl", "timesketch"),
        ("jsonl", "t.out", "jsonl"),
        ("table", "t.txt", "table"),
    ],
)
def test_the_format_follows_the_suffix(fmt: str | None, output: str | None, expected: str) -> None:
    assert output_format(fmt, Path(output) if output else None) == expected


def test_a_suffix_that_contradicts_the_format_is_an_error(
    demo_bundle: Path, tmp_path: Path
) -> None:
    out = tmp_path / "t.md"
    result = cli(["timeline", str(demo_bundle), "--format", "csv", "-o", str(out)], exit_code=2)
    assert result.output.endswith(
        f"Error: -o {out} is a .md file but --format is csv; "
        "use a matching suffix or drop --format\n"
    )
    assert not out.exists()
    result = cli(
        ["timeline", str(demo_bundle), "--format", "timesketch", "-o", str(tmp_path / "t.html")],
        exit_code=2,
    )
    assert "is a .html file but --format is timesketch" in result.output


def test_timesketch_from_the_cli(demo_bundle: Path, tmp_path: Path) -> None:
    out = tmp_path / "ts.csv"
    cli(["timeline", str(demo_bundle), "--format", "timesketch", "-o", str(out)])
    table = pd.read_csv(out)
    assert table.columns[:4].tolist() == ["message", "datetime", "timestamp", "timestamp_desc"]
    assert table["timestamp_desc"].notna().all() and len(table) > 12_000

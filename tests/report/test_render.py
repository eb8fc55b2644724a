"""Rendering a timeline as table, Markdown, CSV, JSON Lines and Parquet."""

from __future__ import annotations

import io
import json
import os

import pandas as pd
import pyarrow.parquet as pq
import pytest

from incident_timeline.report import render as render_module
from incident_timeline.report.render import FORMATS, render
from incident_timeline.timeline.schema import COLUMNS, empty_events, make_events, validate
from tests.support import utc as ts


def sample() -> pd.DataFrame:
    """Three events with a null actor, a pipe, a backtick, a newline and nanoseconds."""
    return make_events(
        time=[
            ts("2026-02-17 14:13:33"),
            ts("2026-02-17 14:16:47.123456789"),
            ts("2026-02-17 14:20:00.5"),
        ],
        source=["pagerduty", "pagerduty", "kubernetes"],
        stream=["PD42", "PD42", "checkout/api/app"],
        kind=["page_trigger", "page_ack", "log"],
        severity=["critical", "info", "error"],
        actor=["system", "Alice Chen", None],
        summary=[
            "Incident #42 triggered",
            "Acknowledged | via `app`",
            "db pool exhausted wait_ms=2000 trace_id=ab12cd34ef while serving checkout",
        ],
        message=["triggered", "ack\nline two", 'db pool exhausted "x"'],
        labels=[{"service": "checkout", "incident": "42"}, {}, {"pod": "api-1"}],
        time_raw=["2026-02-17T14:13:33Z", "2026-02-17T14:16:47.123456789Z", "14:20:00.5"],
        time_quality=["exact", "exact", "assumed_tz"],
        embedded_time=[None, None, ts("2026-02-17 14:20:00.25")],
        ref=["raw/pd/log.json#/0", "raw/pd/log.json#/1", "raw/k/api.log#L7"],
    )


def test_markdown_table_as_a_whole() -> None:
    assert render(sample(), "md") == (
        "| Time (UTC) | Source | Kind | Actor | Summary |\n"
        "| --- | --- | --- | --- | --- |\n"
        "| 2026-02-17 14:13:33 | pagerduty | page_trigger | system | Incident #42 triggered |\n"
        "| 2026-02-17 14:16:47 | pagerduty | page_ack | Alice Chen "
        "| Acknowledged \\| via \\`app\\` |\n"
        "| 2026-02-17 14:20:00 | kubernetes | log |  "
        "| db pool exhausted wait_ms=2000 trace_id=ab12cd34ef while serving checkout |\n"
    )


def test_table_fits_width_with_milliseconds_and_ellipsis() -> None:
    text = render(sample(), "table", width=80)
    assert isinstance(text, str)
    assert text.splitlines() == [
        "TIME (UTC)               SOURCE      KIND          ACTOR       SUMMARY",
        "-----------------------  ----------  ------------  ----------  -----------------",
        "2026-02-17 14:13:33.000  pagerduty   page_trigger  system      Incident #42 tri…",
        "2026-02-17 14:16:47.123  pagerduty   page_ack      Alice Chen  Acknowledged | v…",
        "2026-02-17 14:20:00.500  kubernetes  log                       db pool exhauste…",
    ]
    wide = render(sample(), "table", width=160)
    assert isinstance(wide, str)
    assert "db pool exhausted wait_ms=2000 trace_id=ab12cd34ef while serving checkout" in wide
    assert max(len(line) for line in wide.splitlines()) <= 160


def test_table_default_width_is_the_terminal_but_at_least_80(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(
        render_module.shutil, "get_terminal_size", lambda *a, **k: os.terminal_size((40, 24))
    )
    text = render(sample(), "table")
    assert isinstance(text, str)
    assert max(len(line) for line in text.splitlines()) == 80


def test_csv_header_and_values() -> None:
    text = render(sample(), "csv")
    assert isinstance(text, str)
    lines = text.split("\n")
    assert lines[0] == ",".join(COLUMNS)
    assert lines[1] == (
        "2026-02-17T14:13:33.000000000Z,pagerduty,PD42,page_trigger,critical,system,"
        'Incident #42 triggered,triggered,"{""incident"": ""42"", ""service"": ""checkout""}",'
        "2026-02-17T14:13:33Z,exact,,raw/pd/log.json#/0"
    )
    back = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    assert back["time"].tolist() == [
        "2026-02-17T14:13:33.000000000Z",
        "2026-02-17T14:16:47.123456789Z",
        "2026-02-17T14:20:00.500000000Z",
    ]
    assert back["embedded_time"].tolist() == ["", "", "2026-02-17T14:20:00.250000000Z"]
    assert back["message"].tolist()[1] == "ack\nline two"
    assert "\r" not in text


def test_jsonl_round_trip() -> None:
    text = render(sample(), "jsonl")
    assert isinstance(text, str)
    records = [json.loads(line) for line in text.splitlines()]
    assert list(records[0]) == list(COLUMNS)
    assert records[1]["time"] == "2026-02-17T14:16:47.123456789Z"
    assert records[0]["labels"] == {"incident": "42", "service": "checkout"}
    assert records[2]["actor"] is None
    assert records[0]["embedded_time"] is None
    rebuilt = make_events(
        **{
            name: [
                pd.Timestamp(r[name]) if name in ("time", "embedded_time") and r[name] else r[name]
                for r in records
            ]
            for name in COLUMNS
        }
    )
    pd.testing.assert_frame_equal(rebuilt, sample())


def test_parquet_is_bytes_with_the_schema() -> None:
    data = render(sample(), "parquet")
    assert isinstance(data, bytes)
    table = pq.read_table(io.BytesIO(data))
    assert table.schema.names == list(COLUMNS)
    pd.testing.assert_frame_equal(validate(table.to_pandas()), sample())


def test_empty_frame_in_every_text_format() -> None:
    empty = empty_events()
    assert render(empty, "md") == (
        "| Time (UTC) | Source | Kind | Actor | Summary |\n| --- | --- | --- | --- | --- |\n"
    )
    assert render(empty, "csv") == ",".join(COLUMNS) + "\n"
    assert render(empty, "jsonl") == ""
    assert str(render(empty, "table", width=80)).startswith("TIME (UTC)  SOURCE  KIND")


def test_unknown_format_lists_the_allowed_ones() -> None:
    assert FORMATS == ("table", "md", "csv", "jsonl", "parquet", "html", "timesketch")
    with pytest.raises(ValueError) as info:
        render(sample(), "xlsx")
    assert str(info.value) == (
        "unknown format 'xlsx'; allowed: table, md, csv, jsonl, parquet, html, timesketch"
    )

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from incident_timeline.timeline import schema

T = pd.Timestamp("2026-02-17T14:16:47.123456789Z")


def one(**kw: object) -> pd.DataFrame:
    base: dict[str, object] = {
        "time": [T],
        "source": "pagerduty",
        "stream": "Q1",
        "kind": "page_ack",
        "summary": "Acknowledged by Alice Chen",
        "ref": "raw/x#/0",
    }
    base.update(kw)
    return schema.make_events(**base)


def test_columns_are_the_public_interface() -> None:
    assert schema.COLUMNS == (
        "time",
        "source",
        "stream",
        "kind",
        "severity",
        "actor",
        "summary",
        "message",
        "labels",
        "time_raw",
        "time_quality",
        "embedded_time",
        "ref",
    )
    assert str(schema.SCHEMA.field("time").type) == "timestamp[ns, tz=UTC]"


def test_parquet_round_trip_keeps_nanoseconds_and_nulls(tmp_path: Path) -> None:
    frame = one(labels=[{"b": 2, "a": "x", "none": None}], actor=None)
    schema.write_parquet(frame, tmp_path / "e.parquet")
    back = schema.read_parquet(tmp_path / "e.parquet")
    assert back["time"].iloc[0] == T and back["time"].iloc[0].nanosecond == 789
    assert back["labels"].iloc[0] == '{"a": "x", "b": "2"}'
    assert pd.isna(back["actor"].iloc[0]) and pd.isna(back["embedded_time"].iloc[0])
    assert pq.read_schema(tmp_path / "e.parquet").names == list(schema.COLUMNS)


def test_offsets_become_utc() -> None:
    frame = one(time=[pd.Timestamp("2026-02-17T09:16:47-05:00")])
    assert frame["time"].iloc[0] == pd.Timestamp("2026-02-17T14:16:47Z")


@pytest.mark.parametrize(
    ("kw", "error", "message"),
    [
        ({"time": [pd.Timestamp("2026-02-17 14:16:47")]}, TypeError, "naive"),
        ({"severity": "fatal"}, ValueError, "severity"),
        ({"time_quality": "guessed"}, ValueError, "time_quality"),
        ({"colour": "red"}, ValueError, "unknown event columns"),
        ({"ref": None}, ValueError, "'ref' has missing values"),
        ({"summary": ["a", "b"]}, ValueError, "differ in length"),
    ],
)
def test_bad_records_are_rejected(kw: dict[str, object], error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        one(**kw)


def test_required_columns() -> None:
    with pytest.raises(ValueError, match="'ref' is required"):
        schema.make_events(time=[T], source="s", stream="s", kind="log", summary="x")

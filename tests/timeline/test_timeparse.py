"""The timestamp parser: families, exactness, zones, years, DST, mixed and messy streams."""

from __future__ import annotations

import pandas as pd
import pytest

from incident_timeline.timeline.timestamps import engine as timeparse
from incident_timeline.timeline.timestamps.engine import (
    check_zone,
    fill_inferred,
    parse_iso,
    parse_streams,
    parse_timestamps,
)
from incident_timeline.timeline.timestamps.families import (
    FAMILIES,
    QUICK,
    compiled,
    group_index,
    identify_regex,
)
from tests.support import DATA
from tests.support import utc as ts


def window(since: str, until: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    return ts(since), ts(until)


def parse(
    lines: list[str | None], tz: str = "UTC", win: tuple[pd.Timestamp, pd.Timestamp] | None = None
) -> pd.DataFrame:
    return parse_timestamps(pd.Series(lines, dtype="string"), tz, win)


W2024 = window("2024-01-10T00:00:00Z", "2024-01-20T00:00:00Z")


@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f.name)
def test_each_family_example_is_found_by_its_family(family: object) -> None:
    match = compiled(identify_regex(FAMILIES)).search(family.example)
    assert match and FAMILIES[group_index(match.lastgroup)].name == family.name


@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f.name)
def test_the_quick_filter_lets_every_family_through(family: object) -> None:
    match = compiled(identify_regex(FAMILIES)).search(family.example)
    assert match and compiled(QUICK).search(match.group(match.lastgroup))


@pytest.mark.parametrize(
    ("line", "raw", "expected", "quality"),
    [
        (
            "2024-01-15T14:31:02.123456789Z stdout F hi",
            "2024-01-15T14:31:02.123456789Z",
            "2024-01-15T14:31:02.123456789Z",
            "exact",
        ),
        (
            "2024-01-15 14:31:02,123 INFO [main] x",
            "2024-01-15 14:31:02,123",
            "2024-01-15T14:31:02.123Z",
            "assumed_tz",
        ),
        (
            "2024-01-15 14:31:02.123 UTC [1] LOG: x",
            "2024-01-15 14:31:02.123 UTC",
            "2024-01-15T14:31:02.123Z",
            "exact",
        ),
        (
            "2025-08-13 01:45:01.123 PDT [12345] LOG: x",
            "2025-08-13 01:45:01.123 PDT",
            "2025-08-13T08:45:01.123Z",
            "exact",
        ),
        (
            "2016-12-19T16:31:47.632+0100: 2.503: [GC pause",
            "2016-12-19T16:31:47.632+0100",
            "2016-12-19T15:31:47.632Z",
            "exact",
        ),
        (
            "I0115 14:31:02.123456    1 main.go:1] hi",
            "0115 14:31:02.123456",
            "2024-01-15T14:31:02.123456Z",
            "assumed_tz",
        ),
        (
            "2024/01/15 14:31:02 http: panic",
            "2024/01/15 14:31:02",
            "2024-01-15T14:31:02Z",
            "assumed_tz",
        ),
        (
            'level=info ts=2024-01-15T14:31:02.5Z msg="x"',
            "2024-01-15T14:31:02.5Z",
            "2024-01-15T14:31:02.5Z",
            "exact",
        ),
        ("level=info ts=1705329062.5 msg=x", "1705329062.5", "2024-01-15T14:31:02.5Z", "exact"),
        (
            '1.2.3.4 - - [15/Jan/2024:14:31:02 +0000] "GET / HTTP/1.1"',
            "15/Jan/2024:14:31:02 +0000",
            "2024-01-15T14:31:02Z",
            "exact",
        ),
        (
            "<34>Jan 15 14:31:02 mymachine su: 'su root' failed",
            "Jan 15 14:31:02",
            "2024-01-15T14:31:02Z",
            "assumed_tz",
        ),
        (
            "<165>1 2024-01-15T14:31:02.003Z mymachine.example.com evntslog - ID47 x",
            "2024-01-15T14:31:02.003Z",
            "2024-01-15T14:31:02.003Z",
            "exact",
        ),
        (
            "1:M 15 Jan 2024 14:31:02.123 * Ready",
            "15 Jan 2024 14:31:02.123",
            "2024-01-15T14:31:02.123Z",
            "assumed_tz",
        ),
        (
            "Mon, 15 Jan 2024 14:31:02 +0100 mail",
            "Mon, 15 Jan 2024 14:31:02 +0100",
            "2024-01-15T13:31:02Z",
            "exact",
        ),
        (
            "[Mon Jan 15 14:31:02 2024] [error] x",
            "Mon Jan 15 14:31:02 2024",
            "2024-01-15T14:31:02Z",
            "assumed_tz",
        ),
        ("240115 14:31:02 [Note] x", "240115 14:31:02", "2024-01-15T14:31:02Z", "assumed_tz"),
        (
            "01/15/2024 02:31:02 PM Service started",
            "01/15/2024 02:31:02 PM",
            "2024-01-15T14:31:02Z",
            "assumed_tz",
        ),
    ],
)
def test_families_in_real_shapes(line: str, raw: str, expected: str, quality: str) -> None:
    got = parse([line], "UTC", W2024).iloc[0]
    assert (got["time_raw"], got["time"], got["quality"]) == (raw, ts(expected), quality)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('{"level":"info","ts":1705329062.123456789,"msg":"x"}', "2024-01-15T14:31:02.123456789Z"),
        ('{"time":1705329062123,"msg":"x"}', "2024-01-15T14:31:02.123Z"),
        ('{"timestamp":1705329062123456}', "2024-01-15T14:31:02.123456Z"),
        ('{"date":1705329062123456789}', "2024-01-15T14:31:02.123456789Z"),
        ('{"__REALTIME_TIMESTAMP" : "1705329062123456"}', "2024-01-15T14:31:02.123456Z"),
        ('{"@timestamp":"2024-01-15T14:31:02.123Z","message":"x"}', "2024-01-15T14:31:02.123Z"),
        ('{"t":{"$date":"2024-01-15T14:31:02.401+00:00"},"s":"I"}', "2024-01-15T14:31:02.401Z"),
        # the time key wins over an earlier timestamp-looking field
        ('{"start":"2020-01-01T00:00:00Z","time":"2024-01-15T14:31:02Z"}', "2024-01-15T14:31:02Z"),
    ],
)
def test_json_time_keys_strings_and_epochs(line: str, expected: str) -> None:
    assert parse([line])["time"].iloc[0] == ts(expected)


def test_first_timestamp_of_the_line_wins() -> None:
    lines = [
        "- 1117838570 2005.06.03 R02-M1-N0 2005-06-03-15.42.50.675872 R02 RAS KERNEL INFO x",
        "2016-09-28 04:30:31, Info CSI 00000001@2016/9/27:20:30:31.455 WcpInitialize",
        "2022-03-16T13:32:39.044141390Z I0316 13:32:39.044104 1 gc.go:210] syncing",
        "Nov 10 14:17:41.900439 host kubenswrapper[2296]: E1110 14:17:41.900391 2296 x.go:1] e",
    ]
    got = parse(lines, "UTC", window("2005-01-01T00:00:00Z", "2025-01-01T00:00:00Z"))
    assert list(got["time_raw"]) == [
        "1117838570",
        "2016-09-28 04:30:31",
        "2022-03-16T13:32:39.044141390Z",
        "Nov 10 14:17:41.900439",
    ]
    assert got["time"].iloc[0] == ts("2005-06-03T22:42:50Z")


def test_naive_times_take_the_configured_zone_and_say_so() -> None:
    got = parse(["2024-07-01 12:00:00 x", "2024-07-01T12:00:00Z y"], "America/New_York")
    assert list(got["time"]) == [ts("2024-07-01T16:00:00Z"), ts("2024-07-01T12:00:00Z")]
    assert list(got["quality"]) == ["assumed_tz", "exact"]


def test_year_less_stamps_take_the_window_year_across_new_year() -> None:
    win = window("2023-12-31T22:00:00Z", "2024-01-01T02:00:00Z")
    got = parse(
        ["Dec 31 23:59:59 h a: x", "Jan  1 00:00:01 h a: y", "I0101 00:30:00.5 1 x] z"], "UTC", win
    )
    assert list(got["time"]) == [
        ts("2023-12-31T23:59:59Z"),
        ts("2024-01-01T00:00:01Z"),
        ts("2024-01-01T00:30:00.5Z"),
    ]


def test_year_less_feb_29_takes_a_leap_year_and_no_window_means_no_year() -> None:
    got = parse(
        ["Feb 29 12:00:00 h a: x"], "UTC", window("2025-01-01T00:00:00Z", "2025-03-01T00:00:00Z")
    )
    assert got["time"].iloc[0] == ts("2024-02-29T12:00:00Z")
    alone = parse(["Feb 28 12:00:00 h a: x"])
    assert alone["time"].isna().all() and alone["time_raw"].isna().all()


def test_dst_fall_back_is_read_in_order_and_flagged() -> None:
    lines = (DATA / "logfile_dst.0.log").read_text().splitlines()
    got = parse(
        lines, "America/Los_Angeles", window("2024-11-01T00:00:00Z", "2024-11-05T00:00:00Z")
    )
    assert got["time"].is_monotonic_increasing
    assert list(got["dst"].fillna("")) == ["ambiguous"] * 8 + ["", ""]
    # 01:59:14 is still summer time (PDT, UTC-7); 01:24:56 after it is winter time (PST, UTC-8)
    assert got["time"].iloc[4] == ts("2024-11-03T08:59:14Z")
    assert got["time"].iloc[5] == ts("2024-11-03T09:24:56Z")


def test_dst_spring_forward_gap_uses_the_offset_before_and_is_flagged() -> None:
    got = parse(
        ["2024-03-10 01:59:59.999999999 a", "2024-03-10 02:30:00 b", "2024-03-10 03:00:00 c"],
        "America/New_York",
    )
    assert list(got["time"]) == [
        ts("2024-03-10T06:59:59.999999999Z"),
        ts("2024-03-10T07:30:00Z"),
        ts("2024-03-10T07:00:00Z"),
    ]
    assert list(got["dst"].fillna("")) == ["", "nonexistent", ""]


def test_invalid_dates_and_garbage_get_no_time() -> None:
    got = parse(
        [
            "2024-02-30 10:00:00 x",
            "2024-13-01 10:00:00 y",
            "no time here",
            "",
            None,
            "2024-01-15 25:00:00 z",
            '{"ts": "xxx"}',
            "version 1.2.3 build 20240115",
        ]
    )
    assert got["time"].isna().all()
    assert got["time_raw"].isna().all() and got["quality"].isna().all()


def test_index_is_kept_and_columns_are_typed() -> None:
    lines = pd.Series(["2024-01-15T14:31:02Z a", "b"], index=[7, 9], dtype="string")
    got = parse_timestamps(lines)
    assert list(got.index) == [7, 9]
    assert str(got["time"].dtype) == "datetime64[ns, UTC]"
    assert {str(got[c].dtype) for c in ("time_raw", "quality", "dst")} == {"string"}


def test_a_stream_mixing_formats_after_the_sample() -> None:
    lines = ["2024-01-15T14:31:02Z a"] * 300 + ["Jan 15 14:31:03 h b: x", "I0115 14:31:04.5 1 c] y"]
    got = parse(lines, "UTC", W2024)
    assert list(got["time"].iloc[-2:]) == [ts("2024-01-15T14:31:03Z"), ts("2024-01-15T14:31:04.5Z")]


def test_abbreviation_zones_and_unknown_words() -> None:
    got = parse(
        [
            "2017-07-31 13:36:42.585 CEST [4974] LOG: x",
            "2015-04-24T21:08:10.313913FOO err rbd",
            "2024-01-15 14:31:02 ESTABLISHED",
        ]
    )
    assert list(got["time"]) == [
        ts("2017-07-31T11:36:42.585Z"),
        ts("2015-04-24T21:08:10.313913Z"),
        ts("2024-01-15T14:31:02Z"),
    ]
    assert list(got["quality"]) == ["exact", "assumed_tz", "assumed_tz"]


def test_parse_iso_keeps_its_contract() -> None:
    got = parse_iso(pd.Series(["2026-02-17T14:13:30.512Z", None, "0001-01-01T00:00:00Z"]))
    assert got["time"].iloc[0] == ts("2026-02-17T14:13:30.512Z")
    assert got["time"].iloc[1:].isna().all()


def test_fill_inferred_and_check_zone() -> None:
    time = pd.Series([pd.NaT, ts("2024-01-01T00:00:00Z"), pd.NaT], dtype="datetime64[ns, UTC]")
    filled, quality = fill_inferred(
        time, pd.Series([pd.NA, "exact", pd.NA], dtype="string"), ts("2023-01-01T00:00:00Z")
    )
    assert filled.notna().all() and list(quality) == ["inferred", "exact", "inferred"]
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Olympus'"):
        check_zone("Mars/Olympus")


def test_chunks_and_threads_give_the_same_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    lines = (
        (DATA / "logfile_dst.0.log").read_text().splitlines() * 3
        + [
            "no time",
            "2024-11-03T01:30:00Z z",
            '{"ts":1730597400.5}',
            "Nov  3 01:10:00 h x: y",
        ]
        * 40
        + (DATA / "redis.log").read_text().splitlines()
    )
    win = window("2024-11-01T00:00:00Z", "2024-11-05T00:00:00Z")
    whole = parse(lines, "America/Los_Angeles", win)
    monkeypatch.setattr(timeparse, "CHUNK", 7)
    for threads in (1, 2):
        got = parse_timestamps(
            pd.Series(lines, dtype="string"), "America/Los_Angeles", win, threads=threads
        )
        pd.testing.assert_frame_equal(got, whole)
    streams = parse_streams(
        {"a": pd.Series(lines[:30], dtype="string"), "b": pd.Series(lines[30:], dtype="string")},
        "America/Los_Angeles",
        win,
        threads=2,
    )
    assert streams["a"]["time"].tolist() == whole["time"].iloc[:30].tolist()


def test_short_streams_read_together_give_each_its_own_answer() -> None:
    dst = (DATA / "logfile_dst.0.log").read_text().splitlines()
    texts = {
        "stepped back": dst,  # its clock steps back in the repeated hour...
        "later lines": dst[5:],  # ...which this stream, read alone, never sees
        "mixed": [
            "no time",
            None,
            '{"ts":1730597400.5}',
            "2024-11-03T01:30:00Z z",
            "Nov  3 01:10:00 h x: y",
            "11/03/2024 1:40:00 AM loose",
        ],
        "empty": [],
        "redis": (DATA / "redis.log").read_text().splitlines(),  # > detect.FEW: own plan
        "json": (DATA / "zap-json-epoch-caddy.log").read_text().splitlines(),
    }
    streams = {
        name: pd.Series(lines, dtype="string", index=range(7, 7 + len(lines)))
        for name, lines in texts.items()
    }
    win = window("2024-11-01T00:00:00Z", "2024-11-05T00:00:00Z")
    for threads in (1, 2):
        got = parse_streams(streams, "America/Los_Angeles", win, threads=threads)
        assert list(got) == list(streams)
        for name, lines in streams.items():
            pd.testing.assert_frame_equal(
                got[name], parse_timestamps(lines, "America/Los_Angeles", win)
            )
    assert got["stepped back"]["time"].iloc[5] != got["later lines"]["time"].iloc[0]

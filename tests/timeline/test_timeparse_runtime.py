"""Container-runtime log files and the text collectors on the new timestamp engine."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from incident_timeline.collector.files.collector import detect_format, parse
from incident_timeline.collector.formats import Context
from incident_timeline.timeline.timestamps.runtime import (
    read_runtime_log,
    split_lines,
    string_views,
)
from tests.support import DATA

T0 = pd.Timestamp("2024-01-15T14:00:00Z")
CRI = (
    b"2024-01-15T14:31:02.123456789Z stdout F level=info ts=2024-01-15T14:31:02.120Z msg=a\n"
    b"2024-01-15T14:31:02.2Z stdout P part one \n"
    b"2024-01-15T14:31:02.25Z stderr F E0115 14:31:02.249000 1 x.go:1] level=error boom\n"
    b"2024-01-15T14:31:02.3Z stdout P part two \n"
    b"2024-01-15T14:31:02.4Z stdout F end\n"
    b"not a runtime line\n"
    b"\n"
    b"2024-01-15T15:31:02+01:00 stdout F \n"
    b"2024-01-15T14:31:03Z stderr F\r\n"
    b"2024-01-15T14:31:04Z stdout P dangling"
)


def ctx(**kw: object) -> Context:
    base = {
        "ref": "raw/file/0.log",
        "stream": "shop/api-1/app",
        "fallback_time": T0,
        "window_end": T0 + pd.Timedelta(hours=2),
    }
    base.update(kw)
    return Context(**base)  # type: ignore[arg-type]


def test_split_lines_numbers_non_blank_lines() -> None:
    lines = split_lines(b"a\r\n\nb\n\r\nc")
    assert list(lines.numbers) == [1, 3, 5]
    assert [lines.data[s : s + n] for s, n in zip(lines.starts, lines.lengths, strict=False)] == [
        b"a",
        b"b",
        b"c",
    ]


def test_string_views_are_the_slices_short_and_long() -> None:
    # Inline (at most 12 bytes, zero-padded) and referenced views, next to each other.
    data = bytes(range(97, 123)) * 4
    rng = np.random.default_rng(5)
    starts = rng.integers(0, len(data) - 30, 200)
    lengths = rng.integers(0, 30, 200)
    views = string_views(data, starts, lengths).cast("large_string").to_pylist()
    assert views == [data[a : a + n].decode() for a, n in zip(starts, lengths, strict=True)]


def test_runtime_records_join_partials_per_stream() -> None:
    got = read_runtime_log(CRI)
    assert list(got["line"]) == [1, 2, 3, 6, 8, 9, 10]
    assert list(got["message"]) == [
        "level=info ts=2024-01-15T14:31:02.120Z msg=a",
        "part one part two end",
        "E0115 14:31:02.249000 1 x.go:1] level=error boom",
        "not a runtime line",
        "",
        "",
        "dangling",
    ]
    assert list(got["partial"]) == [0, 2, 0, 0, 0, 0, 0]
    assert list(got["stream"].fillna("-")) == [
        "stdout",
        "stdout",
        "stderr",
        "-",
        "stdout",
        "stderr",
        "stdout",
    ]
    assert got["time"].iloc[0] == pd.Timestamp("2024-01-15T14:31:02.123456789Z")
    assert got["time"].iloc[4] == pd.Timestamp("2024-01-15T14:31:02Z")
    assert got["time_raw"].iloc[4] == "2024-01-15T15:31:02+01:00"
    assert got["time"].isna().tolist() == [False, False, False, True, False, False, False]


def test_runtime_reader_threads_agree_with_one_thread() -> None:
    body = b"".join(
        b"2024-01-15T14:%02d:%02d.%dZ %s %s line %d\n"
        % (
            i // 3600 % 60,
            i // 60 % 60,
            i % 1000,
            b"stderr" if i % 7 == 0 else b"stdout",
            b"P" if i % 5 == 0 else b"F",
            i,
        )
        for i in range(250_000)
    )
    one = read_runtime_log(body, threads=1)
    two = read_runtime_log(body, threads=2)
    pd.testing.assert_frame_equal(one, two)
    assert len(one) < 250_000 and one["time"].notna().all()


def test_cri_file_is_detected_and_parsed_with_two_clocks() -> None:
    assert detect_format(CRI).name == "cri"
    parsed = parse("cri", CRI, ctx())
    events = parsed.events
    assert len(events) == 7 and parsed.counts["joined_partial_lines"] == 1
    assert list(events["ref"].head(3)) == [
        "raw/file/0.log#L1",
        "raw/file/0.log#L2",
        "raw/file/0.log#L3",
    ]
    assert events["embedded_time"].iloc[0] == pd.Timestamp("2024-01-15T14:31:02.120Z")
    assert events["embedded_time"].iloc[2] == pd.Timestamp("2024-01-15T14:31:02.249Z")
    assert events["severity"].iloc[2] == "error"
    assert list(events["time_quality"]) == ["exact"] * 3 + ["inferred"] + ["exact"] * 3
    assert json.loads(events["labels"].iloc[2])["stream"] == "stderr"
    assert events["source"].iloc[0] == "kubernetes"


def test_plain_log_of_year_less_syslog_takes_the_window_year() -> None:
    text = b"Jan 15 14:31:02 host sshd[1]: a\n  continued\nJan 15 14:31:05 host sshd[1]: b\n"
    events = parse("log", text, ctx()).events
    assert list(events["time"]) == [
        pd.Timestamp("2024-01-15T14:31:02Z"),
        pd.Timestamp("2024-01-15T14:31:02Z"),
        pd.Timestamp("2024-01-15T14:31:05Z"),
    ]
    assert list(events["time_quality"]) == ["assumed_tz", "inferred", "assumed_tz"]
    assert events["summary"].iloc[0] == "host sshd[1]: a"


def test_dst_flag_reaches_the_labels() -> None:
    data = (DATA / "logfile_dst.0.log").read_bytes()
    nov = Context(
        ref="raw/file/dst.log",
        stream="dst",
        timezone="America/Los_Angeles",
        fallback_time=pd.Timestamp("2024-11-01T00:00:00Z"),
        window_end=pd.Timestamp("2024-11-05T00:00:00Z"),
    )
    events = parse("log", data, nov).events
    flags = [json.loads(labels).get("time_flag") for labels in events["labels"]]
    assert flags == ["ambiguous"] * 8 + [None, None]


def test_real_multi_format_files(tmp_path: object) -> None:
    redis = parse(
        "log",
        (DATA / "redis.log").read_bytes(),
        ctx(
            fallback_time=pd.Timestamp("2017-05-01T00:00:00Z"),
            window_end=pd.Timestamp("2017-06-30T00:00:00Z"),
        ),
    ).events
    assert redis["time"].iloc[0] == pd.Timestamp("2018-12-27T11:19:18.874Z")
    assert redis["time"].iloc[1] == pd.Timestamp("2017-05-30T12:50:13.457Z")  # year-less 3.0
    assert redis["time_raw"].iloc[55] == "31 May 04:32:08"  # 2.4 on Windows
    klog = parse(
        "kubectl-logs",
        (DATA / "klog-openshift-misc.log").read_bytes(),
        ctx(
            fallback_time=pd.Timestamp("2021-11-01T00:00:00Z"),
            window_end=pd.Timestamp("2021-11-30T00:00:00Z"),
        ),
    ).events
    assert klog["time"].iloc[0] == pd.Timestamp("2021-11-10T14:17:41.900439Z")
    caddy = parse("log", (DATA / "zap-json-epoch-caddy.log").read_bytes(), ctx()).events
    assert caddy["time"].iloc[0] == pd.Timestamp("2025-10-21T04:10:22.315275700Z")
    journald = parse("log", (DATA / "journald-json.log").read_bytes(), ctx()).events
    assert journald["time"].iloc[0] == pd.Timestamp("2018-08-21T14:04:21.221373Z")
    postgres = parse("log", (DATA / "postgresql.log").read_bytes(), ctx()).events
    assert postgres["time"].iloc[0] == pd.Timestamp("2025-08-13T08:45:01.123Z")
    assert postgres["time_quality"].iloc[0] == "exact"

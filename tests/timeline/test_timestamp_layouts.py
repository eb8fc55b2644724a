"""Layouts no table lists: a caller's own family set, a user's time_format/time_regex, and
layouts inferred from a sample and the incident window (compact dates, month.day without a
year, colon milliseconds, epoch mid-line, a stream rotated to a new format)."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from incident_timeline.timeline.timestamps import (
    FAMILIES,
    Family,
    LayoutError,
    compile_format,
    parse_timestamps,
    placed,
)
from incident_timeline.timeline.timestamps.families import BY_NAME
from incident_timeline.timeline.timestamps.infer import number_range
from incident_timeline.timeline.timestamps.layout import split_regex
from tests.support import shared
from tests.support import utc as ts


def parse(lines: list[str], window: tuple[str, str] | None = None, **kw: object) -> pd.DataFrame:
    win = (ts(window[0]), ts(window[1])) if window else None
    tz = str(kw.pop("tz", "UTC"))
    return parse_timestamps(pd.Series(lines, dtype="string"), tz, win, **kw)  # type: ignore[arg-type]


def times(frame: pd.DataFrame) -> list[str | None]:
    return [None if pd.isna(t) else t.isoformat() for t in frame["time"]]


# --- a caller's own family set --------------------------------------------------------------


def test_a_user_format_is_a_family_and_only_it_is_looked_for() -> None:
    layout = compile_format("%d/%m %H.%M.%S,%f")
    got = parse(
        ["15/01 14.31.02,5 worker started", "2024-01-15T14:31:03Z iso is not this layout"],
        ("2024-01-15T00:00:00Z", "2024-01-16T00:00:00Z"),
        families=(layout,),
    )
    assert times(got) == ["2024-01-15T14:31:02.500000+00:00", None]
    assert list(got["time_raw"].fillna("-")) == ["15/01 14.31.02,5", "-"]
    assert got.attrs["time_notes"] == []


def test_a_subset_of_the_built_ins_and_a_hand_made_family_run_the_same_path() -> None:
    lines = ["Jun 14 15:16:01 combo sshd[1]: ok", "2024-06-14T15:16:02Z x", "14/06/2024 15:16:03 y"]
    win = ("2024-06-14T00:00:00Z", "2024-06-15T00:00:00Z")
    assert times(parse(lines, win, families=(BY_NAME["syslog"],))) == [
        "2024-06-14T15:16:01+00:00",
        None,
        None,
    ]
    dmy = Family(
        "dmy_slash",
        r"(?P<d>[0-9]{2})/(?P<m>[0-9]{2})/(?P<Y>[0-9]{4}) (?P<H>[0-9]{2}):(?P<M>[0-9]{2}):"
        r"(?P<S>[0-9]{2})",
        "civil",
        "14/06/2024 15:16:03 y",
        before=r"\b",
    )
    own = parse(lines, win, families=(*FAMILIES, dmy))
    assert times(own) == [
        "2024-06-14T15:16:01+00:00",
        "2024-06-14T15:16:02+00:00",
        "2024-06-14T15:16:03+00:00",
    ]


@pytest.mark.parametrize(
    ("fmt", "line", "expected", "quality"),
    [
        ("epoch_ms", "GET /x 200 took=12 at=1712345678123 ok", "2024-04-05T19:34:38.123", "exact"),
        ("epoch_s", "job 42 done 1712345678.25 rc=0", "2024-04-05T19:34:38.250", "exact"),
        ("epoch_us", "t 1712345678123456 x", "2024-04-05T19:34:38.123456", "exact"),
        ("epoch_ns", "1712345678123456789 x", "2024-04-05T19:34:38.123456789", "exact"),
        ("%Y-%m-%d %H:%M:%S %z", "2024-04-05 21:34:38 +0200 up", "2024-04-05T19:34:38", "exact"),
        ("%b %e %Y %H:%M:%S", "Apr  5 2024 19:34:38 up", "2024-04-05T19:34:38", "assumed_tz"),
        ("%d.%m.%y %T,%3f", "05.04.24 19:34:38,120 up", "2024-04-05T19:34:38.120", "assumed_tz"),
        ("%F %H:%M %Z", "2024-04-05 21:34 CEST up", "2024-04-05T19:34:00", "exact"),
        ("%Y%m%d%H%M%S", "id=7 20240405193438 up", "2024-04-05T19:34:38", "assumed_tz"),
        ("%Y%m%d-%H:%M:%S:%L", "20240405-19:34:38:6|x", "2024-04-05T19:34:38.006", "assumed_tz"),
        ("%Y-%j %H:%M:%S", "2024-096 19:34:38 day of year", "2024-04-05T19:34:38", "assumed_tz"),
        # A 12-hour clock (Windows' and Java's SimpleDateFormat "hh:mm:ss a" logs).
        ("%m/%d/%Y %I:%M:%S %p", "04/05/2024 07:34:38 PM x", "2024-04-05T19:34:38", "assumed_tz"),
        ("%m/%d/%Y %I:%M:%S %p", "04/05/2024 12:34:38 am x", "2024-04-05T00:34:38", "assumed_tz"),
        ("%m/%d/%Y %I:%M:%S %p", "04/05/2024 12:34:38 PM x", "2024-04-05T12:34:38", "assumed_tz"),
        ("%d %b %Y %I:%M %p", "5 Apr 2024 7:34 p.m. x", "2024-04-05T19:34:00", "assumed_tz"),
        ("%m/%d/%Y %I:%M:%S %p", "04/05/2024 13:34:38 PM x", None, None),
    ],
)
def test_user_formats(fmt: str, line: str, expected: str | None, quality: str | None) -> None:
    got = parse(
        [line], ("2024-04-05T00:00:00Z", "2024-04-06T00:00:00Z"), families=(compile_format(fmt),)
    )
    assert times(got) == [None if expected is None else ts(expected + "Z").isoformat()]
    assert got["quality"].iloc[0] is pd.NA if quality is None else got["quality"].iloc[0] == quality


def test_time_regex_says_where_the_stamp_is() -> None:
    line = "2024-01-15T00:00:00Z job=7 started=2024-01-15T14:31:02.5Z state=(ok)"
    built_ins = placed(FAMILIES, r"started=(?P<time>\S+) state=\((ok|failed)\)")
    assert times(parse([line], families=built_ins)) == ["2024-01-15T14:31:02.500000+00:00"]
    own = compile_format("%Y-%m-%dT%H:%M:%S.%f%z", r"started=(\S+)")
    assert times(parse([line], families=(own,))) == ["2024-01-15T14:31:02.500000+00:00"]
    assert split_regex(r"^\[(?P<time>[^]]+)\] (x)") == (r"^\[", r"\] (?:x)")


@pytest.mark.parametrize(
    ("fmt", "regex", "message"),
    [
        ("%H:%M:%S %m", None, "has no day"),
        ("%d %H:%M", None, "has no month"),
        ("%d/%m %H", None, "has no %M"),
        ("%d/%m %H:%M %q", None, "%q is not supported"),
        ("%d/%m %I:%M", None, "%I and %p go together"),
        ("%d/%m %H:%M %p", None, "%I and %p go together"),
        ("%d/%m %H %I:%M %p", None, "both %H and %I"),
        ("%d/%m/%Y %H:%M %d", None, "has %d twice"),
        ("%j %H:%M", None, "%j needs a year"),
        ("epoch_ms", "no group here", "has no group"),
        ("epoch_ms", "(?<=at=)(?P<time>[0-9]+)", "cannot be used"),
        ("epoch_ms", "([0-9]+", "is not a regular expression"),
    ],
)
def test_bad_layouts_say_what_is_wrong(fmt: str, regex: str | None, message: str) -> None:
    with pytest.raises(LayoutError, match=re.escape(message)):
        compile_format(fmt, regex)


# --- inference from a sample and the window -------------------------------------------------

# HealthApp (loghub): a compact date, "-", a clock and milliseconds after a colon.
HEALTHAPP = [
    "20171223-22:15:29:606|Step_LSC|30002312|onStandStepChanged 3579",
    "20171223-22:15:29:633|Step_StandReportReceiver|30002312|onReceive action: android.intent"
    ".action.SCREEN_ON",
    "20171223-22:15:29:635|Step_LSC|30002312|processHandleBroadcastAction action:android.intent"
    ".action.SCREEN_ON",
    "20171223-22:15:29:635|Step_StandStepCounter|30002312|flush sensor data",
    "20171223-22:15:29:635|Step_SPUtils|30002312| getTodayTotalDetailSteps = 1514038440000##6993"
    "##548365##8661##12266##27164404",
    "20171223-22:15:30:1|Step_LSC|30002312|onStandStepChanged 3580",
]
# Proxifier (loghub): a bracketed month.day without a year.
PROXIFIER = [
    "[10.30 16:49:06] chrome.exe - proxy.cse.cuhk.edu.hk:5070 open through proxy "
    "proxy.cse.cuhk.edu.hk:5070 HTTPS",
    "[10.30 16:49:07] chrome.exe - proxy.cse.cuhk.edu.hk:5070 close, 0 bytes sent, 0 bytes "
    "received, lifetime 00:01",
    "[10.30 16:49:08] chrome.exe *64 - proxy.cse.cuhk.edu.hk:5070 close, 403 bytes sent, 426 "
    "bytes received, lifetime <1 sec",
]


def test_compact_date_with_colon_milliseconds_is_inferred() -> None:
    got = parse(HEALTHAPP, ("2017-12-23T14:00:00Z", "2017-12-23T15:00:00Z"), tz="Asia/Shanghai")
    assert times(got) == [
        "2017-12-23T14:15:29.606000+00:00",
        "2017-12-23T14:15:29.633000+00:00",
        "2017-12-23T14:15:29.635000+00:00",
        "2017-12-23T14:15:29.635000+00:00",
        "2017-12-23T14:15:29.635000+00:00",
        "2017-12-23T14:15:30.001000+00:00",
    ]
    assert list(got["quality"]) == ["assumed_tz"] * 6
    assert got["time_raw"].iloc[0] == "20171223-22:15:29:606"
    assert got.attrs["time_notes"] == [
        "timestamps read as time_format = '%Y%m%d-%H:%M:%S:%L', a layout inferred from the "
        "sampled lines that no known layout matched and the incident window"
    ]


def test_month_day_without_year_takes_the_window_year() -> None:
    got = parse(PROXIFIER, ("2024-10-30T16:00:00Z", "2024-10-30T18:00:00Z"))
    assert times(got) == [
        "2024-10-30T16:49:06+00:00",
        "2024-10-30T16:49:07+00:00",
        "2024-10-30T16:49:08+00:00",
    ]
    # 30 cannot be a month: %d.%m reads nothing, so month.day is settled by the values alone
    assert got.attrs["time_notes"] == [
        "timestamps read as time_format = '%m.%d %H:%M:%S', a layout inferred from the "
        "sampled lines that no known layout matched and the incident window"
    ]


def lines_on(day: str) -> list[str]:
    return [line.replace("[10.30", f"[{day}") for line in PROXIFIER]


def test_day_month_order_settled_by_the_window() -> None:
    got = parse(lines_on("03.04"), ("2024-04-03T16:00:00Z", "2024-04-03T18:00:00Z"))
    assert times(got)[0] == "2024-04-03T16:49:06+00:00"  # 3 April: day.month
    assert "'%d.%m %H:%M:%S'" in got.attrs["time_notes"][0]


def test_day_month_order_not_settled_is_reported_never_guessed() -> None:
    got = parse(lines_on("03.04"), ("2024-03-01T00:00:00Z", "2024-04-30T00:00:00Z"))
    assert times(got) == [None, None, None]
    assert got.attrs["time_notes"] == [
        "timestamps such as '[03.04 16:49:06' fit more than one layout ('%m.%d %H:%M:%S', "
        "'%d.%m %H:%M:%S'): the sample and the window do not settle the order of day and month, "
        "so these lines keep inferred times; set time_format"
    ]


def test_day_month_order_that_reads_the_same_either_way_is_used_and_said() -> None:
    got = parse(lines_on("04.04"), ("2024-03-01T00:00:00Z", "2024-04-30T00:00:00Z"))
    assert times(got)[2] == "2024-04-04T16:49:08+00:00"
    assert got.attrs["time_notes"][0] == (
        "the order of day and month in timestamps such as '[04.04 16:49:06' is not settled by "
        "the sample (every date reads the same as '%d.%m %H:%M:%S'); read as '%m.%d %H:%M:%S'"
    )


def hpc(n: int, start: int = 1712345678) -> list[str]:
    """HPC-style lines (loghub): a record id, a node, a component, then epoch seconds."""
    out = []
    for i in range(n):
        decoy = " job 1000000042" if i % 3 == 0 else ""  # a 10-digit number outside the window
        out.append(
            f"{5521 + i} node-{17 + i % 5}{decoy} hw state_change {start + 7 * i} 1 Component "
            f'State Change: Component "alt0" is in the unavailable state (HWID={3180 + i})'
        )
    return out


@pytest.mark.parametrize("n", [6, 400])  # a few lines (read line by line), many (sampled)
def test_epoch_seconds_mid_line_inside_the_window(n: int) -> None:
    got = parse(hpc(n), ("2024-04-05T19:00:00Z", "2024-04-05T21:00:00Z"))
    expected = [ts("2024-04-05T19:34:38Z") + pd.Timedelta(seconds=7 * i) for i in range(n)]
    assert list(got["time"]) == expected
    assert (got["quality"] == "exact").all()
    assert got["time_raw"].iloc[0] == "1712345678"
    assert got.attrs["time_notes"][0].startswith(
        "timestamps read as time_format = 'epoch_s (a number from 1712257200 to 1712437200 "
        "anywhere in the line, in s)'"
    )


def test_epoch_milliseconds_under_an_unknown_json_key_real_file() -> None:
    # lnav's test fixture: "started_at" is no time key any table lists
    data = shared("data", "extra", "lnav", "logfile_json3.json").read_text()
    got = parse(data.splitlines(), ("2017-03-24T20:00:00Z", "2017-03-24T21:00:00Z"))
    assert times(got) == [
        "2017-03-24T20:06:26.240000+00:00",
        "2017-03-24T20:12:47.764000+00:00",
        "2017-03-24T20:15:31.694000+00:00",
    ]


def test_no_window_no_inference_and_every_line_keeps_its_place() -> None:
    got = parse(HEALTHAPP)
    assert times(got) == [None] * 6 and got.attrs["time_notes"] == []
    mixed = [HEALTHAPP[0], "    at com.example.Step.run(Step.java:42)", *HEALTHAPP[1:]]
    got = parse(mixed, ("2017-12-23T22:00:00Z", "2017-12-23T23:00:00Z"))
    assert len(got) == 7 and times(got)[1] is None
    assert times(got)[2] == "2017-12-23T22:15:29.633000+00:00"


def test_readings_outside_the_window_are_not_a_layout() -> None:
    got = parse(HEALTHAPP, ("2024-06-01T00:00:00Z", "2024-06-02T00:00:00Z"))
    assert times(got) == [None] * 6 and got.attrs["time_notes"] == []


def healthapp(n: int, start: str) -> list[str]:
    """HealthApp-style lines, 250 ms apart from ``start`` (a naive local time)."""
    t0 = pd.Timestamp(start)
    out = []
    for i in range(n):
        t = t0 + pd.Timedelta(milliseconds=250 * i)
        stamp = f"{t:%Y%m%d-%H:%M:%S}:{t.microsecond // 1000:03d}"
        out.append(f"{stamp}|Step_LSC|30002312|onStandStepChanged {3579 + i}")
    return out


def proxifier(n: int, start: str) -> list[str]:
    """Proxifier-style lines, one a second from ``start``."""
    t0 = pd.Timestamp(start)
    return [
        f"[{t:%m.%d %H:%M:%S}] chrome.exe - proxy.cse.cuhk.edu.hk:5070 close, {i} bytes sent"
        for i, t in enumerate(t0 + pd.Timedelta(seconds=k) for k in range(n))
    ]


def test_rotation_to_an_unknown_layout_halfway() -> None:
    iso = [f"2017-12-23T22:1{i // 60}:{i % 60:02d}.000+08:00 INFO started {i}" for i in range(300)]
    lines = iso + healthapp(300, "2017-12-23 22:45:00")
    got = parse(lines, ("2017-12-23T14:00:00Z", "2017-12-23T15:00:00Z"), tz="Asia/Shanghai")
    assert got["time"].notna().all()
    assert got["time"].iloc[0] == ts("2017-12-23T14:10:00Z")
    assert got["time"].iloc[301] == ts("2017-12-23T14:45:00.250Z")
    assert list(got["quality"][[0, 300]]) == ["exact", "assumed_tz"]
    [note] = got.attrs["time_notes"]
    assert "'%Y%m%d-%H:%M:%S:%L'" in note


def test_rotation_between_two_unknown_layouts() -> None:
    lines = healthapp(300, "2017-12-23 22:15:00") + proxifier(300, "2017-12-23 22:59:00")
    got = parse(lines, ("2017-12-23T22:00:00Z", "2017-12-24T00:00:00Z"))
    assert got["time"].notna().all()
    assert got["time"].iloc[5] == ts("2017-12-23T22:15:01.25Z")
    assert got["time"].iloc[301] == ts("2017-12-23T22:59:01Z")
    notes = got.attrs["time_notes"]
    assert [n.split("'")[1] for n in notes] == ["%Y%m%d-%H:%M:%S:%L", "%m.%d %H:%M:%S"]


def test_the_loghub_systems_need_no_inference() -> None:
    # Their layouts are in the table: nothing is learnt (and so nothing changes for them).
    for system in ("HDFS", "Spark", "Android", "BGL"):
        path = shared("data", "loghub", system, f"{system}_2k.log")
        lines = path.read_text(errors="replace").splitlines()
        got = parse(lines, ("2000-01-01T00:00:00Z", "2030-01-01T00:00:00Z"))
        assert got.attrs["time_notes"] == [], system


@pytest.mark.parametrize(
    ("low", "high"),
    [(0, 9), (5, 123), (99, 101), (1712300000, 1712499999), (1234, 9876), (10, 10), (1, 1000)],
)
def test_number_range_matches_exactly_the_range(low: int, high: int) -> None:
    regex = re.compile(f"^(?:{number_range(low, high)})$")
    probe = set(range(max(0, low - 300), low + 300)) | set(range(max(0, high - 300), high + 300))
    probe |= set(range(low, high + 1, max(1, (high - low) // 5000)))
    wrong = [x for x in sorted(probe) if bool(regex.match(str(x))) != (low <= x <= high)]
    assert wrong == []


def test_a_clock_alone_takes_the_window_day_and_rolls_over_midnight_real_file() -> None:
    # lnav's rollover fixture: time-only lines, the clock going back at midnight
    lines = shared("data", "extra", "lnav", "logfile_rollover.0.log").read_text().splitlines()
    got = parse(lines, ("2024-01-15T00:00:00Z", "2024-01-15T06:00:00Z"))
    assert times(got) == [
        "2024-01-15T00:00:00+00:00",
        "2024-01-15T01:00:00+00:00",
        "2024-01-15T02:00:00+00:00",
        "2024-01-15T03:00:00+00:00",
        "2024-01-16T00:00:00+00:00",
        "2024-01-16T00:01:00+00:00",
    ]
    assert "'%H:%M:%S.%f'" in got.attrs["time_notes"][0]


def test_strace_clock_in_a_window_of_one_day_real_file() -> None:
    lines = shared("data", "extra", "lnav", "logfile_strace_log.0.log").read_text().splitlines()
    got = parse(
        lines, ("2024-01-15T08:00:00+01:00", "2024-01-15T09:00:00+01:00"), tz="Europe/Paris"
    )
    assert got["time"].iloc[0] == ts("2024-01-15T07:09:33.814936Z")
    assert got["time"].notna().all()


def test_a_clock_alone_in_a_window_of_days_is_reported_not_placed() -> None:
    lines = shared("data", "extra", "lnav", "logfile_strace_log.0.log").read_text().splitlines()
    got = parse(lines, ("2024-01-15T00:00:00Z", "2024-01-18T00:00:00Z"))
    assert got["time"].isna().all()
    assert got.attrs["time_notes"] == [
        "lines open with a time of day and no date ('08:09:33'); a window of 3 days 00:00:00 "
        "does not say which day, so they keep inferred times; set time_format = '%H:%M:%S.%f' "
        "to read them from the window's first day"
    ]
    user = parse(
        lines,
        ("2024-01-15T00:00:00Z", "2024-01-18T00:00:00Z"),
        families=(compile_format("%H:%M:%S.%f"),),
    )
    assert user["time"].iloc[-1] == ts("2024-01-15T08:09:33.816577Z")


def test_parse_streams_takes_a_family_set_too() -> None:
    from incident_timeline.timeline.timestamps import parse_streams

    layout = (compile_format("%d/%m %H.%M.%S,%f"),)
    streams = {
        "a": pd.Series(["15/01 14.31.02,5 a", "2024-01-15T14:31:03Z no"], dtype="string"),
        "b": pd.Series(["16/01 00.00.01,25 b"], dtype="string"),
    }
    win = (ts("2024-01-15T00:00:00Z"), ts("2024-01-17T00:00:00Z"))
    got = parse_streams(streams, "UTC", win, families=layout)
    assert times(got["a"]) == ["2024-01-15T14:31:02.500000+00:00", None]
    assert times(got["b"]) == ["2024-01-16T00:00:01.250000+00:00"]

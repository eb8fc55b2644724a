from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from incident_timeline.timeline.errors import WindowError
from incident_timeline.timeline.timefmt import human_duration
from incident_timeline.timeline.window import parse_duration, parse_time, resolve_window

NOW = datetime(2026, 2, 17, 16, 0, tzinfo=UTC)


def clock() -> datetime:
    return NOW


@pytest.mark.parametrize(
    ("text", "tz", "expected"),
    [
        ("2026-02-17T14:00:00Z", "UTC", datetime(2026, 2, 17, 14, tzinfo=UTC)),
        ("2026-02-17T14:00:00+01:00", "UTC", datetime(2026, 2, 17, 13, tzinfo=UTC)),
        ("2026-02-17 09:05 America/New_York", "UTC", datetime(2026, 2, 17, 14, 5, tzinfo=UTC)),
        ("2026-02-17 14:00:30", "Europe/Paris", datetime(2026, 2, 17, 13, 0, 30, tzinfo=UTC)),
        ("2026-07-17 14:00", "Europe/Paris", datetime(2026, 7, 17, 12, 0, tzinfo=UTC)),
        ("90m", "UTC", datetime(2026, 2, 17, 14, 30, tzinfo=UTC)),
        ("now", "UTC", NOW),
    ],
)
def test_parse_time_forms(text: str, tz: str, expected: datetime) -> None:
    assert parse_time(text, tz, now=NOW) == expected


def test_last_is_a_window_ending_now() -> None:
    window = resolve_window(since=None, until=None, last="90m", clock=clock)
    assert (window.since, window.until) == (NOW - timedelta(minutes=90), NOW)
    assert window.describe() == "2026-02-17T14:30:00Z .. 2026-02-17T16:00:00Z (1 h 30 min)"


def test_start_after_end_is_refused() -> None:
    with pytest.raises(WindowError) as err:
        resolve_window(
            since="2026-02-17T15:00:00Z", until="2026-02-17T14:00:00Z", last=None, clock=clock
        )
    assert str(err.value) == (
        "the window's start 2026-02-17T15:00:00Z is not before its end 2026-02-17T14:00:00Z"
    )


def test_unknown_zone_is_named() -> None:
    with pytest.raises(WindowError, match="unknown time zone 'Mars/Olympus'"):
        resolve_window(since="2026-02-17 14:00 Mars/Olympus", until=None, last=None, clock=clock)
    with pytest.raises(WindowError, match="unknown time zone 'Nowhere'"):
        resolve_window(since="2026-02-17 14:00", until=None, last=None, tz="Nowhere", clock=clock)


def test_too_long_window_is_refused() -> None:
    with pytest.raises(WindowError, match=r"8 d, longer than the maximum 7 d"):
        resolve_window(since="8d", until=None, last=None, clock=clock)
    window = resolve_window(
        since="8d", until=None, last=None, clock=clock, max_window=timedelta(days=30)
    )
    assert window.duration == timedelta(days=8)


@pytest.mark.parametrize("bad", ["yesterday", "2026-13-01T00:00:00Z", "14:00"])
def test_unreadable_time(bad: str) -> None:
    with pytest.raises(WindowError, match="cannot read time"):
        resolve_window(since=bad, until=None, last=None, clock=clock)


def test_last_and_since_conflict() -> None:
    with pytest.raises(WindowError, match="either --last or --since"):
        resolve_window(since="2h", until=None, last="1h", clock=clock)


def test_human_duration() -> None:
    assert human_duration(timedelta(minutes=3, seconds=14)) == "3 min 14 s"
    assert human_duration(timedelta(seconds=0)) == "0 s"
    assert human_duration(timedelta(days=2, hours=1, minutes=5)) == "2 d 1 h 5 min"


# Issue 8, items 10 and 11: foreseeable input gives a one-line error naming the value.
@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "2026-02-30 14:00 Europe/Paris",
            "cannot read time '2026-02-30 14:00 Europe/Paris' (day is out of range for month)",
        ),
        ("2026-02-17 25:00 UTC", "cannot read time '2026-02-17 25:00 UTC' (hour must be in 0..23)"),
        (
            "2026-03-08 02:30 America/New_York",
            "'2026-03-08 02:30 America/New_York' does not exist in America/New_York: the clocks "
            "skipped it (DST); write it with an offset, e.g. 2026-03-08T03:30:00-04:00 or "
            "2026-03-08T01:30:00-05:00",
        ),
        (
            "2026-11-01 01:30 America/New_York",
            "'2026-11-01 01:30 America/New_York' is ambiguous in America/New_York: it happened "
            "twice (DST ended); write 2026-11-01T01:30:00-04:00 (the first) or "
            "2026-11-01T01:30:00-05:00 (the second)",
        ),
    ],
)
def test_bad_times_are_one_line_errors(text: str, message: str) -> None:
    with pytest.raises(WindowError) as err:
        parse_time(text, "UTC", now=NOW)
    assert str(err.value).startswith(message)


def test_naive_time_in_a_dst_gap_of_tz_is_refused() -> None:
    with pytest.raises(WindowError, match="does not exist in Europe/Paris"):
        parse_time("2026-03-29 02:30", "Europe/Paris", now=NOW)


def test_huge_last_is_a_window_error_not_an_overflow() -> None:
    with pytest.raises(WindowError) as err:
        resolve_window(since=None, until=None, last="99999999d", clock=clock)
    assert str(err.value) == "--last: '99999999d' is longer than 3660 days"


def test_go_durations() -> None:
    assert parse_duration("1h30m") == timedelta(minutes=90)
    assert parse_duration("2h15m30s") == timedelta(hours=2, minutes=15, seconds=30)
    assert parse_duration("1500ms") == timedelta(seconds=1.5)
    window = resolve_window(since=None, until=None, last="1h30m", clock=clock)
    assert window.since == NOW - timedelta(minutes=90)


def test_last_with_until_counts_back_from_until() -> None:
    window = resolve_window(since=None, until="2026-02-17T12:00:00Z", last="45m", clock=clock)
    assert (window.since, window.until) == (
        datetime(2026, 2, 17, 11, 15, tzinfo=UTC),
        datetime(2026, 2, 17, 12, 0, tzinfo=UTC),
    )


def test_unknown_tz_is_an_error_even_when_times_carry_zones() -> None:
    with pytest.raises(WindowError, match="unknown time zone 'Mars/Olympus'"):
        resolve_window(
            since="2026-02-17T14:00:00Z",
            until="2026-02-17T15:00:00Z",
            last=None,
            tz="Mars/Olympus",
            clock=clock,
        )


def test_window_remembers_when_naive_times_were_read_in_tz() -> None:
    naive = resolve_window(since="2026-02-17 14:00", until=None, last=None, clock=clock)
    zoned = resolve_window(since="2026-02-17T14:00Z", until=None, last=None, clock=clock)
    assert (naive.assumed_tz, zoned.assumed_tz) == ("UTC", None)

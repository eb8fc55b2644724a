"""Property tests: random instants written in every family come back exactly (to the digit
written, nanoseconds included), alone and mixed in one stream; garbage never raises and never
loses a line."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from incident_timeline.collector.files.collector import parse
from incident_timeline.collector.formats import Context
from incident_timeline.collector.lines import split_lines
from incident_timeline.timeline.timestamps import detect
from incident_timeline.timeline.timestamps.engine import parse_streams, parse_timestamps
from incident_timeline.timeline.timestamps.families import FAMILIES

NS = 1_000_000_000
EPOCH = datetime(1970, 1, 1)
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
Draw = Callable[..., object]
# (text of the line, the instant it means in ns, the timestamp exactly as written)
Written = tuple[str, int, str]


def wall(ns: int) -> tuple[datetime, int]:
    """The wall clock of ``ns`` (UTC) to the second, and the nanoseconds past it."""
    return EPOCH + timedelta(seconds=ns // NS), ns % NS


def cut(ns: int, digits: int) -> tuple[int, str]:
    """``ns`` with its fraction cut to ``digits`` digits, and those digits."""
    frac = f"{ns % NS:09d}"[:digits]
    return ns - ns % NS + (int(frac.ljust(9, "0")) if digits else 0), frac


def offset_text(minutes: int, style: str) -> str:
    sign = "-" if minutes < 0 else "+"
    hh, mm = divmod(abs(minutes), 60)
    return {
        "colon": f"{sign}{hh:02d}:{mm:02d}",
        "plain": f"{sign}{hh:02d}{mm:02d}",
        "space": f" {sign}{hh:02d}{mm:02d}",
    }[style]


def iso(draw: Draw, ns: int, *, json: bool = False) -> Written:
    digits = draw(st.integers(0, 9))
    ns, frac = cut(ns, digits)
    sep, fsep = draw(st.sampled_from("T ")), draw(st.sampled_from(".,"))
    zone = draw(st.sampled_from(["", "Z", "colon", "plain", "space", " UTC", " PDT"]))
    minutes = {"": 0, "Z": 0, " UTC": 0, " PDT": -420}.get(
        zone, draw(st.integers(-14 * 4, 14 * 4).map(lambda q: q * 15))
    )
    clock, _ = wall(ns + minutes * 60 * NS)
    text = clock.strftime(f"%Y-%m-%d{sep}%H:%M:%S") + (fsep + frac if digits else "")
    text += offset_text(minutes, zone) if zone in ("colon", "plain", "space") else zone
    if json:
        return f'{{"level":"info","ts":"{text}","msg":"at 2001-01-01T00:00:00Z"}}', ns, text
    return f"{text} level=info msg=hello 1999-01-01T00:00:00Z", ns, text


def epoch(draw: Draw, ns: int, *, how: str) -> Written:
    unit = draw(st.sampled_from([0, 3, 6, 9]))  # digits below the second: s, ms, µs, ns
    whole = ns // 10 ** (9 - unit)
    digits = draw(st.integers(0, 9 - unit)) if how != "line" else 0
    frac = f"{ns % 10 ** (9 - unit):0{9 - unit}d}"[:digits] if digits else ""
    text = str(whole) + ("." + frac if digits else "")
    exact = whole * 10 ** (9 - unit) + (int(frac.ljust(9 - unit, "0")) if digits else 0)
    line = {
        "json": f'{{"level":"info","time":{text},"msg":"x"}}',
        "logfmt": f"level=info ts={text} msg=x",
        "line": f"{text} Hello, World!",
    }[how]
    return line, exact, text


def tai64n(draw: Draw, ns: int) -> Written:
    label = f"@{(1 << 62) + 10 + ns // NS:016x}{ns % NS:08x}"
    return f"{label} tcpserver: status: 5/30", ns, label


def instant(draw: Draw, ns: int) -> Written:
    text = f'{ns // NS}, "nanoOfSecond": {ns % NS}'
    return f'{{"instant":{{"epochSecond": {text}}}, "msg":"x"}}', ns, text


def bgl(draw: Draw, ns: int) -> Written:
    ns -= ns % NS
    local = wall(ns - 7 * 3600 * NS)[0]
    return (
        (
            f"- {ns // NS} {local:%Y.%m.%d} R02-M1 {local:%Y-%m-%d-%H.%M.%S}.675872 R02 RAS "
            "KERNEL INFO instruction cache parity error corrected"
        ),
        ns,
        str(ns // NS),
    )


def layout(
    fmt: str,
    frac_digits: tuple[int, ...] = (0,),
    pad: int | None = None,
    where: str = "{} app: hello",
) -> Callable[[Draw, int], Written]:
    """A family written with strftime ``fmt`` (``%F`` marks the fraction digits); ``pad`` is
    the position of a leading zero that may be written as a space (syslog days, MySQL hours)."""

    def write(draw: Draw, ns: int) -> Written:
        digits = draw(st.sampled_from(frac_digits))
        ns, frac = cut(ns, digits)
        clock, _ = wall(ns)
        text = clock.strftime(fmt.replace("%F", frac) if digits else re.sub("[.,]%F", "", fmt))
        if pad is not None and text[pad] == "0" and draw(st.booleans()):
            text = text[:pad] + " " + text[pad + 1 :]
        return where.format(text), ns, text

    return write


WRITERS: dict[str, tuple[Callable[[Draw, int], Written], int, int]] = {
    # family: (writer, first year, last year)
    "json_instant": (instant, 1971, 2200),
    "json_epoch": (lambda d, ns: epoch(d, ns, how="json"), 2002, 2200),
    "json_iso": (lambda d, ns: iso(d, ns, json=True), 1901, 2200),
    "logfmt_epoch": (lambda d, ns: epoch(d, ns, how="logfmt"), 2002, 2200),
    "bgl": (bgl, 2002, 2200),
    "tai64n": (tai64n, 1971, 2200),
    "epoch_line": (lambda d, ns: epoch(d, ns, how="line"), 2002, 2200),
    "iso": (iso, 1901, 2200),
    "iso_dashed": (layout("%Y-%m-%d-%H.%M.%S.%F", (1, 6, 9), where="R02 {} RAS"), 1901, 2200),
    "iso_ordinal": (layout("%Y-%jT%H:%M:%S,%F", (3, 9), where="{}:DEBUG:x"), 1901, 2200),
    "iso_basic": (layout("%Y%m%dT%H%M%S.%F", (3, 9), where="{}:DEBUG:x"), 1901, 2200),
    "ctime": (layout("%a %b %d %H:%M:%S %Y", where="[{}] [notice] ok"), 1901, 2200),
    "clf": (layout("%d/%b/%Y:%H:%M:%S +0000", where='1.2.3.4 - - [{}] "GET /"'), 1901, 2200),
    "dmy_name": (layout("%d %b %Y %H:%M:%S.%F", (3,), where="26571:M {} * Sync"), 1901, 2200),
    "syslog": (layout("%b %d %H:%M:%S", pad=4, where="{} host sshd[1]: x"), 1901, 2200),
    "klog": (layout("%m%d %H:%M:%S.%F", (6,), where="I{}    2296 prober.go:107] x"), 1901, 2200),
    "slash_ymd": (layout("%Y/%m/%d %H:%M:%S.%F", (0, 6), where="{} [8203] rsyncd"), 1901, 2200),
    "slash_yymmdd": (layout("%y/%m/%d %H:%M:%S", where="{} INFO spark: x"), 1969, 2068),
    "yymmdd_clock": (layout("%y%m%d  %H:%M:%S", pad=8, where="{} [Note] x"), 1969, 2068),
    "hdfs": (layout("%y%m%d %H%M%S", where="{} 148 INFO dfs.DataNode: x"), 1969, 2068),
    "month_day": (layout("%m-%d %H:%M:%S.%F", (3,), where="{}  1702  2395 D Wm: x"), 1901, 2200),
}


def instants(first: int, last: int) -> st.SearchStrategy[int]:
    low = int((datetime(first, 1, 1) - EPOCH).total_seconds()) * NS
    high = int((datetime(last, 12, 31) - EPOCH).total_seconds()) * NS
    return st.integers(low, high)


def test_every_family_has_a_writer() -> None:
    assert set(WRITERS) == {f.name for f in FAMILIES}


def check(rows: list[Written]) -> None:
    lines = pd.Series([r[0] for r in rows], dtype="string")
    times = [r[1] for r in rows]
    window = (
        pd.Timestamp(min(times) - 86400 * NS, tz="UTC"),
        pd.Timestamp(max(times) + 86400 * NS, tz="UTC"),
    )
    for few in (detect.FEW, 0):  # short streams go through Python's re, long ones RE2
        with small_streams(few):
            got = parse_timestamps(lines, "UTC", window)
        assert [t.value for t in got["time"]] == times, list(lines)
        assert list(got["time_raw"]) == [r[2] for r in rows]


@contextmanager
def small_streams(few: int) -> Iterator[None]:
    saved, detect.FEW = detect.FEW, few
    try:
        yield
    finally:
        detect.FEW = saved


@pytest.mark.parametrize("name", sorted(WRITERS))
@SETTINGS
@given(data=st.data())
def test_family_round_trips_exactly(name: str, data: st.DataObject) -> None:
    writer, first, last = WRITERS[name]
    # Year-less stamps need the window; keep each stream within a day so it decides the year.
    span = 86400 * NS // 2 if name in ("syslog", "klog", "month_day", "dmy_name") else None
    start = data.draw(instants(first, last))
    stamps = data.draw(
        st.lists(
            st.integers(start, start + span) if span else instants(first, last),
            min_size=1,
            max_size=12,
        )
    )
    check([writer(data.draw, ns) for ns in stamps])


@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_mixed_families_in_one_stream(data: st.DataObject) -> None:
    names = data.draw(st.lists(st.sampled_from(sorted(WRITERS)), min_size=1, max_size=15))
    start = data.draw(instants(2002, 2060))
    rows = []
    for name in names:
        ns = data.draw(st.integers(start, start + 3600 * NS))
        two_digit_year = name in ("slash_yymmdd", "yymmdd_clock", "hdfs")
        if two_digit_year and not 1969 <= wall(ns)[0].year <= 2068:
            continue
        rows.append(WRITERS[name][0](data.draw, ns))
    if rows:
        check(rows)


@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_streams_read_together_read_as_alone(data: st.DataObject) -> None:
    names = data.draw(st.lists(st.sampled_from(sorted(WRITERS)), min_size=1, max_size=40))
    start = data.draw(instants(2002, 2060))
    lines = [
        WRITERS[name][0](data.draw, data.draw(st.integers(start, start + 3600 * NS)))[0]
        for name in names
    ] + ["no time", "", "x 11/03/2024 1:40:00 AM", '2024-01-01T00:00:00Z {"ts":1730597400.5}']
    lines = data.draw(st.permutations(lines))
    cuts = sorted(data.draw(st.lists(st.integers(0, len(lines)), max_size=5)))
    bounds = [0, *cuts, len(lines)]
    streams = {
        f"s{i}": pd.Series(lines[a:b], dtype="string", index=range(a, b))
        for i, (a, b) in enumerate(itertools.pairwise(bounds))
    }
    window = (
        pd.Timestamp(start - 86400 * NS, tz="UTC"),
        pd.Timestamp(start + 2 * 86400 * NS, tz="UTC"),
    )
    tz = data.draw(st.sampled_from(["UTC", "America/New_York", "Australia/Lord_Howe"]))
    threads = data.draw(st.sampled_from([1, 2]))
    with small_streams(data.draw(st.sampled_from([detect.FEW, 0]))):  # 0: every stream sampled
        together = parse_streams(streams, tz, window, threads=threads)
        for name, stream in streams.items():
            pd.testing.assert_frame_equal(together[name], parse_timestamps(stream, tz, window))


CTX = Context(ref="raw/file/g.log", stream="g", fallback_time=pd.Timestamp("2026-02-17", tz="UTC"))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=80), max_size=30))
def test_garbage_lines_never_raise_and_never_vanish(lines: list[str]) -> None:
    data = "\n".join(lines).encode("utf-8", "surrogatepass")
    expected = len(split_lines(data.decode("utf-8", errors="replace")))
    events = parse("log", data, CTX).events
    assert len(events) == expected
    assert events["time"].notna().all()
    parsed = parse_timestamps(pd.Series(lines, dtype="string"), "Europe/Berlin")
    assert len(parsed) == len(lines)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=600))
def test_garbage_bytes_never_raise_and_never_vanish(data: bytes) -> None:
    text = data.decode("utf-8", errors="replace")
    nonblank = len(split_lines(text))
    nonempty = sum(1 for line in text.split("\n") if line.removesuffix("\r"))
    for fmt in ("log", "kubectl-logs", "cri"):
        events = parse(fmt, data, CTX).events
        # A runtime log keeps whitespace-only lines too (it has no blank lines of its own).
        assert len(events) == (nonempty if fmt == "cri" else nonblank), fmt
        assert events["time"].notna().all()

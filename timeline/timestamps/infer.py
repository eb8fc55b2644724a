"""Layouts no table lists, learnt from a sample of a stream and the incident window.

When sampled lines carry something time-like (QUICK) that no family reads, the digit groups
around their first clock are read as candidate layouts: a clock ``H:M:S`` (or ``H.M.S``) with
an optional fraction (after ``.`` or ``,``; after ``:``, as HealthApp's ``22:15:29:606``,
milliseconds counted like the clock's fields) and zone, after a date written as three groups
(``2016/9/27``, ``17/06/09``), two (a month and day without a year, e.g. Proxifier's ``[10.30
16:49:06]``), one compact run (``20171223-``, ``081109``) or none (a clock opening the line, as
``strace -tt`` writes it: placed in a window of at most a day). Every order of day, month and
year the widths allow is a candidate, as a strftime layout (``layout.compile_format``), and
each is read over the sample with the engine itself. A candidate is kept when it reads at least
half the lines, nearly all its readings fall inside the window widened by PAD_MIN or the
window's own length on each side, and they are monotone (a log is written in time order; few
steps go back more than a minute). Orders that the values settle (a 13 or more is no month) or
the window settles (only one reading falls inside it) are chosen; when several fit and read the
sample differently, none is used and a note says so (set ``time_format``): a day/month order is
never guessed silently. When they read every sampled line the same, the first is used, with a
note.

Unix time anywhere in a line is a candidate too, in seconds, ms, µs or ns: a number whose
digits put it inside the widened window, matched by a regex of exactly that range of numbers
(HPC-style lines, ``5521 node-17 hw state_change 1712345678 1 ...``, carry it mid-line
after other numbers). Up to MAX_LAYOUTS layouts are learnt, each from the lines the earlier
ones did not read (a stream rotated to a new format halfway).
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter

import numpy as np
import pandas as pd

from incident_timeline.timeline.timestamps.families import Families, Family
from incident_timeline.timeline.timestamps.layout import LayoutError, compile_format

# Exports an on-call engineer makes reach past the incident window (a day's file, the hour
# before the page), and a skewed clock can push lines out of it: readings count as inside when
# within a day, or the window's own length, of it.
PAD_MIN = pd.Timedelta(days=1)
MAX_LAYOUTS = 3  # a file rotated twice; more is more likely noise than a log's own layout
MIN_LINES = 2  # a layout must read at least this many sampled lines (and half of them)
INSIDE = 0.9  # share of a layout's readings that must fall inside the widened window
# A time of day without a date is placed only when the window is at most a day long (plus
# rollovers past midnight); in a longer window which day it is stays open.
DATELESS_MAX = pd.Timedelta(days=1)
BACKWARD = pd.Timedelta(minutes=1)  # a step back longer than this breaks monotony
MAX_BACKWARD = 0.1  # share of steps that may go back

# A clock: H:M:S (Java's unpadded ``H:m:s`` too, as HealthApp writes ``0:0:4``) or H.MM.SS.
_CLOCK = re.compile(
    r"(?<![0-9.])[0-9]{1,2}(?P<c>:)[0-9]{1,2}:[0-9]{1,2}(?![0-9])"
    r"|(?<![0-9.])[0-9]{1,2}(?P<d>\.)[0-9]{2}\.[0-9]{2}(?![0-9])"
)
_DATE3 = re.compile(r"(?<![0-9])([0-9]{1,4})([-/.])([0-9]{1,2})\2([0-9]{1,4})( +|[T_:-])$")
_DATE2 = re.compile(r"(?<![0-9.])([0-9]{1,2})([-/.])([0-9]{1,2})( +|[T_:-])$")
_COMPACT = re.compile(r"(?<![0-9])([0-9]{8}|[0-9]{6})( +|[T_:.-]?)$")
_FRACTION = re.compile(r"^([.,])([0-9]{1,9})(?![0-9])|^(:)([0-9]{1,3})(?![0-9])")
_ZONE = re.compile(r"^( ?)(Z|[+-][0-9]{2}:?[0-9]{2})(?![0-9])")
_EPOCH_UNITS = (
    (0, "s", "epoch_s"),
    (3, "ms", "epoch_ms"),
    (6, "µs", "epoch_us"),
    (9, "ns", "epoch_ns"),
)


@dataclasses.dataclass(frozen=True)
class Learnt:
    """What a sample taught: the families to add (in the order learnt) and notes for the
    user (each layout learnt, as a ``time_format`` they can pin, and what stayed unsettled)."""

    families: Families = ()
    notes: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class _Candidate:
    family: Family
    shown: str  # how a note names it: the time_format to pin
    shape: str  # candidates of one shape differ only in the order of their date fields


def learn(lines: list[str], window: tuple[pd.Timestamp, pd.Timestamp], tz: str) -> Learnt:
    """Layouts for ``lines`` (sampled lines no family read), checked against ``window``."""
    since, until = window
    pad = max(PAD_MIN, until - since)
    bounds = (since - pad, until + pad)
    families: list[Family] = []
    notes: list[str] = []
    left = lines
    for _ in range(MAX_LAYOUTS):
        if len(left) < MIN_LINES:
            break
        chosen, read, said = _choose(left, window, bounds, tz)
        notes.extend(said)
        if chosen is None:
            break
        families.append(chosen.family)
        notes.append(
            f"timestamps read as time_format = {chosen.shown!r}, a layout inferred from the "
            "sampled lines that no known layout matched and the incident window"
        )
        left = [line for line, hit in zip(left, read, strict=True) if not hit]
    return Learnt(tuple(families), tuple(notes))


def _choose(
    lines: list[str],
    window: tuple[pd.Timestamp, pd.Timestamp],
    bounds: tuple[pd.Timestamp, pd.Timestamp],
    tz: str,
) -> tuple[_Candidate | None, np.ndarray, list[str]]:
    """The best candidate for ``lines``, the lines it reads, and notes on ambiguity."""
    fits: dict[str, list[tuple[_Candidate, np.ndarray, np.ndarray]]] = {}
    notes: list[str] = []
    for candidate in [*_civil(lines), *_epochs(lines, bounds)]:
        if candidate.shape.startswith("0|") and window[1] - window[0] > DATELESS_MAX:
            notes.append(
                f"lines open with a time of day and no date ({_example(lines, lines)!r}); "
                f"a window of {window[1] - window[0]} does not say which day, so they keep "
                f"inferred times; set time_format = {candidate.shown!r} to read them from "
                "the window's first day"
            )
            continue
        times = _read(candidate.family, lines, window, tz)
        if _fits(times, bounds, len(lines)):
            fits.setdefault(candidate.shape, []).append((candidate, times, ~np.isnat(times)))
    best: tuple[_Candidate, np.ndarray] | None = None
    for shape, found in fits.items():
        first, times, read = found[0]
        differ = [c.shown for c, t, _ in found[1:] if not np.array_equal(t, times)]
        if differ:
            shown = ", ".join(repr(s) for s in [first.shown, *differ])
            notes.append(
                f"timestamps such as {_example(lines, read)!r} fit more than one layout "
                f"({shown}): the sample and the window do not settle the order of day and "
                "month, so these lines keep inferred times; set time_format"
            )
            continue
        if len(found) > 1:
            notes.append(
                f"the order of day and month in timestamps such as {_example(lines, read)!r} "
                f"is not settled by the sample (every date reads the same as "
                f"{found[1][0].shown!r}); read as {first.shown!r}"
            )
        if best is None or read.sum() > best[1].sum():
            best = (first, read)
        del shape
    if best is None:
        return None, np.zeros(len(lines), dtype=bool), notes
    return best[0], best[1], notes


_NAT = np.datetime64("NaT", "ns")


def _read(
    family: Family, lines: list[str], window: tuple[pd.Timestamp, pd.Timestamp], tz: str
) -> np.ndarray:
    """The UTC instants ``family`` reads from ``lines`` (NaT where none), by the engine."""
    from incident_timeline.timeline.timestamps.engine import parse_timestamps

    got = parse_timestamps(
        pd.Series(lines, dtype="string"), tz, window, families=(family,), learn=False
    )
    return np.asarray(got["time"].dt.tz_convert(None).to_numpy(dtype="datetime64[ns]"))


def _fits(times: np.ndarray, bounds: tuple[pd.Timestamp, pd.Timestamp], n: int) -> bool:
    """Whether readings ``times`` (of ``n`` lines) read enough lines, inside the bounds, in
    order."""
    read = times[~np.isnat(times)]
    if len(read) < max(MIN_LINES, (n + 1) // 2):
        return False
    low, high = (np.datetime64(b.tz_convert(None).to_datetime64(), "ns") for b in bounds)
    inside = (read >= low) & (read <= high)
    if inside.mean() < INSIDE:
        return False
    steps = np.diff(read)
    back = steps < -np.timedelta64(int(BACKWARD.value), "ns")
    return not len(steps) or back.mean() <= MAX_BACKWARD


def _example(lines: list[str], read: np.ndarray | list[str]) -> str:
    line = next((ln for ln, hit in zip(lines, read, strict=True) if hit), lines[0])
    clock = _CLOCK.search(line)
    return line[max(0, clock.start() - 12) : clock.end()] if clock else line[:40]


def _civil(lines: list[str]) -> list[_Candidate]:
    """Candidate layouts from the digit groups around each line's first clock, for the
    shapes that at least MIN_LINES lines share."""
    shapes: Counter[tuple[str, ...]] = Counter()
    for line in lines:
        shape = _shape(line)
        if shape is not None:
            shapes[shape] += 1
    out: list[_Candidate] = []
    for shape, count in shapes.most_common(2):
        if count < MIN_LINES:
            break
        date_kind, widths, date_sep, joint, clock_sep, frac_sep, zone = shape
        clock = f"%H{clock_sep}%M{clock_sep}%S"
        if frac_sep == ":":  # counted like the clock (HealthApp's "22:15:29:606")
            clock += ":%L"
        elif frac_sep:
            clock += f"{_literal(frac_sep)}%f"
        if zone:
            clock += (" " if zone.startswith(" ") else "") + "%z"
        key = "|".join(shape)
        for date in _orders(date_kind, widths.split(","), date_sep):
            text = f"{date}{_literal(joint)}{clock}"
            try:
                family = compile_format(text)
            except LayoutError:
                continue
            if date_kind == "0":
                family = dataclasses.replace(family, before=r"^\[?")
            out.append(_Candidate(family, text, key))
    return out


def _shape(line: str) -> tuple[str, ...] | None:
    """What surrounds the first clock of ``line``: (date kind, its groups' widths, date
    separator, date-clock separator, clock separator, fraction separator, zone)."""
    clock = _CLOCK.search(line)
    if clock is None:
        return None
    head, tail = line[: clock.start()], line[clock.end() :]
    fraction = _FRACTION.match(tail)
    frac_sep = (fraction.group(1) or fraction.group(3)) if fraction else ""
    zone = _ZONE.match(tail[fraction.end() :] if fraction else tail)
    zone_text = (zone.group(1) + ("Z" if zone.group(2) == "Z" else "+")) if zone else ""
    clock_part = (clock.group("c") or clock.group("d"), frac_sep, zone_text)
    if (three := _DATE3.search(head)) is not None:
        widths = f"{len(three.group(1))},{len(three.group(3))},{len(three.group(4))}"
        return ("3", widths, three.group(2), _joint(three.group(5)), *clock_part)
    if (two := _DATE2.search(head)) is not None:
        widths = f"{len(two.group(1))},{len(two.group(3))}"
        return ("2", widths, two.group(2), _joint(two.group(4)), *clock_part)
    if (compact := _COMPACT.search(head)) is not None:
        return ("1", str(len(compact.group(1))), "", _joint(compact.group(2)), *clock_part)
    if head in ("", "["):  # a clock alone opening the line (strace -tt, lnav's rollover)
        return ("0", "", "", "", *clock_part)
    return None


def _joint(text: str) -> str:
    return " " if text.startswith(" ") else text


def _literal(text: str) -> str:
    return text.replace("%", "%%")


def _orders(kind: str, widths: list[str], sep: str) -> list[str]:
    """Every order of year, month and day that the groups' widths allow, as strftime."""
    if kind == "0":
        return [""]
    if kind == "1":  # compact: 8 digits carry a 4-digit year, 6 a 2-digit one
        year = "%Y" if widths[0] == "8" else "%y"
        return [f"{year}%m%d", f"%d%m{year}", f"%m%d{year}"]
    if kind == "2":  # a month and a day, no year: either order
        return [f"%m{sep}%d", f"%d{sep}%m"]
    first, _, last = (int(w) for w in widths)
    if first == 4:
        return [f"%Y{sep}%m{sep}%d", f"%Y{sep}%d{sep}%m"]
    if last == 4:
        return [f"%d{sep}%m{sep}%Y", f"%m{sep}%d{sep}%Y"]
    return [f"%y{sep}%m{sep}%d", f"%d{sep}%m{sep}%y", f"%m{sep}%d{sep}%y"]


def _epochs(lines: list[str], bounds: tuple[pd.Timestamp, pd.Timestamp]) -> list[_Candidate]:
    """Unix-time candidates: for each unit, the numbers that fall inside ``bounds``."""
    out = []
    for unit, label, name in _EPOCH_UNITS:
        scale = 10 ** (9 - unit)
        low, high = bounds[0].value // scale, -(-bounds[1].value // scale)
        if low <= 0:
            continue
        digits = number_range(low, high)
        body = rf"(?P<E>{digits})(?:\.(?P<F>[0-9]{{1,9}}))?"
        family = Family(
            f"inferred {name}", body, "epoch", "", r"(?:^|[^0-9.])", r"(?:[^0-9]|$)", unit, False
        )
        pattern = re.compile(f"{family.before}(?:{digits}){family.after}")
        if sum(pattern.search(line) is not None for line in lines) >= MIN_LINES:
            shown = f"{name} (a number from {low} to {high} anywhere in the line, in {label})"
            out.append(_Candidate(family, shown, f"epoch {label}"))
    return out


def number_range(low: int, high: int) -> str:
    """A regex matching exactly the decimal numbers ``low``..``high`` (no leading zeros),
    e.g. ``number_range(1712300000, 1712499999)`` is ``1712[34][0-9]{5}``."""
    if low > high:
        raise ValueError(f"empty range {low}..{high}")
    parts = []
    while len(str(low)) < len(str(high)):
        top = 10 ** len(str(low)) - 1
        parts.append(_same_length(str(low), str(top)))
        low = top + 1
    parts.append(_same_length(str(low), str(high)))
    return parts[0] if len(parts) == 1 else "(?:" + "|".join(parts) + ")"


def _same_length(low: str, high: str) -> str:
    """The regex for ``low``..``high``, two numbers of as many digits."""
    if low == high:
        return low
    common = 0
    while low[common] == high[common]:
        common += 1
    prefix, a, b = low[:common], int(low[common]), int(high[common])
    rest_low, rest_high = low[common + 1 :], high[common + 1 :]
    width = len(rest_low)
    tail = f"[0-9]{{{width}}}" if width else ""
    if rest_low == "0" * width and rest_high == "9" * width:
        return f"{prefix}{_digits(a, b)}{tail}"
    options = []
    if rest_low == "0" * width:
        options.append(f"{_digits(a, a)}{tail}")
    else:
        options.append(f"{a}{_same_length(rest_low, '9' * width)}")
    if b - a > 1:
        options.append(f"{_digits(a + 1, b - 1)}{tail}")
    if rest_high == "9" * width:
        options.append(f"{_digits(b, b)}{tail}")
    else:
        options.append(f"{b}{_same_length('0' * width, rest_high)}")
    return f"{prefix}(?:{'|'.join(options)})"


def _digits(a: int, b: int) -> str:
    return str(a) if a == b else f"[{a}-{b}]"

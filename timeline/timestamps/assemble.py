"""From the text a family matched to the parts of a time, whole column at a time.

Every converter returns the same arrays (``PARTS``): ``year`` (-1 where the text has none),
``month``, ``day``, ``tod`` (nanoseconds into the day), ``minutes`` (the written zone, minutes
east of UTC), ``zoned`` (whether a zone or an epoch fixed the instant) and ``ok``. An epoch is
the day 1970-01-01 with the whole count in ``tod``, so one assembly serves every family.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from dateutil import parser as dateutil_parser

from incident_timeline.timeline.timestamps.extract import (
    ISO_WIDTH,
    NS,
    clock_ns,
    column_number,
    fraction_ns,
    iso_fields,
    month_from_name,
    number,
    string_parts,
    window,
    zone_minutes,
)
from incident_timeline.timeline.timestamps.families import Family
from incident_timeline.timeline.timestamps.zone import DATELESS

PARTS = ("year", "month", "day", "tod", "minutes", "zoned", "ok")
Parts = dict[str, np.ndarray]
_CUM = np.array([0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 365])
_CUM_LEAP = _CUM + np.r_[0, 0, np.ones(11, dtype=int)]
_HEX = np.full(256, -1, dtype=np.int64)
_HEX[np.frombuffer(b"0123456789abcdef", np.uint8)] = np.arange(16)
_TAI_EPOCH = (1 << 62) + 10  # TAI64 label of 1970-01-01T00:00:00Z, as daemontools reads it


def empty_parts(n: int) -> Parts:
    """Parts for ``n`` rows with nothing parsed."""
    parts = {k: np.zeros(n, dtype=np.int64) for k in PARTS}
    parts["year"][:] = -1
    parts["zoned"] = np.zeros(n, dtype=bool)
    parts["ok"] = np.zeros(n, dtype=bool)
    return parts


def convert(family: Family, raw: pa.Array) -> Parts:
    """The parts of every timestamp in ``raw`` (text that ``family`` matched)."""
    if family.kind == "iso":
        data, starts, lengths = string_parts(raw)
        return iso_fields(window(data, starts, ISO_WIDTH), lengths)
    groups = pc.extract_regex(raw, family.component_regex())
    fields = {groups.type.field(i).name: groups.field(i) for i in range(groups.type.num_fields)}
    if family.kind == "civil":
        return _civil(fields, len(raw))
    if family.kind == "tai64n":
        return _tai64n(fields["X"])
    return _epoch(fields, family.unit)


def _civil(g: dict[str, pa.Array], n: int) -> Parts:
    parts = empty_parts(n)
    ok = np.ones(n, dtype=bool)
    if "Y" in g:
        year, good = column_number(g["Y"], 4)
        parts["year"] = np.where(good, year, -1)  # an optional year left out: -1, still ok
        ok &= good | (string_parts(g["Y"])[2] == 0)
    elif "y" in g:
        short, good = column_number(g["y"], 2)
        parts["year"] = np.where(short < 69, 2000 + short, 1900 + short)  # POSIX %y
        ok &= good
    if "b" in g:
        parts["month"] = month_from_name(g["b"])
    elif "m" in g:
        parts["month"], good = column_number(g["m"], 2)
        ok &= good
    if "j" in g:
        ordinal, good = column_number(g["j"], 3)
        parts["month"], parts["day"], good_day = _from_ordinal(parts["year"], ordinal)
        ok &= good & good_day
    elif "d" not in g:  # a clock alone (strace -tt): the date comes from the window
        parts["year"][:], parts["month"][:], parts["day"][:] = DATELESS, 1, 1
    else:
        parts["day"], good = column_number(g["d"], 2)
        ok &= good
    hour, ok_h = column_number(g["H"], 2) if "H" in g else _twelve(g["I"], g["p"])
    minute, ok_m = column_number(g["M"], 2)
    # A user's layout may stop at the minute (``%H:%M``): second 0.
    second, ok_s = column_number(g["S"], 2) if "S" in g else (np.zeros(n, np.int64), ok)
    parts["tod"], ok_clock = clock_ns(hour, minute, second)
    if "f" in g:
        parts["tod"] = parts["tod"] + fraction_ns(g["f"])
    if "L" in g:  # milliseconds counted, not a decimal fraction: "22:15:29:6" is 6 ms
        millis, good = column_number(g["L"], 3)
        parts["tod"] = parts["tod"] + millis * 1_000_000
        ok &= good
    if "z" in g:
        data, starts, lengths = string_parts(g["z"])
        zone_win = window(data, starts, 7)
        parts["minutes"], parts["zoned"], ok_zone = zone_minutes(zone_win, np.minimum(lengths, 7))
        ok &= ok_zone & (lengths <= 7)
    parts["ok"] = ok & ok_h & ok_m & ok_s & ok_clock & (parts["month"] >= 1)
    return parts


def _twelve(hours: pa.Array, meridiem: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """A 12-hour clock's hour (1-12) and AM/PM as the hour of the day: 12 AM is 0, 12 PM 12."""
    hour, ok = column_number(hours, 2)
    data, starts, _ = string_parts(meridiem)
    pm = np.isin(window(data, starts, 1)[:, 0], (ord("P"), ord("p")))
    return hour % 12 + 12 * pm, ok & (hour >= 1) & (hour <= 12)


def _from_ordinal(year: np.ndarray, ordinal: np.ndarray) -> tuple[np.ndarray, ...]:
    leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    month = np.where(leap, np.searchsorted(_CUM_LEAP, ordinal), np.searchsorted(_CUM, ordinal))
    month = np.clip(month, 1, 12)
    start = np.where(leap, _CUM_LEAP[month - 1], _CUM[month - 1])
    good = (ordinal >= 1) & (ordinal <= np.where(leap, 366, 365))
    return month, ordinal - start, good


def _epoch(g: dict[str, pa.Array], unit: int | None = None) -> Parts:
    data, starts, lengths = string_parts(g["E"])
    win = window(data, starts, 19)
    count, ok = number(win, lengths)
    # 10 digits are seconds, 13 ms, 16 µs, 19 ns; json_instant's epochSecond is always seconds;
    # a layout that names its unit (a user's epoch_ms, an inferred one) is read in that unit.
    if unit is not None:
        unit_digits = np.full(len(count), 9 - unit)
    else:
        unit_digits = np.where(("N" in g) | (lengths <= 10), 9, np.clip(9 - (lengths - 10), 0, 9))
    ok &= (lengths < 19) | (win[:, 0] <= ord("8"))
    if "N" in g:
        sub, good = column_number(g["N"], 9)
        ok &= good
    elif "F" in g:
        fdata, fstarts, flen = string_parts(g["F"])
        keep = np.minimum(flen, unit_digits)
        sub, _ = number(window(fdata, fstarts, 9), keep)
        sub = np.where(keep > 0, sub * 10 ** (unit_digits - keep), 0)
    else:
        sub = np.zeros(len(count), dtype=np.int64)
    parts = empty_parts(len(count))
    parts.update(
        year=np.full(len(count), 1970),
        month=np.ones_like(count),
        day=np.ones_like(count),
        zoned=np.ones(len(count), dtype=bool),
        ok=ok,
    )
    parts["tod"] = count * 10**unit_digits + sub
    return parts


def _tai64n(hexes: pa.Array) -> Parts:
    data, starts, lengths = string_parts(hexes)
    digits = _HEX[window(data, starts, 24)]
    ok = (lengths == 24) & (digits >= 0).all(axis=1)
    weights = 16 ** np.arange(7, -1, -1, dtype=np.int64)
    high = (digits[:, :8] * weights).sum(axis=1)
    low = (digits[:, 8:16] * weights).sum(axis=1)
    nanos = (digits[:, 16:] * weights).sum(axis=1)
    seconds = ((high << 32) | low) - _TAI_EPOCH
    parts = empty_parts(len(hexes))
    parts.update(
        year=np.full(len(hexes), 1970),
        month=np.ones(len(hexes), dtype=np.int64),
        day=np.ones(len(hexes), dtype=np.int64),
        zoned=np.ones(len(hexes), dtype=bool),
        ok=ok & (nanos < NS),
        tod=seconds * NS + nanos,
    )
    return parts


def loose(raw: pa.Array) -> Parts:
    """The slow path: dateutil, one string at a time, for shapes no family knows
    (month-first ``01/15/2024 2:31:02 PM``, ``January 15, 2024 14:31``). Exact to the
    microsecond, the most the loose shape lets through."""
    parts = empty_parts(len(raw))
    for i, text in enumerate(raw.to_pylist()):
        try:
            value = dateutil_parser.parse(text or "")
            offset = value.utcoffset()
        except (ValueError, OverflowError, TypeError):
            continue
        parts["year"][i], parts["month"][i], parts["day"][i] = value.year, value.month, value.day
        seconds = (value.hour * 60 + value.minute) * 60 + value.second
        parts["tod"][i] = seconds * NS + value.microsecond * 1000
        if offset is not None:
            parts["minutes"][i] = round(offset.total_seconds() / 60)
            parts["zoned"][i] = True
        parts["ok"][i] = True
    return parts

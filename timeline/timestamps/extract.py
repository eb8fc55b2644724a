"""Byte-level, whole-column reading of timestamp parts with numpy.

Strings are read straight from Arrow buffers: every row becomes a fixed-width window of bytes
(a strided view, copied once), and each part (year, fraction digits, zone) is computed for all
rows at once. Nothing here goes through Python objects per row, and integer arithmetic keeps
every digit: a 9-digit fraction is nanoseconds exactly.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from numpy.lib.stride_tricks import as_strided

from incident_timeline.timeline.timestamps.families import ABBREVIATIONS, MONTHS

NS = 1_000_000_000
MINUTE = 60 * NS
DAY = 86_400 * NS
_ZERO, _NINE = 48, 57
_POW10 = 10 ** np.arange(19, dtype=np.int64)


def string_parts(arr: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The data buffer, start offsets and byte lengths of a string array (nulls: length 0)."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if not (pa.types.is_large_string(arr.type) or pa.types.is_string(arr.type)):
        arr = arr.cast(pa.large_string())
    _, off_buf, data_buf = arr.buffers()
    width = np.int64 if pa.types.is_large_string(arr.type) else np.int32
    offsets = np.frombuffer(off_buf, dtype=width)[arr.offset : arr.offset + len(arr) + 1]
    offsets = offsets.astype(np.int64)
    data = np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.zeros(0, "u1")
    starts = offsets[:-1]
    lengths = np.diff(offsets)
    if arr.null_count:
        lengths = np.where(arr.is_null().to_numpy(zero_copy_only=False), 0, lengths)
    return data, starts, lengths


def window(data: np.ndarray, starts: np.ndarray, width: int) -> np.ndarray:
    """Bytes ``data[start : start + width]`` of every row as an (n, width) uint8 matrix,
    zero-padded past the end of the buffer. The caller masks bytes past each row's length."""
    n = len(data)
    if n >= width:
        view = as_strided(data, shape=(n - width + 1, width), strides=(1, 1), writeable=False)
        inside = starts <= n - width
        if inside.all():
            return np.asarray(view[starts])
    else:
        inside = np.zeros(len(starts), dtype=bool)
    out = np.zeros((len(starts), width), dtype=np.uint8)
    if inside.any():
        out[inside] = view[starts[inside]]
    base = max(0, n - width)
    tail = np.concatenate([data[base:], np.zeros(width, dtype=np.uint8)])
    tail_view = as_strided(tail, shape=(len(tail) - width + 1, width), strides=(1, 1))
    out[~inside] = tail_view[starts[~inside] - base]
    return out


def masked(win: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """``win`` with the bytes past each row's length set to zero."""
    return np.where(np.arange(win.shape[1]) < lengths[:, None], win, 0).astype(np.uint8)


def number(win: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The unsigned decimal in the first ``lengths`` bytes of each row, and whether it is one
    (non-empty, digits only). Up to 18 digits are exact in int64. One column at a time (Horner),
    so no (rows x width) temporaries."""
    width = win.shape[1]
    value = np.zeros(len(win), dtype=np.int64)
    ok = (lengths > 0) & (lengths <= width)
    for col in range(width):
        inside = col < lengths
        digit = win[:, col].astype(np.int64) - _ZERO
        ok &= ~inside | ((digit >= 0) & (digit <= 9))
        value = np.where(inside, value * 10 + digit, value)
    return np.where(ok, value, 0), ok


def column_number(arr: pa.Array, width: int) -> tuple[np.ndarray, np.ndarray]:
    """``number`` of each string of ``arr`` (at most ``width`` digits)."""
    data, starts, lengths = string_parts(arr)
    return number(window(data, starts, width), lengths)


def fraction_ns(arr: pa.Array) -> np.ndarray:
    """Fraction digits (``"5"``, ``"123456789"``, ``""``) as nanoseconds; more than 9 digits
    are cut, never rounded."""
    data, starts, lengths = string_parts(arr)
    digits = np.minimum(lengths, 9)
    value, ok = number(window(data, starts, 9), digits)
    return np.where(ok, value * _POW10[9 - digits], 0)


def month_from_name(arr: pa.Array) -> np.ndarray:
    """``Jan``..``Dec`` (first three letters, case as in MONTHS) to 1..12; 0 where unknown."""
    data, starts, lengths = string_parts(arr)
    win = window(data, starts, 3).astype(np.int64)
    code = (win[:, 0] << 16) | (win[:, 1] << 8) | win[:, 2]
    table = np.array([(ord(m[0]) << 16) | (ord(m[1]) << 8) | ord(m[2]) for m in MONTHS])
    order = np.argsort(table)
    pos = np.clip(np.searchsorted(table[order], code), 0, 11)
    hit = (table[order][pos] == code) & (lengths >= 3)
    return np.where(hit, order[pos] + 1, 0)


def _pack(win: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Up to 5 bytes per row packed into one int64 (for table look-ups)."""
    code = np.zeros(len(win), dtype=np.int64)
    for i in range(5):
        byte = np.where(i < lengths, win[:, i].astype(np.int64), 0) if i < win.shape[1] else 0
        code = (code << 8) | byte
    return code


_ABBR_CODES = np.array(
    [int.from_bytes(a.encode().ljust(5, b"\0"), "big") for a in ABBREVIATIONS], dtype=np.int64
)
_ABBR_ORDER = np.argsort(_ABBR_CODES)
_ABBR_MINUTES = np.array(list(ABBREVIATIONS.values()), dtype=np.int64)


def zone_minutes(win: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, ...]:
    """Read zones written as ``Z``, ``+hh:mm``, ``+hhmm``, ``+hh`` or a known abbreviation,
    optionally after one space. Returns (minutes east of UTC, has a zone, well-formed)."""
    space = (win[:, 0] == 32) & (lengths > 0)
    win = np.where(space[:, None], np.roll(win, -1, axis=1), win)
    lengths = lengths - space
    sign = np.where(win[:, 0] == 45, -1, 1)
    signed = (win[:, 0] == 43) | (win[:, 0] == 45)
    hh, ok_h = number(win[:, 1:3], np.full(len(win), 2))
    colon = win[:, 3] == 58
    mm_at = np.where(colon, 4, 3)
    mm_win = np.take_along_axis(win, np.stack([mm_at, mm_at + 1], axis=1), axis=1)
    mm, ok_m = number(mm_win, np.full(len(win), 2))
    numeric_len = np.where(colon, 6, 5)
    numeric = (
        signed
        & ok_h
        & (hh <= 23)
        & ((lengths == 3) | ((lengths == numeric_len) & ok_m & (mm <= 59)))
    )
    minutes = np.where(numeric, sign * (hh * 60 + np.where(lengths == 3, 0, mm)), 0)
    code = _pack(win, lengths)
    codes = _ABBR_CODES[_ABBR_ORDER]
    pos = np.clip(np.searchsorted(codes, code), 0, len(codes) - 1)
    named = ~signed & (lengths > 0) & (lengths <= 5) & (codes[pos] == code)
    minutes = np.where(named, _ABBR_MINUTES[_ABBR_ORDER][pos], minutes)
    has = lengths > 0
    return minutes, has, ~has | numeric | named


def days_from_civil(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 of proleptic Gregorian dates (H. Hinnant's algorithm)."""
    y = year - (month <= 2)
    era = np.floor_divide(y, 400)
    yoe = y - era * 400
    mp = (month + 9) % 12
    doy = (153 * mp + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return np.asarray(era * 146097 + doe - 719468)


def civil_from_days(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(year, month, day) of days since 1970-01-01 (H. Hinnant's inverse algorithm)."""
    z = np.asarray(days, dtype=np.int64) + 719468
    era = np.floor_divide(z, 146097)
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = np.where(mp < 10, mp + 3, mp - 9)
    return yoe + era * 400 + (month <= 2), month, day


def days_in_month(year: np.ndarray, month: np.ndarray) -> np.ndarray:
    """Length of each month (0 for a month outside 1..12)."""
    table = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])
    leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    m = np.where((month >= 1) & (month <= 12), month, 0)
    return np.asarray(table[m] + ((m == 2) & leap))


def clock_ns(hour: np.ndarray, minute: np.ndarray, second: np.ndarray) -> tuple[np.ndarray, ...]:
    """Nanoseconds into the day and whether the clock is valid; a leap second (:60) is kept as
    the next minute's first second, as most log readers do."""
    ok = (hour <= 23) & (minute <= 59) & (second <= 60)
    return ((hour * 60 + minute) * 60 + second) * NS, ok


ISO_WIDTH = 36  # "2024-01-15 14:31:02.123456789 +05:00": the longest ISO timestamp read
# Eight bytes at a time (little-endian words, first character in the lowest byte): the
# fixed part of an ISO date-time is checked with a few word operations per row, and eight
# fraction digits are read at once (the SWAR digit parsing of simdjson / D. Lemire).
_U = np.uint64
ZEROS = _U(0x3030303030303030)
_LOW7, _SIX, _HIGH = _U(0x7F7F7F7F7F7F7F7F), _U(0x7676767676767676), _U(0x8080808080808080)
_KEEP = np.array([(1 << (8 * k)) - 1 for k in range(8)] + [(1 << 64) - 1], dtype=np.uint64)
_PAST = _HIGH & ~_KEEP  # flag bytes k.. as "not a digit" (past the timestamp's end)


def _template(offset: int, text: str) -> tuple[int, np.uint64, np.uint64, np.uint64]:
    """(offset, digit-bytes mask, separator-bytes mask, separator bytes) for an 8-character
    template where ``d`` is a digit, ``?`` anything, other characters themselves."""
    digits = sum(0xFF << 8 * i for i, c in enumerate(text) if c == "d")
    seps = sum(0xFF << 8 * i for i, c in enumerate(text) if c not in "d?")
    expected = sum(ord(c) << 8 * i for i, c in enumerate(text) if c not in "d?")
    return offset, _U(digits), _U(seps), _U(expected)


ISO_WORDS = (_template(0, "dddd-dd-"), _template(8, "dd?dd:dd"), _template(11, "dd:dd:dd"))


def word_at(win: np.ndarray, offset: int) -> np.ndarray:
    """Bytes ``offset .. offset + 7`` of every row of a C-contiguous window, as uint64."""
    if not len(win):
        return np.zeros(0, dtype=np.uint64)
    return np.ndarray(
        (len(win),), dtype="<u8", buffer=win, offset=offset, strides=(win.strides[0],)
    )


def not_digits(x: np.ndarray) -> np.ndarray:
    """For words already XOR-ed with "00000000": the high bit of each byte that is no digit."""
    return np.asarray((((x & _LOW7) + _SIX) | x) & _HIGH)


def _eight_digits(x: np.ndarray) -> np.ndarray:
    """The 8-digit number in words of digit values (first digit in the lowest byte)."""
    x = (x * _U(2561)) >> _U(8)
    x = ((x & _U(0x00FF00FF00FF00FF)) * _U(6553601)) >> _U(16)
    return (((x & _U(0x0000FFFF0000FFFF)) * _U(42949672960001)) >> _U(32)).astype(np.int64)


def lead_count(flags: np.ndarray) -> np.ndarray:
    """How many bytes from the lowest up have no flag (0..8)."""
    low = flags & (~flags + _U(1))
    bit = np.frexp(low.astype(np.float64))[1] - 1
    return np.where(flags == 0, 8, bit // 8)


def iso_fields(win: np.ndarray, lengths: np.ndarray) -> dict[str, np.ndarray]:
    """Read ``YYYY-MM-DD[T ]hh:mm:ss[.,f{1-9}][zone]`` from the start of each row, where each
    timestamp is ``lengths`` bytes long (everything after the clock must be fraction and zone).
    ``win`` is a C-contiguous (n, >= ISO_WIDTH) window. Returns year, month, day, tod (ns into
    the day), minutes (zone), zoned and ok arrays."""

    def two(col: int) -> np.ndarray:
        return np.asarray((win[:, col].astype(np.int64) - _ZERO) * 10 + win[:, col + 1] - _ZERO)

    ok = (lengths >= 19) & ((win[:, 10] == 84) | (win[:, 10] == 32))
    for offset, digits, seps, expected in ISO_WORDS:
        word = word_at(win, offset)
        ok &= (not_digits((word ^ ZEROS) & digits) == 0) & ((word & seps) == expected)
    tod, clock_ok = clock_ns(two(11), two(14), two(17))
    frac = word_at(win, 20) ^ ZEROS
    flags = not_digits(frac) | _PAST[np.clip(lengths - 20, 0, 8)]
    count = lead_count(flags)
    ninth = (count == 8) & (lengths > 28) & (win[:, 28] >= _ZERO) & (win[:, 28] <= _NINE)
    value = _eight_digits(frac & _KEEP[count]) * 10 + np.where(ninth, win[:, 28] - _ZERO, 0)
    count = count + ninth
    has_frac = ((win[:, 19] == 46) | (win[:, 19] == 44)) & (count > 0)
    tod = tod + np.where(has_frac, value, 0)
    at = 19 + np.where(has_frac, count + 1, 0)
    minutes, zoned, zone_ok = _iso_zone(win, at, lengths - at)
    return {
        "year": two(0) * 100 + two(2),
        "month": two(5),
        "day": two(8),
        "tod": tod,
        "minutes": minutes,
        "zoned": zoned,
        "ok": ok & clock_ok & zone_ok,
    }


def _iso_zone(win: np.ndarray, at: np.ndarray, size: np.ndarray) -> tuple[np.ndarray, ...]:
    """The zone after the clock: none and ``Z`` (nearly all rows) at once, the rest apart."""
    first = win[np.arange(len(win)), np.minimum(at, win.shape[1] - 1)]
    simple = (size == 0) | ((size == 1) & (first == 90))
    minutes = np.zeros(len(win), dtype=np.int64)
    zoned, ok = size > 0, simple.copy()
    rest = np.flatnonzero(~simple & (size > 0) & (size <= 7))
    if len(rest):
        cols = np.minimum(at[rest, None] + np.arange(7), win.shape[1] - 1)
        zone_win = masked(np.take_along_axis(win[rest], cols, axis=1), size[rest])
        minutes[rest], _, ok[rest] = zone_minutes(zone_win, size[rest])
    return minutes, zoned, ok

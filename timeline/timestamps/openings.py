"""Timestamps read byte by byte where the bytes settle what a step's regex would match (an
RE2 extract costs about half a microsecond a row, these some tens of nanoseconds): a stamp that
opens its line (``iso``, ``klog``), a JSON key's ISO value, an ISO stamp after no digit or quote.

A step's pattern takes the leftmost match, and at one place its earliest family. A row that
opens with an ``iso`` or ``klog`` timestamp has its match at offset 0, so the family wins when
no family before it in the step can match there: none of the built-ins before ``klog`` can at a
line opening with a klog header, and of those before ``iso`` only ``bgl`` (``^[^ ]+ `` and an
epoch) can at a line opening with a date. Rows the bytes leave unsure (a numeric zone) are left
to the regex; what it finds there is the same either way (tests/timeline/test_detect_steps.py
checks the readers against the steps read line by line).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from incident_timeline.timeline.timestamps.extract import (
    ISO_WORDS,
    ZEROS,
    lead_count,
    not_digits,
    string_parts,
    window,
    word_at,
)
from incident_timeline.timeline.timestamps.families import (
    ABBREVIATIONS,
    BY_NAME,
    FAMILIES,
    TIME_KEYS,
    Families,
    Family,
)
from incident_timeline.timeline.timestamps.runtime import string_views

ISO, KLOG = BY_NAME["iso"], BY_NAME["klog"]
# The families that may come before each reader's in a step (the built-ins listed before it
# that cannot match at offset 0 of a line in its shape).
_BEFORE = {
    ISO: frozenset(FAMILIES[: FAMILIES.index(ISO)]) - {BY_NAME["bgl"]},
    KLOG: frozenset(FAMILIES[: FAMILIES.index(KLOG)]),
}
_WIDTH = 40  # the longest opening read (a 9-digit fraction, a space, a 4-letter zone) and more
_WORD_CHARS = np.zeros(256, dtype=bool)  # RE2's \w (ASCII): what \b looks at
_WORD_CHARS[[*range(48, 58), *range(65, 91), *range(97, 123), 95]] = True
_ZONE_WORDS = np.array(
    [int.from_bytes(a.encode(), "little") for a in ABBREVIATIONS], dtype=np.uint64
)  # (Z among them: ZONE's "Z\b")
_ZONE_INITIALS = np.zeros(256, dtype=bool)
_ZONE_INITIALS[[ord(a[0]) for a in ABBREVIATIONS if a != "Z"]] = True


def readers(families: Families) -> list[Family]:
    """The families of a step that are read here (those whose predecessors allow it)."""
    out = []
    for at, family in enumerate(families):
        before = _BEFORE.get(family)
        if before is not None and all(f in before for f in families[:at]):
            out.append(family)
    return out


def read(lines: pa.Array, rows: np.ndarray, family: Family) -> tuple[np.ndarray, pa.Array]:
    """Where ``family`` opens the rows ``rows`` of ``lines`` as its regex would match: those
    rows, and the text matched (views into the column's buffer)."""
    data, starts, lengths = string_parts(lines)
    if not len(data) or not len(rows):
        return rows[:0], pa.array([], pa.large_string())
    first = data[np.minimum(starts[rows], len(data) - 1)]
    if family == ISO:
        rows = rows[(first >= 48) & (first <= 57) & (lengths[rows] >= 19)]
    else:
        rows = rows[np.isin(first, list(b"IWEF")) & (lengths[rows] >= 14)]
    win = window(data, starts[rows], _WIDTH)
    win[np.arange(_WIDTH) >= lengths[rows, None]] = 0  # (a row's end reads as NUL: no digit)
    at, size = _iso(win) if family == ISO else _klog(win)
    keep = size > 0
    rows, at, size = rows[keep], at[keep], size[keep]
    raw = string_views(data, starts[rows] + at, size).cast(pa.large_string())
    return rows, raw


def _fraction(win: np.ndarray, dot: int) -> tuple[np.ndarray, np.ndarray]:
    """Whether 1-9 digits follow column ``dot`` (the caller checks its ``.`` or ``,``), and
    how many (greedy, up to 9, as the regex takes them)."""
    digits = word_at(win, dot + 1) ^ ZEROS
    count = lead_count(not_digits(digits))
    ninth = (count == 8) & (win[:, dot + 9] >= 48) & (win[:, dot + 9] <= 57)
    count = count + ninth
    return count > 0, count


def _iso(win: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Offset and length of the ``iso`` body at each row's start (length 0: not read)."""
    ok = (win[:, 10] == 84) | (win[:, 10] == 32)
    for offset, digits, seps, expected in ISO_WORDS:
        word = word_at(win, offset)
        ok &= (not_digits((word ^ ZEROS) & digits) == 0) & ((word & seps) == expected)
    has, count = _fraction(win, 19)
    has &= (win[:, 19] == 46) | (win[:, 19] == 44)
    end = 19 + np.where(has, count + 1, 0)
    rows = np.arange(len(win))
    # ZONE: " ?" then Z\b, [+-]..., or an abbreviation then \b (a run of word characters that
    # is one). A sign is left to the regex; a run is read only where its first letter begins
    # an abbreviation; else no zone follows (the clock or fraction ends the match).
    at = end + (win[rows, end] == 32)
    first = win[rows, at]
    ok &= (first != 43) & (first != 45)
    # "Z" is the only abbreviation starting with Z: Z\b is the zone, a longer run none
    zulu = (first == 90) & ~_WORD_CHARS[win[rows, at + 1]]
    length = np.where(zulu, at + 1, end)
    maybe = np.flatnonzero(ok & _ZONE_INITIALS[first])
    if len(maybe):
        cols = at[maybe, None] + np.arange(6)
        run = _WORD_CHARS[win[maybe[:, None], cols]]
        size = np.where(run.all(axis=1), 6, run.argmin(axis=1))
        word = np.where(np.arange(4) < size[:, None], win[maybe[:, None], cols[:, :4]], 0)
        code = (word.astype(np.uint64) << (np.arange(4, dtype=np.uint64) * np.uint64(8))).sum(1)
        zone = (size <= 4) & np.isin(code, _ZONE_WORDS)
        length[maybe] = np.where(zone, at[maybe] + size, end[maybe])
    return np.zeros(len(win), dtype=np.int64), np.where(ok, length, 0)


def _klog(win: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Offset (1, after the level letter) and length of the ``klog`` body at each row's start."""
    ok = (win[:, 5] == 32) & (win[:, 8] == 58) & (win[:, 11] == 58)
    for col in (1, 2, 3, 4, 6, 7, 9, 10, 12, 13):
        ok &= (win[:, col] >= 48) & (win[:, col] <= 57)
    has, count = _fraction(win, 14)
    has &= win[:, 14] == 46
    end = 14 + np.where(has, count + 1, 0)
    return np.ones(len(win), dtype=np.int64), np.where(ok, end - 1, 0)


# The JSON keys' step: every family of it (json_instant, json_epoch, json_iso) opens its match
# with a quoted key, "epochSecond" or one of TIME_KEYS. Where no such key comes before a
# '"ts":"' (or another of _JSON_OPENINGS) and an ISO body follows it, the step's leftmost match
# is there, and it is json_iso's (json_epoch's digits would need ten, not "dddd-"). A key that
# would end right at the opening's quote ('"time"ts":"') cannot open a match: ':' or a blank
# must follow its quote.
JSON_STEP = frozenset(BY_NAME[n] for n in ("json_instant", "json_epoch", "json_iso"))
_JSON_OPENINGS = ('"ts":"', '"time":"', '"@timestamp":"', '"timestamp":"')
_ANY_KEY = f'"(?:{TIME_KEYS}|epochSecond)"'


def read_json(sub: pa.Array) -> tuple[np.ndarray, pa.Array]:
    """Where json_iso's match is certain in ``sub``: a mask of those rows, and the ISO text
    matched (views into the column's buffer). Each row looks for the openings in turn; the
    one found need not be the first of them, as no key may come before it."""
    data, starts, lengths = string_parts(sub)
    at = np.full(len(sub), -1, dtype=np.int64)
    key = np.zeros(len(sub), dtype=np.int64)
    for opening in _JSON_OPENINGS:
        rows = np.flatnonzero(at < 0)
        if not len(rows):
            break
        found = pc.find_substring(sub.take(pa.array(rows)), opening)
        at[rows] = found.fill_null(-1).to_numpy(zero_copy_only=False)
        key[rows] = len(opening)
    picked = np.flatnonzero(at >= 0)
    mine = np.zeros(len(sub), dtype=bool)
    if not len(data) or not len(picked):
        return mine, pa.array([], pa.large_string())
    before = string_views(data, starts[picked], at[picked]).cast(pa.large_string())
    picked = picked[~pc.match_substring_regex(before, _ANY_KEY).to_numpy(zero_copy_only=False)]
    body = starts[picked] + at[picked] + key[picked]
    win = window(data, body, _WIDTH)
    win[np.arange(_WIDTH) >= (starts + lengths)[picked, None] - body[:, None]] = 0
    _, size = _iso(win)
    keep = size > 0
    mine[picked[keep]] = True
    return mine, string_views(data, body[keep], size[keep]).cast(pa.large_string())


# A step of the JSON keys, iso and klog only: each match opens with a quote (a JSON key), a
# digit (iso) or a level letter and a digit (klog). Where the first digit or quote of a line
# is a digit that opens an ISO body ("level=info ts=2024-..."), no match starts before it (nor
# klog's one byte before: its four digits are followed by a blank, an ISO date's by "-"), and
# at it only iso matches.
INNER = frozenset({*JSON_STEP, ISO, KLOG})
_LEAD = 32  # how far into a line its first digit or quote is looked for


def read_inner(lines: pa.Array, rows: np.ndarray) -> tuple[np.ndarray, pa.Array]:
    """Where the first digit or quote of the rows ``rows`` of ``lines`` (within _LEAD bytes)
    opens an ISO body: those rows, and the body's text (views into the column's buffer)."""
    data, starts, lengths = string_parts(lines)
    if not len(data) or not len(rows):
        return rows[:0], pa.array([], pa.large_string())
    head = window(data, starts[rows], _LEAD)
    inside = np.arange(_LEAD) < lengths[rows, None]
    digit = (head >= 48) & (head <= 57) & inside
    first = np.argmax(digit | ((head == 34) & inside), axis=1)
    picked = np.flatnonzero(digit[np.arange(len(rows)), first])
    at = starts[rows[picked]] + first[picked]
    win = window(data, at, _WIDTH)
    win[np.arange(_WIDTH) >= (lengths[rows[picked]] - first[picked])[:, None]] = 0
    _, size = _iso(win)
    keep = size > 0
    raw = string_views(data, at[keep], size[keep]).cast(pa.large_string())
    return rows[picked[keep]], raw

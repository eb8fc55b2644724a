"""What the text-log formats share (plain logs, ``kubectl logs``, CRI files), parsed a whole file
at a time. Timestamps come from ``timeline.timestamps`` (every family it knows, naive ones read
in the file's ``timezone``, year-less ones placed in the window); a line without one takes its
neighbour's time and is marked ``inferred``. A DST-ambiguous or non-existent local time is
resolved by the parser and flagged in the event's labels as ``time_flag`` (``embedded_time_flag``
when it is the app's own timestamp next to a runtime one)."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from incident_timeline.collector.formats import Context
from incident_timeline.timeline import schema
from incident_timeline.timeline.columns import SPACE, SPACE_BUT_BLANK, arrow_strings, strings
from incident_timeline.timeline.timestamps import parse_timestamps, runtime
from incident_timeline.timeline.timestamps.extract import string_parts, window

# What may come before and after a leading timestamp that the summary need not repeat:
# logfmt time=/ts=, a bracket or quote, then separators.
_BEFORE_TS = rf"^{SPACE}*(?:(?:time|ts|t|timestamp)=)?[\[\"]?"
_AFTER_TS = rf'^[\]"]?(?:[:|,\-]|{SPACE})*'
SUMMARY_MAX = 240
# A row of over 2 HEAD bytes is summarized from its first HEAD characters (see _summaries).
HEAD = 1024
_EMPTY = pa.scalar("", pa.large_string())


def split_lines(text: str | bytes, first_line: int = 1) -> pd.Series:
    """Lines of ``text`` indexed by line number (the first is ``first_line``); blank and
    whitespace-only lines are left out. Bytes are split in place (invalid UTF-8 replaced). A
    file with CR-only line endings (classic Mac, some Windows tools) is split on CR."""
    data = text.encode("utf-8", errors="surrogatepass") if isinstance(text, str) else text
    if b"\n" not in data and b"\r" in data:
        data = data.replace(b"\r", b"\n")
    found = runtime.split_lines(data)
    views = runtime.string_views(found.data, found.starts, found.lengths)
    column = views.cast(pa.large_string())
    # Only a line opening with whitespace (an ASCII one or a multi-byte character) can be
    # whitespace only: the regex looks at those alone.
    first = np.frombuffer(found.data, dtype=np.uint8)[found.starts]
    maybe = np.flatnonzero((first <= 32) | (first >= 0xC2))
    keep = np.ones(len(found.starts), dtype=bool)
    if len(maybe):
        blank = pc.match_substring_regex(column.take(pa.array(maybe)), f"^{SPACE}*$")
        keep[maybe] = ~blank.to_numpy(zero_copy_only=False)
        if not keep.all():
            column = column.filter(pa.array(keep))
    numbers = found.numbers[keep] + (first_line - 1)
    return pd.Series(strings(column), index=numbers, copy=False)


def looks_like_log(text: str) -> bool:
    """Whether the first line carries a timestamp the parser knows (the lines after it may be
    continuations: stack traces, config dumps)."""
    sample = split_lines(text[:20000]).head(1)
    return not sample.empty and bool(parse_timestamps(sample)["time_raw"].notna().all())


def window_of(ctx: Context) -> tuple[Any, Any] | None:
    """The incident window a parser gives year-less timestamps (None when unknown)."""
    if ctx.fallback_time is None:
        return None
    return ctx.fallback_time, ctx.window_end if ctx.window_end is not None else ctx.fallback_time


def strip_leading(text: pd.Series, raw: pd.Series) -> pd.Series:
    """``text`` without the timestamp ``raw`` where the line opens with it (bare, bracketed,
    quoted or as logfmt ``time=``), so that the summary does not repeat it. Whole column at
    once: the stamp is compared in place, byte for byte, after the opening each row has."""
    column = arrow_strings(text)
    stamps = arrow_strings(raw)
    data, starts, lengths = string_parts(column)
    stamp_data, stamp_at, stamp_len = string_parts(stamps)
    rows = np.flatnonzero(stamp_len > 0)  # (a row without a stamp keeps its text)
    before = np.zeros(len(starts), dtype=np.int64)
    before[rows] = _opening(column, data, starts, lengths, rows)
    at = starts + before
    fits = before + stamp_len <= lengths
    size = np.where(fits, stamp_len, 0)
    same = np.zeros(len(starts), dtype=bool)
    same[rows] = fits[rows] & _equal(data, at[rows], stamp_data, stamp_at[rows], size[rows])
    if not same.any():
        return text
    rows = np.flatnonzero(same)
    start, left = (at + size)[rows], (lengths - before - size)[rows]
    skip, unsure = _after(data, start, left)
    rest = runtime.string_views(data, start + skip, left - skip).cast(column.type)
    if unsure.any():
        regex = runtime.string_views(data, start[unsure], left[unsure]).cast(column.type)
        rest = _scatter(rest, unsure, pc.replace_substring_regex(regex, _AFTER_TS, ""))
    return pd.Series(strings(_scatter(column, same, rest)), index=text.index, copy=False)


# What _AFTER_TS reads after a stamp, byte by byte: one "]" or '"', then separators (":|,-")
# and ASCII whitespace. A multi-byte space (its lead byte, as in _WIDE_LEAD) leaves it to the
# regex, as does a run longer than the bytes looked at.
_AFTER_BYTES = 8
_CLOSES = np.zeros(256, dtype=bool)
_CLOSES[list(b']"')] = True
_SEPARATES = np.zeros(256, dtype=bool)
_SEPARATES[[9, 10, 11, 12, 13, 28, 29, 30, 31, 32, *b":|,-"]] = True


def _after(data: np.ndarray, start: np.ndarray, left: np.ndarray) -> tuple[Any, Any]:
    """How many bytes _AFTER_TS takes from ``data[start:start + left]`` of each row, and the
    rows the bytes cannot settle (for the regex)."""
    win = window(data, start, _AFTER_BYTES)
    inside = np.arange(_AFTER_BYTES) < left[:, None]
    closes = (_CLOSES[win[:, 0]] & inside[:, 0]).astype(np.int64)
    run = _SEPARATES[win] & inside
    cols = np.arange(_AFTER_BYTES)
    stops = ~run & (cols >= closes[:, None])  # (a bracket or quote is no separator)
    first_stop = np.where(stops.any(axis=1), stops.argmax(axis=1), _AFTER_BYTES)
    skip = np.maximum(first_stop, closes)
    next_byte = win[np.arange(len(win)), np.minimum(skip, _AFTER_BYTES - 1)]
    unsure = (skip >= _AFTER_BYTES) & (left > _AFTER_BYTES)
    unsure |= (skip < left) & (skip < _AFTER_BYTES) & _WIDE_LEAD[next_byte]
    return skip, unsure


# The bytes an opening (_BEFORE_TS) can begin with: a space character's first byte (ASCII, or
# the lead byte of U+0085/U+00A0, U+1680, U+2000-U+205F, U+3000), "t" of time=, "[" and '"'.
_OPENS = np.zeros(256, dtype=bool)
_OPENS[[9, 10, 11, 12, 13, 28, 29, 30, 31, 32, 0xC2, 0xE1, 0xE2, 0xE3, *b't["']] = True


def _opening(
    column: pa.Array, data: np.ndarray, starts: np.ndarray, lengths: np.ndarray, rows: np.ndarray
) -> Any:
    """The byte length of the opening (_BEFORE_TS) of each row at positions ``rows``; the regex
    reads only the rows whose first byte can begin one (the others have none)."""
    starts, lengths = starts[rows], lengths[rows]
    first = data[np.minimum(starts, max(len(data) - 1, 0))] if len(data) else starts * 0
    maybe = np.flatnonzero(_OPENS[first] & (lengths > 0))
    before = np.zeros(len(starts), dtype=np.int64)
    if len(maybe):
        sub = column.take(pa.array(rows[maybe]))
        opening = pc.struct_field(pc.extract_regex(sub, f"(?P<o>{_BEFORE_TS})"), [0])
        before[maybe] = string_parts(opening)[2]
    return before


# Stamps compared byte for byte in a window up to this wide (longer ones: as Arrow strings).
_STAMP_BYTES = 64


def _equal(
    data: np.ndarray, at: np.ndarray, other: np.ndarray, other_at: np.ndarray, size: Any
) -> Any:
    """Whether ``data[at:at + size]`` equals ``other[other_at:other_at + size]``, per row."""
    if not len(at):
        return np.zeros(0, dtype=bool)
    width = int(size.max())
    if not width:
        return np.ones(len(at), dtype=bool)
    if width > _STAMP_BYTES:
        ours = runtime.string_views(data, at, size).cast(pa.large_string())
        theirs = runtime.string_views(other, other_at, size).cast(pa.large_string())
        return pc.equal(ours, theirs).to_numpy(zero_copy_only=False)
    outside = np.arange(width) >= size[:, None]
    return ((window(data, at, width) == window(other, other_at, width)) | outside).all(axis=1)


def flagged(labels: pd.Series, dst: pd.Series, has_runtime: pd.Series | None) -> pd.Series:
    """Add ``time_flag`` (or ``embedded_time_flag`` next to a runtime stamp) to the labels of
    rows whose local time fell in a DST change."""
    flagged = dst.notna().to_numpy()
    if not flagged.any():
        return labels
    out = labels.astype(object).copy()
    embedded = np.zeros(len(dst), dtype=bool) if has_runtime is None else has_runtime.to_numpy()
    for i in np.flatnonzero(flagged):
        extra = json.loads(out.iloc[i])
        extra["embedded_time_flag" if embedded[i] else "time_flag"] = dst.iloc[i]
        out.iloc[i] = schema.labels_json(extra)
    return out


def summarize(text: pd.Series) -> pd.Series:
    """One table-friendly line: whitespace collapsed, cut at SUMMARY_MAX characters."""
    flat = _summaries(arrow_strings(text).fill_null(""))
    return pd.Series(strings(flat), index=text.index, copy=False)


def _summaries(flat: pa.Array, head: bool = True) -> pa.Array:
    """``summarize`` of an Arrow column. With ``head``, a row of over 2 HEAD bytes is read
    from its first HEAD characters only: collapsing whitespace reads left to right, so when
    that head alone gives more than SUMMARY_MAX characters the summary is the same. The few
    rows whose head collapses to fewer are summarized whole."""
    long_rows = np.flatnonzero(string_parts(flat)[2] > 2 * HEAD) if head else np.zeros(0, np.int64)
    whole = flat
    if len(long_rows):
        mask = np.zeros(len(flat), dtype=bool)
        mask[long_rows] = True
        flat = _scatter(flat, mask, pc.utf8_slice_codeunits(flat.filter(pa.array(mask)), 0, HEAD))
    # Only rows with other whitespace than single inner blanks need the (costly) replace.
    odd = pc.match_substring_regex(flat, f"[{SPACE_BUT_BLANK}]|  |^ | $").to_numpy(
        zero_copy_only=False
    )
    if odd.any():
        flat = _scatter(flat, odd, _collapsed(flat.take(pa.array(np.flatnonzero(odd)))))
    # A row of at most SUMMARY_MAX bytes has at most that many characters: only longer rows
    # are measured (and cut).
    long = np.flatnonzero(string_parts(flat)[2] > SUMMARY_MAX)
    over = np.zeros(0, dtype=bool)
    if len(long):
        sub = flat.take(pa.array(long))
        over = pc.greater(pc.utf8_length(sub), SUMMARY_MAX).to_numpy(zero_copy_only=False)
        if over.any():
            sub = sub.filter(pa.array(over))
            cut = pc.binary_join_element_wise(
                pc.utf8_slice_codeunits(sub, 0, SUMMARY_MAX - 1), pa.scalar("…", sub.type), _EMPTY
            )
            rows = np.zeros(len(flat), dtype=bool)
            rows[long[over]] = True
            flat = _scatter(flat, rows, cut)
    redo = np.setdiff1d(long_rows, long[over], assume_unique=True)
    if len(redo):
        mask = np.zeros(len(flat), dtype=bool)
        mask[redo] = True
        flat = _scatter(flat, mask, _summaries(whole.filter(pa.array(mask)), head=False))
    return flat


def _maybe_space(body: np.ndarray) -> np.ndarray:
    """Bytes that may begin a character of SPACE_BUT_BLANK: every ASCII control below the blank
    (tab to carriage return and 0x1c-0x1f are among them) and every lead byte of a multi-byte
    character (those of the wide spaces, _WIDE_LEAD, are among them)."""
    return (body < 32) | (body >= 0xC2)


def _collapsed(sub: pa.Array) -> pa.Array:
    """Whitespace runs as one blank, none at the ends."""
    data, starts, lengths = string_parts(sub)
    ends = starts + lengths
    body = data[starts.min() : ends.max()] if len(starts) else data[:0]
    wide = bool(_maybe_space(body).any())  # else no character of SPACE_BUT_BLANK is there
    if wide and pc.any(pc.match_substring_regex(sub, f"[{SPACE_BUT_BLANK}]")).as_py():
        return pc.utf8_trim(_runs(sub), " ")
    # Runs of blanks alone (indented stack frames, aligned columns): trimmed first, then only
    # rows with an inner run left are collapsed (the same result, fewer rows).
    sub = pc.utf8_trim(sub, " ")
    inner = pc.match_substring(sub, "  ").to_numpy(zero_copy_only=False)
    if not inner.any():
        return sub
    return _scatter(sub, inner, pc.replace_substring_regex(sub.filter(pa.array(inner)), "  +", " "))


# ASCII whitespace (str.isspace: \t \n \v \f \r \x1c-\x1f and the blank), and the lead bytes
# of SPACE's multi-byte spaces (U+0085, U+00A0: C2; U+1680: E1; U+2000-U+205F: E2; U+3000: E3).
_ASCII_SPACE = np.zeros(256, dtype=bool)
_ASCII_SPACE[[9, 10, 11, 12, 13, 28, 29, 30, 31, 32]] = True
_WIDE_LEAD = np.zeros(256, dtype=bool)
_WIDE_LEAD[[0xC2, 0xE1, 0xE2, 0xE3]] = True


def _runs(sub: pa.Array) -> pa.Array:
    """Each run of whitespace (SPACE) as one blank. Byte by byte where a row's whitespace is
    all ASCII (a replace of SPACE's class costs about a microsecond a row, that of blanks alone
    much less); rows with a byte that may open a multi-byte space take the regex."""
    data, starts, lengths = string_parts(sub)
    offsets = np.append(starts, starts[-1] + lengths[-1]) if len(starts) else starts
    if not len(starts) or not np.array_equal(offsets[1:-1], (starts + lengths)[:-1]):
        return pc.replace_substring_regex(sub, f"{SPACE}+", " ")  # not row after row
    body = data[offsets[0] : offsets[-1]]
    offsets = offsets - offsets[0]
    space = _ASCII_SPACE[body]
    extra = space.copy()  # a whitespace byte right after another in the same row goes
    extra[1:] &= space[:-1]
    extra[offsets[:-1][offsets[:-1] < len(body)]] = False  # (a row's first byte stays)
    dropped = np.flatnonzero(extra)
    rows = np.searchsorted(offsets, dropped, side="right") - 1
    kept = lengths - np.bincount(rows, minlength=len(lengths))
    text = np.where(space, np.uint8(32), body)
    out = pa.LargeStringArray.from_buffers(
        len(lengths),
        pa.py_buffer(np.concatenate([[0], np.cumsum(kept)]).astype(np.int64)),
        pa.py_buffer(np.delete(text, dropped).tobytes() if len(dropped) else text.tobytes()),
    )
    wide = np.zeros(len(lengths), dtype=bool)
    wide[np.searchsorted(offsets, np.flatnonzero(_WIDE_LEAD[body]), side="right") - 1] = True
    if not wide.any():
        return out
    regex = pc.replace_substring_regex(sub.filter(pa.array(wide)), f"{SPACE}+", " ")
    return _scatter(out, wide, regex)


def _scatter(column: pa.Array, rows: np.ndarray, values: pa.Array) -> pa.Array:
    """``column`` with the rows where ``rows`` is True replaced by ``values`` (in order)."""
    return pc.replace_with_mask(column, pa.array(rows), values.cast(column.type))


def line_refs(ref: str, numbers: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """``<ref>#L<n>`` for every line number (Arrow's number formatting, no Python per row)."""
    digits = pc.cast(pa.array(numbers, type=pa.int64()), pa.large_string())
    prefix = pa.scalar(f"{ref}#L", pa.large_string())
    return strings(pc.binary_join_element_wise(prefix, digits, _EMPTY))

"""Container-runtime (CRI) log files, read straight from their bytes.

The kubelet's container runtime writes one line per write: ``<RFC 3339 nano> <stdout|stderr>
<F|P> <text>``; a ``P`` (partial) line is continued by the next line of the same stream, up to
an ``F`` line. ``read_runtime_log`` splits the file into lines, parses every timestamp with the
byte-level ISO reader, re-joins partial lines into one record (timed and referenced by its first
line, as ``kubectl logs`` shows it) and keeps any line not in that shape as a record of its own
without a time: nothing is dropped. Texts stay Arrow string views into the file's buffer until
the one final copy.
"""

from __future__ import annotations

import itertools
import re
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from incident_timeline.timeline.columns import labels, strings, utc_times
from incident_timeline.timeline.timestamps.extract import (
    ISO_WIDTH,
    iso_fields,
    string_parts,
    window,
)
from incident_timeline.timeline.timestamps.zone import NAT, apply_zone, local_ns, to_utc

_TOKEN_END = ISO_WIDTH + 1  # the space after the longest timestamp
_WIDE = _TOKEN_END + 10  # the timestamp, then " stdout F " and the first text byte
_SPAN = 1 << 30  # string views address at most 2 GiB per data buffer
CHUNK = 1 << 16  # lines read at a time
_STDOUT_F, _STDOUT_P, _STDERR_F, _STDERR_P = (
    int.from_bytes(text, "little") for text in (b"stdout F", b"stdout P", b"stderr F", b"stderr P")
)


class Lines(NamedTuple):
    """Non-blank lines of a byte buffer: where each starts, its length, its 1-based number."""

    data: bytes
    starts: np.ndarray
    lengths: np.ndarray
    numbers: np.ndarray


def split_lines(data: bytes) -> Lines:
    """``\\n`` ends a line, a ``\\r`` before it is left out, blank lines too. Invalid UTF-8 is
    replaced first (U+FFFD), as a text decoder with ``errors="replace"`` would."""
    if not _utf8(data):
        data = data.decode("utf-8", errors="replace").encode("utf-8")
    buf = np.frombuffer(data, dtype=np.uint8)
    block = 1 << 24  # look for newlines 16 MiB at a time: no file-sized mask
    ends = np.concatenate(
        [np.zeros(0, dtype=np.int64)]
        + [np.flatnonzero(buf[at : at + block] == 10) + at for at in range(0, len(buf), block)]
    )
    if len(buf) and buf[-1] != 10:
        ends = np.append(ends, len(buf))
    starts = np.concatenate([[0], ends[:-1] + 1]).astype(np.int64)
    lengths = ends - starts
    lengths -= (lengths > 0) & (buf[np.maximum(ends - 1, 0)] == 13)
    keep = np.flatnonzero(lengths > 0)
    return Lines(data, starts[keep], lengths[keep], keep + 1)


def _utf8(data: bytes) -> bool:
    """Whether ``data`` is valid UTF-8, checked by Arrow in place (no str of the file)."""
    whole = pa.Array.from_buffers(
        pa.large_binary(),
        1,
        [None, pa.py_buffer(np.array([0, len(data)], dtype=np.int64)), pa.py_buffer(data)],
    )
    try:
        whole.cast(pa.large_string())
    except pa.ArrowInvalid:
        return False
    return True


def lines_series(lines: Lines) -> pd.Series:
    """The lines as a pandas ``string`` column indexed by line number (one copy, no Python
    string per line)."""
    views = string_views(lines.data, lines.starts, lines.lengths)
    return pd.Series(strings(views.cast(pa.large_string())), index=lines.numbers, copy=False)


def string_views(data: bytes | np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> pa.Array:
    """Arrow ``string_view`` array of ``data[start : start + length]`` per row, zero-copy."""
    views = np.zeros((len(starts), 16), dtype=np.uint8)
    head = window(np.frombuffer(data, dtype=np.uint8), starts, 12)
    # Up to 12 bytes are stored in the view itself; longer ones keep a 4-byte prefix there
    # (the same first bytes) and point at (buffer, offset).
    views[:, 4:16] = head
    short = np.flatnonzero(lengths < 12)  # (the bytes past an inline string's end are zero)
    if len(short):
        views[short, 4:16] = np.where(np.arange(12) < lengths[short, None], head[short], 0)
    words = views.view(np.int32)
    words[:, 0] = lengths
    long = lengths > 12
    buffer = starts // _SPAN
    words[:, 2] = np.where(long, buffer, words[:, 2])
    words[:, 3] = np.where(long, starts - buffer * _SPAN, words[:, 3])
    whole = pa.py_buffer(data)
    chunks = [
        whole.slice(k * _SPAN, min(2 * _SPAN, len(data) - k * _SPAN))
        for k in range(max(1, -(-len(data) // _SPAN)))
    ]
    return pa.Array.from_buffers(
        pa.string_view(), len(starts), [None, pa.py_buffer(views), *chunks]
    )


def read_runtime_log(data: bytes, tz: str = "UTC", *, threads: int = 2) -> pd.DataFrame:
    """One row per record: ``line`` (first line number), ``time`` (UTC; NaT for a line not in
    the runtime's shape), ``time_raw``, ``quality``, ``stream`` (stdout/stderr), ``partial``
    (how many lines were joined), ``message``. A naive stamp would be read in ``tz``. Large
    files are read in ``threads`` slices at once (numpy releases the GIL)."""
    lines = split_lines(data)
    # Slices of CHUNK lines keep the temporaries small (and in cache); threads take turns.
    cuts = [*list(range(0, len(lines.starts), CHUNK)), len(lines.starts)]
    slices = [slice(a, b) for a, b in itertools.pairwise(cuts)] or [slice(0, 0)]
    if threads > 1 and len(slices) > 1:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            scans = list(pool.map(lambda part: _scan(lines, part, tz), slices))
    else:
        scans = [_scan(lines, part, tz) for part in slices]
    scan = {key: np.concatenate([s[key] for s in scans]) for key in scans[0]}
    message = string_views(lines.data, lines.starts + scan["skip"], lines.lengths - scan["skip"])
    raw = string_views(lines.data, lines.starts, scan["token"])
    return _records(lines.numbers, scan, message, raw)


def _scan(lines: Lines, part: slice, tz: str) -> dict[str, np.ndarray]:
    """Per line: the timestamp (UTC ns), its length, the stream, the tag, the text's start."""
    lengths = lines.lengths[part]
    head = window(np.frombuffer(lines.data, dtype=np.uint8), lines.starts[part], _WIDE)
    spaces = (head[:, 19:_TOKEN_END] == 32) & (np.arange(19, _TOKEN_END) < lengths[:, None])
    token = np.where(spaces.any(axis=1), spaces.argmax(axis=1) + 19, 0)
    parts = iso_fields(head, token)
    after = _word(head, token + 1)  # "stdout F" / "stderr P", as one 8-byte word
    stream = np.where(after == _STDOUT_F, 0, np.where(after == _STDERR_F, 1, -1))
    partial = (after == _STDOUT_P) | (after == _STDERR_P)
    stream = np.where(after == _STDOUT_P, 0, np.where(after == _STDERR_P, 1, stream))
    text_at = head[np.arange(len(head)), np.minimum(token + 9, _WIDE - 1)]
    ok = parts["ok"] & (stream >= 0) & ((lengths == token + 9) | (text_at == 32))
    parts["ok"] = ok
    local, good = local_ns(parts)
    zoned = parts["zoned"] & good
    utc, _ = to_utc(apply_zone(local, parts["minutes"], zoned), good & ~zoned, tz)
    good &= utc != NAT
    return {
        "utc": np.where(good, utc, NAT),
        "good": good,
        "zoned": zoned,
        "stream": np.where(ok, stream, -1),
        "partial": ok & partial,
        "token": np.where(ok, token, 0),
        "skip": np.where(ok, np.minimum(token + 10, lengths), 0),
    }


def _word(head: np.ndarray, at: np.ndarray) -> np.ndarray:
    """The 8 bytes from column ``at`` of each row, as one little-endian uint64 (past the last
    column, the last byte again)."""
    width = head.shape[1]
    if len(head) and head.flags.c_contiguous and int(at.max()) <= width - 8:
        # Every word inside its row: read at once from the bytes (an unaligned uint64 view).
        flat = head.reshape(-1)
        words = np.ndarray((len(flat) - 7,), dtype="<u8", buffer=flat, strides=(1,))
        return np.asarray(words[np.arange(len(head)) * width + at])
    cols = np.minimum(at[:, None] + np.arange(8), width - 1)
    return np.ascontiguousarray(np.take_along_axis(head, cols, axis=1)).view("<u8")[:, 0]


def _records(
    numbers: np.ndarray, scan: dict[str, np.ndarray], message: pa.Array, raw: pa.Array
) -> pd.DataFrame:
    """Join partial lines into records and build the columns."""
    partial = scan["partial"]
    text = message.cast(pa.large_string())
    first = np.arange(len(partial))
    sizes = np.ones(len(partial), dtype=np.int64)
    if partial.any():
        group = _groups(scan["stream"], partial)
        order = np.argsort(group, kind="stable")
        sizes = np.bincount(group)
        offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        listed = pa.LargeListArray.from_arrays(pa.array(offsets), text.take(pa.array(order)))
        text = pc.binary_join(listed, pa.scalar("", pa.large_string()))
        first = order[offsets[:-1]]
        scan = {key: value[first] for key, value in scan.items()}
        raw = raw.cast(pa.large_string()).take(pa.array(first))
    good = scan["good"]
    return pd.DataFrame(
        {
            "line": numbers[first],
            "time": utc_times(scan["utc"]),
            "time_raw": strings(raw, good),
            "quality": labels(np.where(scan["zoned"], 0, 1), good, ("exact", "assumed_tz")),
            "stream": labels(
                np.maximum(scan["stream"], 0), scan["stream"] >= 0, ("stdout", "stderr")
            ),
            "partial": sizes - 1,
            "message": strings(text),
        },
        copy=False,
    )


def _groups(stream: np.ndarray, partial: np.ndarray) -> np.ndarray:
    """Record number of each line: a line continues the record of the previous line of its
    stream when that line was partial. Records are numbered by their first line."""
    n = len(stream)
    key = np.arange(n) + 3 * n  # a line not in the runtime shape is a record on its own
    for code in (0, 1):
        rows = np.flatnonzero(stream == code)
        ended = np.r_[0, np.cumsum(~partial[rows])[:-1]] if len(rows) else rows
        key[rows] = code * n + ended
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first)] = np.arange(len(first))
    return rank[inverse]


TAIL = 1 << 20  # how far back from a piece's end ``open_records`` looks
_SHAPE = re.compile(rb"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9:.,]{8,}\S* (stdout|stderr) ([FP])(?: |$)")


def open_records(data: bytes) -> int:
    """Where a piece of a runtime log (whole lines) may end so that no record is split: the
    start of the earliest record still open at its end (partial lines the next piece
    continues), ``len(data)`` when none is, 0 when no line start in the last TAIL bytes is
    free (the caller reads on, or splits a record that long: its lines are still kept)."""
    base = max(0, len(data) - TAIL)
    if base:
        base = data.find(b"\n", base) + 1 or len(data)
    spans: list[tuple[int, float]] = []  # (first line, last line) offsets of each record
    open_at: dict[bytes, int] = {}
    at = base
    for line in data[base:].split(b"\n"):
        shape = _SHAPE.match(line)
        if shape:
            stream, tag = shape.group(1), shape.group(2)
            first = open_at.pop(stream, at)
            if tag == b"P":
                open_at[stream] = first
            else:
                spans.append((first, at))
        at += len(line) + 1
    spans.extend((first, float("inf")) for first in open_at.values())
    cut = min((first for first, last in spans if last == float("inf")), default=len(data))
    while True:  # no record may span the cut: move it before any that does
        earlier = min((first for first, last in spans if first < cut <= last), default=cut)
        if earlier == cut:
            break
        cut = earlier
    return cut if cut > base else 0


def runtime_prefix(lines: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The RFC 3339 stamp ``kubectl logs --timestamps`` puts first on each line, read in place:
    ``YYYY-MM-DDThh:mm:ss[.f{1-9}]`` then ``Z`` or ``±hh:mm``, ending the line or followed by a
    space. Returns (rows where it is, its length in bytes, UTC ns). Rows in another shape are
    not read here (the caller's regex decides about them): this is the fast path only."""
    data, starts, lengths = string_parts(lines)
    if not len(starts):
        empty = np.zeros(0, dtype=np.int64)
        return np.zeros(0, dtype=bool), empty, empty
    head = window(data, starts, _TOKEN_END + 1)
    short = np.flatnonzero(lengths < _TOKEN_END + 1)  # (bytes past a row's end read as zero)
    if len(short):
        head[short] = np.where(np.arange(_TOKEN_END + 1) < lengths[short, None], head[short], 0)
    spaces = head[:, 20:_TOKEN_END] == 32
    whole = (lengths >= 20) & (lengths <= ISO_WIDTH)
    token = np.where(spaces.any(axis=1), spaces.argmax(axis=1) + 20, np.where(whole, lengths, 0))
    parts = iso_fields(head, token)
    rows = np.arange(len(head))
    last = head[rows, np.maximum(token - 1, 0)]
    colon = head[rows, np.maximum(token - 3, 0)] == 58
    sign = head[rows, np.maximum(token - 6, 0)]
    zone = (last == 90) | (colon & ((sign == 43) | (sign == 45)))
    ok = parts["ok"] & parts["zoned"] & zone & (head[:, 10] == 84) & (head[:, 19] != 44)
    local, good = local_ns(parts)
    ok &= good
    utc = apply_zone(local, parts["minutes"], ok)
    return ok, np.where(ok, token, 0), np.where(ok, utc, NAT)

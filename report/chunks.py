"""Timeline exports a batch of rows at a time: the text of a big timeline is never one string.

`csv_chunks` is the CSV of `render.render_csv` built with Arrow compute kernels, byte for byte
what pandas' ``DataFrame.to_csv`` writes (pandas hands rows to Python's ``csv`` module with
``QUOTE_MINIMAL``: a field is quoted when it holds the delimiter, the quote character or a
line break, and quotes inside are doubled; see CPython's ``Modules/_csv.c``,
``join_append_data``). `text_chunks` cuts any row-wise renderer into batches the same way.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator
from typing import IO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from incident_timeline.timeline.schema import COLUMNS, TIME_COLUMNS
from incident_timeline.timeline.timestamps.extract import civil_from_days, string_parts

BATCH_ROWS = 1 << 16


def _needs_quotes() -> bytes:
    """The characters that make Python's csv module quote a field, as bytes (all ASCII, so
    never part of another character's UTF-8 encoding).

    The delimiter, the quote character and the lineterminator's characters (pandas sets it to
    "\n") always do; whether a lone "\r" does has changed between Python releases, so the
    module itself is asked.
    """
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(["\r", "x"])
    return b',"\n\r' if out.getvalue().startswith('"') else b',"\n'


_NEEDS_QUOTES = _needs_quotes()


def csv_header() -> bytes:
    """The header line: the schema's column names, none of which needs quoting."""
    return (",".join(COLUMNS) + "\n").encode("utf-8")


def csv_chunks(frame: pd.DataFrame, rows: int = BATCH_ROWS) -> Iterator[bytes]:
    """The CSV of ``frame`` (header first) as UTF-8 byte chunks of at most ``rows`` rows."""
    yield csv_header()
    for start in range(0, len(frame), rows):
        yield csv_rows(frame.iloc[start : start + rows])


def csv_rows(frame: pd.DataFrame) -> bytes:
    """The CSV lines (no header) of ``frame``'s schema columns; times ISO 8601 with ``Z``."""
    return bytes(csv_lines(frame))


def csv_lines(frame: pd.DataFrame) -> pa.Buffer:
    """`csv_rows` as an Arrow buffer (the joined lines' own data, not copied into bytes)."""
    if not len(frame):
        return pa.py_buffer(b"")
    fields = [
        _column_text(frame, name)  # ISO 8601 text holds no comma, quote or line break
        if name in TIME_COLUMNS
        else _csv_field(_column_text(frame, name), name in _FEW)
        for name in COLUMNS
    ]
    text = pa.large_string()
    # The line break joined to the last field: the lines laid end to end are then the text.
    fields[-1] = pc.binary_join_element_wise(fields[-1], pa.scalar("\n", text), pa.scalar("", text))
    return _value_buffer(pc.binary_join_element_wise(*fields, pa.scalar(",", text)))


def _column_text(frame: pd.DataFrame, name: str) -> pa.Array:
    """One column as an Arrow string array, missing values empty (pandas' ``na_rep``)."""
    if name in TIME_COLUMNS:
        values = iso_ns_array(frame[name])
    else:
        values = pa.array(frame[name].array, type=pa.large_string(), from_pandas=True)
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    return pc.fill_null(values, "")


# Columns that hold few distinct values in a timeline (one per stream, source or kind).
_FEW = frozenset({"source", "stream", "kind", "severity", "actor", "labels", "time_quality"})
_ISO = np.frombuffer(b"0000-00-00T00:00:00.000000000Z", dtype=np.uint8)
# The ASCII digits of 0..999, three bytes each; two-digit fields use the last two.
_DIGITS = np.array([[48 + i // 100, 48 + i // 10 % 10, 48 + i % 10] for i in range(1000)], np.uint8)


def iso_ns_array(times: pd.Series) -> pa.Array:
    """`timefmt.iso_ns_column` as an Arrow array (NaT null), its digits looked up with numpy:
    Arrow's strftime costs microseconds a row, this tens of nanoseconds."""
    utc = times.dt.tz_convert("UTC").dt.as_unit("ns")
    missing = utc.isna().to_numpy()
    ns = np.where(missing, 0, utc.array.asi8)
    whole, fraction = np.divmod(ns, 1_000_000_000)
    # A timeline has far fewer distinct seconds than rows: date and time once per second.
    codes, uniques = pd.factorize(whole)
    days, seconds = np.divmod(np.asarray(uniques, dtype=np.int64), 86_400)
    year, month, day = civil_from_days(days)
    stamp = np.empty((len(uniques), 19), dtype=np.uint8)
    stamp[:] = _ISO[:19]
    for first, value in (
        (0, year // 100), (2, year % 100), (5, month), (8, day),
        (11, seconds // 3600), (14, seconds // 60 % 60), (17, seconds % 60),
    ):  # fmt: skip
        stamp[:, first : first + 2] = _DIGITS[value, 1:]
    out = np.empty((len(ns), len(_ISO)), dtype=np.uint8)
    out[:, :19] = stamp[codes]
    out[:, 19] = ord(".")
    out[:, 20:23] = _DIGITS[fraction // 1_000_000]
    out[:, 23:26] = _DIGITS[fraction // 1000 % 1000]
    out[:, 26:29] = _DIGITS[fraction % 1000]
    out[:, 29] = ord("Z")
    offsets = np.arange(0, len(_ISO) * (len(ns) + 1), len(_ISO), dtype=np.int64)
    validity = pa.array(~missing).buffers()[1] if missing.any() else None
    return pa.Array.from_buffers(
        pa.large_string(),
        len(ns),
        [validity, pa.py_buffer(offsets), pa.py_buffer(out.reshape(-1))],
        null_count=int(missing.sum()),
    )


def _csv_field(values: pa.Array, few: bool = False) -> pa.Array:
    """``values`` quoted where the csv module quotes them. With ``few`` (a column of few
    distinct values), each distinct value is quoted once."""
    if few:
        coded = pc.dictionary_encode(values)
        return _csv_field(coded.dictionary).take(coded.indices)
    needs = _holding(values, _NEEDS_QUOTES)
    if not needs.any():
        return values
    quoted = pc.binary_join_element_wise(
        pa.scalar('"', pa.large_string()),
        pc.replace_substring(values, '"', '""'),
        pa.scalar('"', pa.large_string()),
        pa.scalar("", pa.large_string()),
    )
    return quoted if needs.all() else pc.if_else(pa.array(needs), quoted, values)


def _holding(values: pa.Array, chars: bytes) -> np.ndarray:
    """Which of the string ``values`` (no nulls) hold one of the ASCII ``chars``: one numpy
    pass over their data (an RE2 match costs a call per row, much more for short fields)."""
    out = np.zeros(len(values), dtype=bool)
    data, starts, lengths = string_parts(values)
    if not lengths.any():
        return out
    first = int(starts[0])
    body = data[first : int(starts[-1] + lengths[-1])]
    hit = body == chars[0]
    for char in chars[1:]:
        hit |= body == char
    # A byte at position p belongs to the last row that starts at or before p.
    out[np.searchsorted(starts, np.flatnonzero(hit) + first, "right") - 1] = True
    return out


def _value_buffer(values: pa.Array) -> pa.Buffer:
    """The concatenated values of a string array: a slice of its data buffer, not a copy."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    values = values.cast(pa.large_string())
    offsets = values.buffers()[1]
    data = values.buffers()[2]
    if offsets is None or data is None:
        return pa.py_buffer(b"")
    bounds = memoryview(offsets).cast("q")
    first, last = bounds[values.offset], bounds[values.offset + len(values)]
    return data.slice(first, last - first)


def text_chunks(
    frame: pd.DataFrame, render: Callable[[pd.DataFrame], str], rows: int = BATCH_ROWS
) -> Iterator[bytes]:
    """``render`` applied to successive slices of ``frame``, encoded as UTF-8."""
    for start in range(0, max(len(frame), 1), rows):
        yield render(frame.iloc[start : start + rows]).encode("utf-8")


def write_chunks(chunks: Iterable[bytes], handle: IO[bytes]) -> None:
    """Write every chunk to a binary ``handle``."""
    for chunk in chunks:
        handle.write(chunk)

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

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from incident_timeline.timeline.schema import COLUMNS, TIME_COLUMNS

BATCH_ROWS = 1 << 16


def _needs_quotes() -> str:
    """The characters that make Python's csv module quote a field, as an RE2 class.

    The delimiter, the quote character and the lineterminator's characters (pandas sets it to
    "\n") always do; whether a lone "\r" does has changed between Python releases, so the
    module itself is asked.
    """
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(["\r", "x"])
    return r'[,"\n\r]' if out.getvalue().startswith('"') else r'[,"\n]'


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
    if not len(frame):
        return b""
    fields = [_csv_field(_column_text(frame, name)) for name in COLUMNS]
    text = pa.large_string()
    lines = pc.binary_join_element_wise(*fields, pa.scalar(",", text))
    joined = pc.binary_join_element_wise(lines, pa.scalar("\n", text), pa.scalar("", text))
    return _value_bytes(joined)


def _column_text(frame: pd.DataFrame, name: str) -> pa.Array:
    """One column as an Arrow string array, missing values empty (pandas' ``na_rep``)."""
    values = pa.array(frame[name], from_pandas=True)
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if name in TIME_COLUMNS:
        # Arrow's %S carries the nanoseconds of a ns timestamp: iso_ns's 9 digits.
        values = pc.strftime(values, format="%Y-%m-%dT%H:%M:%SZ")
    values = values.cast(pa.large_string())
    return pc.fill_null(values, "")


def _csv_field(values: pa.Array) -> pa.Array:
    needs = pc.match_substring_regex(values, _NEEDS_QUOTES)
    if not pc.any(needs).as_py():
        return values
    quoted = pc.binary_join_element_wise(
        pa.scalar('"', pa.large_string()),
        pc.replace_substring(values, '"', '""'),
        pa.scalar('"', pa.large_string()),
        pa.scalar("", pa.large_string()),
    )
    return pc.if_else(needs, quoted, values)


def _value_bytes(values: pa.Array) -> bytes:
    """The concatenated values of a string array without copying them one by one."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    values = values.cast(pa.large_string())
    offsets = values.buffers()[1]
    data = values.buffers()[2]
    if offsets is None or data is None:
        return b""
    bounds = memoryview(offsets).cast("q")
    first, last = bounds[values.offset], bounds[values.offset + len(values)]
    return bytes(memoryview(data)[first:last])


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

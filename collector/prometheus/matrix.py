"""Matrix answers as columns: each series' samples as numpy arrays, the body read once.

A ``query_range`` answer (and a range selector's at an instant) is
``{"status":"success","data":{"resultType":"matrix","result":[{"metric":{...},
"values":[[<unix seconds>,"<value>"],...]},...]}}`` (Prometheus HTTP API, "Range vectors").
Decoding that into Python objects costs a list, a number and a string per sample; a 30-day
answer holds millions. Prometheus writes the samples compactly (``web/api/v1/json_codec.go``:
``[`` time ``,"`` value ``"]`` joined by ``,``, no spaces), so the fast path cuts every
``"values":[...]`` array out of the body, decodes the small rest (status, warnings, labels)
as JSON, and reads the cut samples as two-column CSV with Arrow's C++ parser. ``"values":[``
cannot occur inside a JSON string (its quote after ``values`` would be escaped), and each cut
array is checked to have exactly the shape above (its brackets, commas and quotes, once the
characters of numbers are taken out) before it is read; anything else (another server's
spacing, escapes, a wrong shape) falls back to decoding the whole body as JSON, where
`queryrange.matrix_problem` names the bad field. Both paths give the same columns.
"""

from __future__ import annotations

import dataclasses
import json
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

if TYPE_CHECKING:
    import pandas as pd

_KEY = b'"values":['
_NUMBER = b"0123456789.+-eEINanf"  # what a time or a value may hold: 1.5, -2e-05, NaN, +Inf
_PAIR = b'[,""],'  # a sample without them, and the comma before the next
_LINES = bytes.maketrans(b"]", b"\n")  # with [ and " dropped: a pair is a ",t,v" line
_READ = pacsv.ReadOptions(column_names=["", "t", "v"])
_PARSE = pacsv.ParseOptions(
    quote_char=False, escape_char=False, newlines_in_values=False, ignore_empty_lines=False
)
_CONVERT = pacsv.ConvertOptions(
    column_types={"t": pa.float64(), "v": pa.float64()},
    include_columns=["t", "v"],
    null_values=[],
    strings_can_be_null=False,
    quoted_strings_can_be_null=False,
)


@dataclasses.dataclass(frozen=True)
class Series:
    """One series of a matrix answer: its labels, sample times (int64 unix milliseconds: the
    precision Prometheus stores) and values (float64; NaN and ±Inf as written)."""

    metric: dict[str, str]
    times: np.ndarray
    values: np.ndarray


def parse_body(body: bytes) -> tuple[Any, list[Series] | None]:
    """The envelope and, for a well-formed matrix, its series as columns (the envelope's
    ``values`` arrays are then left empty). ``None`` series: not read here; take the
    envelope (decoded whole, values included) to `series_of` after checking its shape."""
    cut = _cut(body)
    if cut is not None:
        skeleton, spans = cut
        try:
            envelope = json.loads(skeleton)
        except ValueError:
            envelope = None
        found = _fast(envelope, body, spans)
        if found is not None:
            return envelope, found
    try:
        return json.loads(body), None
    except ValueError:
        return None, None


def series_of(envelope: dict[str, Any], *, lenient: bool = False) -> list[Series]:
    """Columns of a decoded matrix whose shape `queryrange.matrix_problem` accepted
    (``lenient``: of any matrix, a value that is not a number becoming NaN)."""
    import pandas as pd

    found = []
    for series in envelope["data"]["result"]:
        values = series["values"]
        if values:
            pairs = np.array(values, dtype=object).reshape(len(values), 2)
            times = _millis(pairs[:, 0].astype(np.float64))
            if lenient:
                numbers = pd.to_numeric(pd.Series(pairs[:, 1]), errors="coerce").to_numpy(
                    dtype=np.float64
                )
            else:
                numbers = pairs[:, 1].astype(np.float64)
        else:
            times, numbers = np.empty(0, np.int64), np.empty(0, np.float64)
        found.append(Series(dict(series.get("metric") or {}), times, numbers))
    return found


def repeat(text: str, count: int) -> pa.Array:
    """``text`` ``count`` times as an Arrow ``large_string`` array (pandas' ``string``
    dtype in Arrow), built from its two buffers."""
    data = text.encode("utf-8")
    offsets = np.arange(count + 1, dtype=np.int64) * len(data)
    buffers = [None, pa.py_buffer(offsets), pa.py_buffer(data * count)]
    return pa.Array.from_buffers(pa.large_string(), count, buffers)


def numbered(prefix: str, first: int, count: int) -> pa.Array:
    """``prefix`` followed by ``first``, ``first + 1``, ... (``count`` large strings)."""
    import pyarrow.compute as pc  # see _digits

    digits = _digits(first + count)[first : first + count]
    # inserting at 0 is several times faster than binary_join_element_wise
    return pc.binary_replace_slice(digits, start=0, stop=0, replacement=prefix)


def arrow(values: np.ndarray, kind: pa.DataType) -> pa.Array:
    """A numpy array of fixed-width values as an Arrow array of ``kind`` with no nulls, as
    ``pa.array`` makes it, but built from its buffer: ``pa.array`` and ``to_numpy`` import
    pandas (to ask whether the object is a pandas one), half a second of every collect."""
    values = np.ascontiguousarray(values)
    return pa.Array.from_buffers(kind, len(values), [None, pa.py_buffer(values)])


def strings(texts: list[str]) -> pa.Array:
    """``texts`` as an Arrow ``large_string`` array, built from its buffers (see `arrow`)."""
    data = [text.encode("utf-8") for text in texts]
    offsets = np.zeros(len(data) + 1, np.int64)
    np.cumsum([len(d) for d in data], out=offsets[1:])
    buffers = [None, pa.py_buffer(offsets), pa.py_buffer(b"".join(data))]
    return pa.Array.from_buffers(pa.large_string(), len(data), buffers)


def numbers(column: pa.ChunkedArray, dtype: type[np.generic]) -> np.ndarray:
    """A fixed-width column without nulls as numpy, as ``to_numpy`` gives it (a read-only
    view of one chunk, a copy of several), read from its buffers (see `arrow`)."""
    if any(c.null_count for c in column.chunks):
        raise ValueError("a column with nulls")  # the CSV read allows none
    parts = [
        np.frombuffer(c.buffers()[1], dtype, len(c), c.offset * np.dtype(dtype).itemsize)
        for c in column.chunks
    ]
    if len(parts) == 1:
        return parts[0]
    return np.concatenate(parts) if parts else np.empty(0, dtype)


_DIGITS: list[pa.Array] = [strings([])]


def _digits(upto: int) -> pa.Array:
    """ "0", "1", ... up to at least ``upto`` (cached: chunks repeat the same offsets)."""
    # pyarrow.compute imported here: a collect of range queries alone needs none of it
    import pyarrow.compute as pc

    if len(_DIGITS[0]) < upto:
        count = np.arange(max(upto, 16_384), dtype=np.int64)
        _DIGITS[0] = pc.cast(arrow(count, pa.int64()), pa.large_string())
    return _DIGITS[0]


def string_series(arrays: list[pa.Array]) -> pd.Series:
    """Arrow string arrays joined as one pandas ``string`` column (Arrow-backed: no Python
    object per row)."""
    import pandas as pd

    joined = pa.chunked_array(arrays, pa.large_string()).combine_chunks()
    return pd.Series(pd.arrays.ArrowStringArray(joined), dtype="string")


def _millis(seconds: np.ndarray) -> np.ndarray:
    # Prometheus timestamps are whole milliseconds; float seconds would land a few ns off
    millis: np.ndarray = np.rint(seconds * 1000).astype(np.int64)
    return millis


def _cut(body: bytes) -> tuple[bytes, list[tuple[int, int]]] | None:
    """The body without its samples, and where each ``values`` array's inside is (``start``,
    ``end``); None if an array does not end where a compact one must."""
    parts, spans, pos = [], [], 0
    while (found := body.find(_KEY, pos)) >= 0:
        start = found + len(_KEY)
        parts.append(body[pos:start])
        end = start if body[start : start + 1] == b"]" else body.find(b"]]", start) + 1
        if end == 0:
            return None
        spans.append((start, end))
        pos = end
    parts.append(body[pos:])
    return b"".join(parts), spans


def _fast(envelope: Any, body: bytes, spans: list[tuple[int, int]]) -> list[Series] | None:
    """Columns for each cut array, if the skeleton is a matrix holding exactly those arrays
    (emptied) and every array has the compact shape."""
    if not isinstance(envelope, dict) or envelope.get("status") != "success":
        return None
    data = envelope.get("data")
    if not isinstance(data, dict) or data.get("resultType") != "matrix":
        return None
    result = data.get("result")
    if not isinstance(result, list):
        return None
    ok = len(result) == len(spans) and all(
        isinstance(s, dict) and s.get("values") == [] and isinstance(s.get("metric", {}), dict)
        for s in result
    )
    if not ok:
        return None
    counts = _pairs(body, spans)
    text = _lines(body, spans) if counts is not None else None
    table = _read(text) if text is not None else None
    if counts is None or table is None or len(table) != sum(counts):
        return None
    seconds = numbers(table.column("t"), np.float64)
    if not np.isfinite(seconds).all():
        return None
    times, values = _millis(seconds), numbers(table.column("v"), np.float64)
    found, at = [], 0
    for series, size in zip(result, counts, strict=True):
        metric = dict(series.get("metric") or {})
        found.append(Series(metric, times[at : at + size], values[at : at + size]))
        at += size
    return found


def _pairs(body: bytes, spans: list[tuple[int, int]]) -> list[int] | None:
    """How many ``[t,"v"]`` pairs each cut array holds, if it is exactly such pairs joined by
    ``,``: without the characters a number may hold (digits, ``.+-eE``, ``NaN``, ``Inf``), it
    must be ``[,""]`` repeated, joined by ``,``. Whether each ``t`` and ``v`` is a number is
    then the CSV read's to say; spaces, escapes, newlines and stray brackets, commas or quotes
    are all left in the shape here."""
    counts = []
    for start, end in spans:
        shape = body[start:end].translate(None, _NUMBER)
        count = (len(shape) + 1) // len(_PAIR)
        if shape != (_PAIR * count)[:-1]:
            return None
        counts.append(count)
    return counts


def _lines(body: bytes, spans: list[tuple[int, int]]) -> bytes:
    """The cut arrays (of `_pairs`' shape) as ``,t,v`` lines: joined by ``,``, with ``]`` a
    newline and ``[`` and ``"`` dropped."""
    view = memoryview(body)
    text = b",".join([b"", *(view[start:end] for start, end in spans if end > start)])
    return text.translate(_LINES, b'["') if len(text) > 1 else b""


def _read(text: bytes) -> pa.Table | None:
    """``,t,v`` lines read by Arrow's CSV parser; None if a line has not three fields, the
    last two numbers."""
    if not text:
        empty = arrow(np.empty(0, np.float64), pa.float64())
        return pa.table({"t": empty, "v": empty})
    try:
        return pacsv.read_csv(
            pa.py_buffer(text), read_options=_READ, parse_options=_PARSE, convert_options=_CONVERT
        )
    except (pa.ArrowInvalid, ValueError):
        return None

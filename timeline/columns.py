"""Pandas column arrays from Arrow arrays and numpy codes, without per-row Python objects.

They return pandas extension arrays (not Series) so a frame is built in one constructor call:
small streams are many, and pandas' per-call overhead is what they cost.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc


def strings(
    values: pa.Array, present: np.ndarray | None = None
) -> pd.api.extensions.ExtensionArray:
    """A pandas ``string`` array over Arrow strings; rows where ``present`` is False are NA."""
    if not pa.types.is_large_string(values.type):
        values = values.cast(pa.large_string())
    if present is not None and not present.all():
        values = pc.if_else(pa.array(present), values, pa.scalar(None, values.type))
    return pd.arrays.ArrowStringArray(pa.chunked_array([values]))


def labels(
    codes: np.ndarray, present: np.ndarray, names: tuple[str, ...]
) -> pd.api.extensions.ExtensionArray:
    """A ``string`` array holding ``names[code]`` per row (NA where not ``present``)."""
    table = pa.array(names, type=pa.large_string())
    return strings(table.take(pa.array(codes, mask=~present)))


def utc_times(ns: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """A datetime64[ns, UTC] array from nanoseconds since 1970 (int64 minimum: NaT)."""
    return pd.DatetimeIndex(ns.view("M8[ns]")).tz_localize("UTC").array


def extract(text: pd.Series, pattern: str) -> pd.DataFrame:
    """The named groups of RE2 ``pattern`` per row, as ``string`` columns aligned with
    ``text`` (NA where the row does not match), found by Arrow in one pass instead of a
    Python ``re`` call per row (pandas' ``str.extract`` does the latter)."""
    values = pa.array(text, type=pa.large_string(), from_pandas=True)
    if len(values) == 0:
        names = re.compile(pattern).groupindex
        return pd.DataFrame({name: pd.Series(dtype="string") for name in names}, index=text.index)
    found = pc.extract_regex(values, pattern)
    matched = pc.is_valid(found)
    columns = {}
    for i in range(found.type.num_fields):
        field = pc.if_else(matched, pc.struct_field(found, [i]), pa.scalar(None, pa.large_string()))
        columns[found.type.field(i).name] = strings(field)
    return pd.DataFrame(columns, index=text.index)


# Python's whitespace (``str.isspace``: what ``\s`` and ``str.strip`` mean on text), spelled out
# for RE2, whose ``\s`` is only ASCII ``[\t\n\f\r ]`` (https://github.com/google/re2/wiki/Syntax).
SPACE_BUT_BLANK = (
    r"\t\n\x0b\x0c\r\x1c-\x1f\x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}"
    r"\x{205f}\x{3000}"
)
SPACE = f"[ {SPACE_BUT_BLANK}]"


def arrow_strings(text: pd.Series | pa.Array) -> pa.Array:
    """A string column as one Arrow ``large_string`` array (no copy for Arrow-backed ones)."""
    column = (
        text if isinstance(text, pa.Array | pa.ChunkedArray) else pa.array(text, from_pandas=True)
    )
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if not pa.types.is_large_string(column.type):
        column = column.cast(pa.large_string())
    return column

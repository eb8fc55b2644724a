"""Building pandas columns from Arrow arrays and numpy codes without per-row Python objects."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from timeline.localtime import NAT


def strings(values: pa.Array, present: np.ndarray | None = None) -> pd.Series:
    """A pandas ``string`` column over Arrow strings; rows where ``present`` is False are NA."""
    if not (pa.types.is_large_string(values.type) or pa.types.is_string(values.type)):
        values = values.cast(pa.large_string())
    if present is not None and not present.all():
        values = pc.if_else(pa.array(present), values, pa.scalar(None, values.type))
    return pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array([values])))


def labels(codes: np.ndarray, present: np.ndarray, names: tuple[str, ...]) -> pd.Series:
    """A ``string`` column holding ``names[code]`` per row (NA where not ``present``)."""
    table = pa.array(names, type=pa.large_string())
    return strings(table.take(pa.array(codes, mask=~present)))


def utc_times(ns: np.ndarray) -> pd.Series:
    """A datetime64[ns, UTC] column from nanoseconds since 1970 (NAT sentinel: NaT)."""
    return pd.Series(pd.DatetimeIndex(ns.view("M8[ns]")).tz_localize("UTC"))


__all__ = ["NAT", "labels", "strings", "utc_times"]

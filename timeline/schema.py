"""The event record: one schema for every source, written as Parquet.

Column names are a public interface (exports, notebooks), so they are defined once, here::

    time           timestamp[ns, UTC]   when it happened (most trustworthy clock of the source)
    source         string               kubernetes, prometheus, alertmanager, pagerduty, file, ...
    stream         string               where inside the source: ns/pod/container, query, file
    kind           string               log, k8s_event, deploy, alert_firing, page_ack, ...
    severity       string               debug | info | warning | error | critical
    actor          string (nullable)    who acted
    summary        string               one line, fit for a timeline table
    message        string               the full original text
    labels         string               JSON object, keys sorted
    time_raw       string               the timestamp exactly as the source wrote it
    time_quality   string               exact | assumed_tz | inferred | corrected
    embedded_time  timestamp (nullable) the emitter's own clock, when the source gives a second one
    ref            string               raw/<path>#L<line> or raw/<path>#<json-pointer>

`make_events` is the one constructor every collector uses; it rejects naive datetimes.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypedDict, get_args

import pyarrow as pa
import pyarrow.parquet as pq

if TYPE_CHECKING:
    import pandas as pd

SCHEMA = pa.schema(
    [
        pa.field("time", pa.timestamp("ns", tz="UTC"), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("stream", pa.string(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("severity", pa.string(), nullable=False),
        pa.field("actor", pa.string()),
        pa.field("summary", pa.string(), nullable=False),
        pa.field("message", pa.string(), nullable=False),
        pa.field("labels", pa.string(), nullable=False),
        pa.field("time_raw", pa.string(), nullable=False),
        pa.field("time_quality", pa.string(), nullable=False),
        pa.field("embedded_time", pa.timestamp("ns", tz="UTC")),
        pa.field("ref", pa.string(), nullable=False),
    ]
)
COLUMNS: tuple[str, ...] = tuple(SCHEMA.names)
TIME_COLUMNS = ("time", "embedded_time")
NULLABLE = ("actor", "embedded_time")
Severity = Literal["debug", "info", "warning", "error", "critical"]
TimeQuality = Literal["exact", "assumed_tz", "inferred", "corrected"]
# The kinds the built-in sources and checks emit. The column is open (a plugin may add kinds,
# and PagerDuty's unknown log entry types become page_<type>), so this types our own code only.
Kind = Literal[
    "log", "k8s_event", "deploy", "metric_threshold", "alert_pending", "alert_firing",
    "alert_resolved", "alert_notify", "silence", "page_trigger", "page_notify", "page_ack",
    "page_unack", "page_escalate", "page_assign", "page_snooze", "page_resolve", "page_event",
    "note", "gap", "clock",
]  # fmt: skip
SEVERITIES: tuple[Severity, ...] = get_args(Severity)
TIME_QUALITIES: tuple[TimeQuality, ...] = get_args(TimeQuality)
KINDS: tuple[Kind, ...] = get_args(Kind)


class EventRow(TypedDict, total=False):
    """One event as a parser of structured exports builds it, before ``rows_to_events``:
    ``time_raw`` (and ``embedded_raw``) are parsed there, ``pointer`` becomes the ``ref``
    (unless the row carries its own ``ref``: records gathered from several raw pages)."""

    time_raw: str | None
    embedded_raw: str | None
    quality: TimeQuality | None
    source: str
    stream: str
    kind: str
    severity: Severity
    actor: str | None
    summary: str
    message: str
    labels: dict[str, Any]
    pointer: str
    ref: str


DEFAULTS: dict[str, Any] = {
    "severity": "info",
    "actor": None,
    "labels": "{}",
    "time_raw": "",
    "time_quality": "exact",
    "embedded_time": None,  # missing (NaT): see _column
    "message": "",
}


def labels_json(labels: Mapping[str, Any] | None) -> str:
    """Serialize labels as a JSON object with sorted keys and string values."""
    if not labels:
        return "{}"
    clean = {str(k): str(v) for k, v in labels.items() if v is not None}
    return json.dumps(clean, sort_keys=True, ensure_ascii=False)


def make_events(**columns: Any) -> pd.DataFrame:
    """Build a validated event frame from columns; scalars are broadcast.

    Every column without a default (time, source, stream, kind, summary, ref) is required.
    ``labels`` may be given as dicts. Example::

        make_events(time=[ts], source="file", stream="app.log", kind="log",
                    summary=["boom"], ref=["raw/file/app.log#L1"])
    """

    unknown = set(columns) - set(COLUMNS)
    if unknown:
        raise ValueError(f"unknown event columns: {sorted(unknown)}")
    lengths = {len(v) for v in columns.values() if _is_column(v)}
    if len(lengths) > 1:
        raise ValueError(f"event columns differ in length: {sorted(lengths)}")
    n = lengths.pop() if lengths else 1
    data: dict[str, Any] = {}
    for name in COLUMNS:
        if name in columns:
            value = columns[name]
        elif name in DEFAULTS:
            value = DEFAULTS[name]
        else:
            raise ValueError(f"event column {name!r} is required")
        data[name] = _column(name, value, n)
    return _validated(data, n)


def _column(name: str, value: Any, n: int) -> pd.Series:
    """One column as a Series of length ``n``; Series and arrays are used as they are (only
    their index is dropped), so big collectors pay no per-row Python cost here."""
    import pandas as pd

    if name == "labels":
        if not _is_column(value):
            value = labels_json(value) if not isinstance(value, str) else value
        elif not (isinstance(value, pd.Series) and pd.api.types.is_string_dtype(value.dtype)):
            value = [labels_json(v) if not isinstance(v, str) else v for v in value]
    if isinstance(value, pd.Series):
        return value  # its values only: the frame is built from the arrays
    if _is_column(value):
        return pd.Series(
            list(value) if isinstance(value, tuple) else value,
            dtype="object" if not hasattr(value, "dtype") else None,
        )
    if name in TIME_COLUMNS and (value is None or value is pd.NaT):
        return pd.Series(pd.NaT, index=range(n), dtype="datetime64[ns, UTC]")
    if isinstance(value, str) or value is None:
        return pd.Series(
            pd.arrays.ArrowStringArray(
                pa.chunked_array([pa.repeat(pa.scalar(value, pa.large_string()), n)])
            )
        )
    return pd.Series([value] * n, dtype="object")


def empty_table(schema: pa.Schema = SCHEMA) -> pa.Table:
    """A table of ``schema`` (the record's by default) with no rows, as ``schema.empty_table()``
    gives it, without the pandas import that pyarrow does there."""
    return pa.Table.from_batches([], schema=schema)


def empty_events() -> pd.DataFrame:
    """An event frame with no rows and the right dtypes."""

    return validate(SCHEMA.empty_table().to_pandas())


@functools.cache
def _dtypes() -> tuple[Any, Any]:
    """The record's pandas dtypes of times and strings (built once, when a frame is)."""
    import pandas as pd

    return pd.DatetimeTZDtype("ns", "UTC"), pd.StringDtype()


def validate(frame: pd.DataFrame) -> pd.DataFrame:
    """Return ``frame`` with the record's columns and dtypes, or raise ValueError/TypeError."""
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"event frame lacks columns {missing}")
    return _validated({name: frame[name] for name in COLUMNS}, len(frame))


def _validated(series: dict[str, pd.Series], n: int) -> pd.DataFrame:
    """The event frame of one Series per column (each of length ``n``), validated."""
    import pandas as pd

    columns = _columns(series, COLUMNS)
    out = pd.DataFrame(columns, index=pd.RangeIndex(n), copy=False)  # one constructor call
    _check_values(columns, "severity", SEVERITIES)
    _check_values(columns, "time_quality", TIME_QUALITIES)
    return out


def validate_columns(frame: pd.DataFrame, names: Sequence[str]) -> pd.DataFrame:
    """``frame``'s columns ``names`` (some of the record's) in the record's dtypes, as
    `validate` gives them: for readers that need only a few columns of many rows."""
    import pandas as pd

    columns = _columns({name: frame[name] for name in names}, names)
    return pd.DataFrame(columns, index=pd.RangeIndex(len(frame)), copy=False)


def _columns(series: Mapping[str, pd.Series], names: Sequence[str]) -> dict[str, Any]:
    columns: dict[str, Any] = {}
    for name in names:
        col = series[name]
        # Columns already in the record's dtype are only copied (Arrow strings: a new handle
        # on the same immutable data; times: one memcpy), not converted, and the frame is
        # built from the arrays themselves (no index to align): a collector that reads many
        # small files pays pandas' per-call cost here for every one of them. A copy, as the
        # result must not share a writable array with the caller's frame.
        if col.dtype == _dtypes()[0 if name in TIME_COLUMNS else 1]:
            values = col.array.copy()
        elif name in TIME_COLUMNS:
            values = _utc_column(col, name).array.copy()
        else:
            values = col.astype("string").array
        if name not in NULLABLE and values.isna().any():
            raise ValueError(f"event column {name!r} has missing values")
        columns[name] = values
    return columns


def to_table(frame: pd.DataFrame) -> pa.Table:
    """Convert a validated event frame to an Arrow table with the exact schema."""
    if _validated_dtypes(frame):  # what make_events returns: checked by Arrow, not again
        # The columns' own Arrow data (no pandas metadata, no copy of the frame first).
        return check_table(pa.Table.from_pydict({c: frame[c].array for c in COLUMNS}))
    return pa.Table.from_pandas(validate(frame), schema=SCHEMA, preserve_index=False)


def _validated_dtypes(frame: pd.DataFrame) -> bool:
    import pandas as pd

    if any(c not in frame.columns for c in COLUMNS):
        return False
    dtypes = frame.dtypes  # one call, not a column lookup per name
    return all(
        dtypes[c] == _dtypes()[0] if c in TIME_COLUMNS else isinstance(dtypes[c], pd.StringDtype)
        for c in COLUMNS
    )


def check_table(table: pa.Table) -> pa.Table:
    """``table`` in the exact record schema (cast where the types only differ in width, e.g.
    large_string), or ValueError/TypeError as ``validate`` would raise."""
    missing = [c for c in COLUMNS if c not in table.column_names]
    if missing:
        raise ValueError(f"event table lacks columns {missing}")
    table = table.select(list(COLUMNS))
    if not table.schema.equals(SCHEMA):
        table = table.cast(SCHEMA)  # pyarrow checks non-nullable fields too
    for name in COLUMNS:
        if name not in NULLABLE and table[name].null_count:
            raise ValueError(f"event column {name!r} has missing values")
    if not len(table):
        return table  # no values to check
    # imported here: a collect of samples alone needs no pyarrow.compute (25 ms of its start)
    import pyarrow.compute as pc

    for name, allowed in (("severity", SEVERITIES), ("time_quality", TIME_QUALITIES)):
        seen = pc.unique(table[name]).to_pylist()
        bad = sorted(set(seen) - set(allowed))
        if bad:
            raise ValueError(f"event column {name!r} has values {bad}; allowed: {list(allowed)}")
    return table


def write_parquet(frame: pd.DataFrame, path: Path) -> None:
    """Write events as Parquet (the caller is responsible for atomicity)."""
    pq.write_table(to_table(frame), path)


def read_parquet(path: Path) -> pd.DataFrame:
    """Read an events Parquet file back into a validated frame."""
    return validate(pq.read_table(path, schema=SCHEMA).to_pandas())


def _is_column(value: Any) -> bool:
    import pandas as pd

    return isinstance(value, (list, tuple, pd.Series, pd.Index)) or (
        hasattr(value, "__len__") and hasattr(value, "dtype")
    )


def _utc_column(col: pd.Series, name: str) -> pd.Series:
    import pandas as pd

    if isinstance(col.dtype, pd.DatetimeTZDtype):
        series = col
    else:
        values = [v for v in col if not pd.isna(v)]
        if any(getattr(v, "tzinfo", None) is None for v in values):
            raise TypeError(f"event column {name!r} holds naive or non-datetime values")
        series = pd.to_datetime(col, utc=True)
    if str(series.dt.tz) != "UTC":
        series = series.dt.tz_convert("UTC")
    return series.dt.as_unit("ns")


def _check_values(columns: dict[str, Any], name: str, allowed: tuple[str, ...]) -> None:
    # The (few) distinct values first, then without NA: dropna on the whole column costs more.
    bad = sorted(set(columns[name].unique().dropna()) - set(allowed))
    if bad:
        raise ValueError(f"event column {name!r} has values {bad}; allowed: {list(allowed)}")

"""A range query read chunk by chunk, in memory that does not grow with the samples: each
answer is stored, stitched onto what came before (`chunks.Stitcher`), written to
``metrics/<name>.parquet`` as one row group, and its threshold crossings become events,
before the next answer is read. Only what needs whole series is kept: ``ALERTS`` series
(their transitions, `queryrange.alert_event_rows`) and, for a built-in with a finder, its
samples.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from datetime import datetime
from importlib.metadata import version
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from incident_timeline.collector.bundle import SourceWriter
from incident_timeline.collector.prometheus.api import PromAPIError
from incident_timeline.collector.prometheus.chunks import Piece, Stitched, Stitcher
from incident_timeline.collector.prometheus.fetch import Call, receive, samples_of
from incident_timeline.collector.prometheus.matrix import arrow, strings
from incident_timeline.collector.prometheus.queryrange import (
    crossing_labels,
    crossing_summary,
    crossing_who,
    series_key,
)
from incident_timeline.timeline import schema
from incident_timeline.timeline.metrics import crossing_positions, parse_threshold

if TYPE_CHECKING:
    import pandas as pd

# The metrics Parquet's schema as pandas reads it back (times in UTC, strings as its
# ``string`` dtype), with the metadata ``pa.Schema.from_pandas`` gives an empty frame of those
# dtypes, written out here so collecting needs no pandas (tests/collector check it is equal).
_FIELDS = (
    ("time", pa.timestamp("ns", tz="UTC"), "datetimetz", "datetime64[ns]"),
    ("series", pa.large_string(), "object", "string"),
    ("labels", pa.large_string(), "object", "string"),
    ("value", pa.float64(), "float64", "float64"),
    ("ref", pa.large_string(), "object", "string"),
    ("sample", pa.int64(), "int64", "int64"),
)


def _pandas_metadata() -> bytes:
    columns = [
        {
            "name": name,
            "field_name": name,
            "pandas_type": kind,
            "numpy_type": numpy,
            "metadata": {"timezone": "UTC"} if kind == "datetimetz" else None,
        }
        for name, _, kind, numpy in _FIELDS
    ]
    meta = {
        "index_columns": [],
        "column_indexes": [],
        "columns": columns,
        "attributes": {},
        "creator": {"library": "pyarrow", "version": pa.__version__},
        "pandas_version": version("pandas"),
    }
    return json.dumps(meta).encode()


METRICS_SCHEMA = pa.schema(
    [pa.field(name, kind) for name, kind, _, _ in _FIELDS], metadata={"pandas": _pandas_metadata()}
)
# A sample's raw evidence is ``ref`` (the ``values`` array of its series in the raw answer,
# ``raw/...json#/data/result/i/values``) and ``sample``, its position in that array: the JSON
# pointer ``ref + "/" + sample``. One string per sample cost more than the rest of the write
# (3.46 M samples: 0.28 s of 0.35 s, and as much again to build them). Written with the
# string columns as dictionaries (once per series and row group, not once per sample) and read
# back as METRICS_SCHEMA's strings; min/max statistics of them would be work thrown away. The
# times (a step apart, mostly) and sample positions (consecutive) are delta-encoded: on
# 216,000 samples at 15 s, 5 kB of times written in 1.7 ms instead of 1.5 MB in 4.6 ms.
_DICTIONARY = ("series", "labels", "ref")
_STRINGS = pa.dictionary(pa.int32(), pa.large_string())
WRITE_SCHEMA = pa.schema(
    [pa.field(f.name, _STRINGS) if f.name in _DICTIONARY else f for f in METRICS_SCHEMA]
)
WRITE_OPTIONS: dict[str, Any] = {
    "use_dictionary": list(_DICTIONARY),
    "write_statistics": ["time", "value"],
    "column_encoding": {"time": "DELTA_BINARY_PACKED", "sample": "DELTA_BINARY_PACKED"},
}


@dataclasses.dataclass
class Streamed:
    """What a streamed range query gave: counts, the error that stopped it, the server's
    warnings, the crossing rows, and the samples kept whole (see the module docstring)."""

    series: int = 0
    samples: int = 0
    error: PromAPIError | None = None
    warnings: list[str] = dataclasses.field(default_factory=list)
    kept: pd.DataFrame | None = None


class Crossings:
    """Threshold crossings of many series read in pieces (`timeline.metrics.crossing_positions`
    with each series' state carried over), as events sorted by time, then series: the
    ``metric_threshold`` events of `queryrange.crossing_row`, built a column at a time (a
    noisy series crosses tens of thousands of times)."""

    def __init__(self, threshold: str, label: str, stream: str) -> None:
        self.op, self.value = parse_threshold(threshold)
        self.label = label
        self.stream = stream
        self.before: dict[str, bool | None] = {}

    def events(self, pieces: Sequence[Piece]) -> pd.DataFrame:
        """Events for the crossings in ``pieces`` (one chunk's, in any series order)."""
        import pandas as pd

        found = []
        for number, piece in enumerate(pieces):
            positions, above, after = crossing_positions(
                piece.values, self.op, self.value, self.before.get(piece.key)
            )
            self.before[piece.key] = after
            found.append(
                (np.full(len(positions), number), positions, above, piece.times[positions])
            )
        which = np.concatenate([f[0] for f in found]) if found else np.zeros(0, np.int64)
        if not len(which):
            return schema.empty_events()
        at, up, millis = (np.concatenate([f[k] for f in found]) for k in (1, 2, 3))
        keys = np.array([series_key(p.metric) for p in pieces], dtype=object)
        rank = np.argsort(np.argsort(keys, kind="stable"), kind="stable")
        order = np.lexsort((rank[which], millis))
        which, at, up, millis = which[order], at[order], up[order].astype(bool), millis[order]
        values = [float(pieces[w].values[a]) for w, a in zip(which, at, strict=True)]
        limit = (self.op, self.value)
        who = [crossing_who(p.metric) for p in pieces]
        states = ("below", "above")
        labels = [
            [schema.labels_json(crossing_labels(p.metric, limit, state)) for state in states]
            for p in pieces
        ]
        summary = [
            crossing_summary(value, states[u], who[w], limit, self.label)
            for w, u, value in zip(which, up.tolist(), values, strict=True)
        ]
        stamps = pd.to_datetime(millis, unit="ms", utc=True).as_unit("ns")
        return schema.make_events(
            time=stamps,
            source="prometheus",
            stream=self.stream,
            kind="metric_threshold",
            severity=np.where(up, "warning", "info"),
            summary=summary,
            message=summary,
            labels=[labels[w][u] for w, u in zip(which, up.tolist(), strict=True)],
            time_raw=_iso_z(millis),
            time_quality="exact",
            ref=[
                f"{pieces[w].ref}#/data/result/{pieces[w].index}/values/{pieces[w].offset + a}"
                for w, a in zip(which, at, strict=True)
            ],
        )


def _iso_z(millis: np.ndarray) -> np.ndarray:
    """`timefmt.iso_z` of each time in ms: whole seconds bare, others with microseconds."""
    stamps = millis.astype("datetime64[ms]")
    whole = np.char.add(np.datetime_as_string(stamps, unit="s"), "Z")
    fine = np.char.add(np.datetime_as_string(stamps, unit="us"), "Z")
    return np.where(millis % 1000 == 0, whole, fine)


def stream_range(
    out: SourceWriter,
    name: str,
    folder: str,
    calls: Sequence[Call],
    window: tuple[datetime, datetime],
    *,
    threshold: str | None,
    label: str,
    on_events: Callable[[pd.DataFrame], None],
    keep_all: bool = False,
    concurrent: int = 1,
) -> Streamed:
    """Fetch, store and read every chunk of one range query (the module docstring);
    crossing events go to ``on_events`` chunk by chunk."""
    stitcher = Stitcher(*window)
    crossings = Crossings(threshold, label, name) if threshold is not None else None
    errors: list[PromAPIError] = []
    kept: dict[str, list[Piece]] = {}
    done = Streamed()
    with out.metrics_writer(name, WRITE_SCHEMA, read_as=METRICS_SCHEMA, **WRITE_OPTIONS) as write:
        for chunk in receive(out, folder, calls, errors, concurrent):
            pieces = stitcher.add(chunk)
            write(metrics_table(pieces))
            done.samples += sum(len(p.times) for p in pieces)
            if crossings is not None:
                on_events(crossings.events(pieces))
            for piece in pieces:
                if keep_all or piece.metric.get("__name__") == "ALERTS":
                    kept.setdefault(piece.key, []).append(piece)
    done.series, done.warnings = len(stitcher.metrics), stitcher.warnings
    done.error = errors[0] if errors else None
    if kept:
        order = sorted(kept)
        done.kept = samples_of([kept[k][0].metric for k in order], [kept[k] for k in order])
    return done


def write_samples(out: SourceWriter, name: str, results: Sequence[Stitched]) -> None:
    """Merged raw samples (`chunks.stitch`) to ``metrics/<name>.parquet`` in the columns a
    range query's samples have, a row group per result."""
    with out.metrics_writer(name, WRITE_SCHEMA, read_as=METRICS_SCHEMA, **WRITE_OPTIONS) as write:
        for result in results:
            write(metrics_table([piece for pieces in result.pieces for piece in pieces]))


def metrics_table(pieces: Sequence[Piece]) -> pa.Table:
    """One chunk's new samples as rows of ``metrics/<name>.parquet`` (`WRITE_SCHEMA`)."""
    if not pieces:
        return schema.empty_table(WRITE_SCHEMA)
    times = np.concatenate([p.times for p in pieces]) * 1_000_000
    which = np.repeat(np.arange(len(pieces), dtype=np.int32), [len(p.times) for p in pieces])
    # built from buffers (matrix.arrow): pa.array would import pandas
    index = arrow(which, pa.int32())
    keys = strings([series_key(p.metric) for p in pieces])
    texts = strings([json.dumps(p.metric, sort_keys=True) for p in pieces])
    refs = strings([p.values_ref for p in pieces])
    positions = np.concatenate([np.arange(len(p.times)) + p.offset for p in pieces])
    return pa.table(
        {
            "time": arrow(times, pa.timestamp("ns", tz="UTC")),
            "series": pa.DictionaryArray.from_arrays(index, keys),
            "labels": pa.DictionaryArray.from_arrays(index, texts),
            "value": arrow(np.concatenate([p.values for p in pieces]), pa.float64()),
            "ref": pa.DictionaryArray.from_arrays(index, refs),
            "sample": arrow(positions.astype(np.int64), pa.int64()),
        },
        schema=WRITE_SCHEMA,
    )

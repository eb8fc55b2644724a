"""Read a bundle's events for the integrity checks in bounded memory, a row group at a time.

`scan_events` gives what `timeline.trust.checks.check_digested` takes: the events that are
not log lines, merged and de-duplicated as `load` would, in full; and the log lines as
batches of whole streams, only the columns the checks read (`LOG_COLUMNS`), each stream's
rows in timeline order, handed out as soon as the row group holding a stream's last line is
read. Three passes over the files:

1. time, source, kind and stream of every row: which rows may be duplicates (they share
   time, source and kind with another, what `merge.deduplicate` compares first) and in which
   row group each log stream ends;
2. every column of the rows that are not log lines or may be duplicates: merged on the
   timeline's key (with each row's position in its file, as a full load orders them) and
   de-duplicated, which also says which log lines are dropped;
3. the log lines' `LOG_COLUMNS`, row group by row group, held per stream until it ends.

Memory is bounded by a few integers per row, the rows read in full and the longest a stream
stays unfinished (streams the writer interleaved across a whole file are held until its end).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from incident_timeline.collector.errors import BundleError
from incident_timeline.timeline.merge import duplicate_rows, merged_order, take_merged
from incident_timeline.timeline.runs import in_order
from incident_timeline.timeline.schema import COLUMNS, SCHEMA, empty_events, validate
from incident_timeline.timeline.schema import validate_columns as typed
from incident_timeline.timeline.trust.digest import LOG_COLUMNS

_KEYS = ("time", "source", "kind", "stream")
_ORDER = ("stream", "time", "source", "_row", "ref", "_file")  # timeline order per stream


def events_paths(bundle: Path, manifest: dict[str, Any]) -> list[Path]:
    """The bundle's events Parquet files, in the order `read_events` reads them."""
    files = sorted(manifest.get("files") or {})
    return [bundle / r for r in files if r.startswith("events/") and r.endswith(".parquet")]


def scan_events(paths: Sequence[Path]) -> tuple[pd.DataFrame, Iterator[pd.DataFrame]]:
    """The events of ``paths`` that are not log lines (merged, de-duplicated) and the log
    lines' batches of whole streams (see the module docstring). Raises BundleError."""
    others, batches, _ = scan_dropping(paths)
    return others, batches


def scan_dropping(
    paths: Sequence[Path],
) -> tuple[pd.DataFrame, Iterator[pd.DataFrame], list[np.ndarray]]:
    """`scan_events`, and per file the positions (sorted) of the rows de-duplication drops,
    of every kind."""
    try:
        files = [pq.ParquetFile(p) for p in paths]
        maybe, last = _plan(files)
        others, dropped, gone = _others(paths, files, maybe)
    except (OSError, pa.ArrowException, ValueError) as exc:
        raise BundleError(f"cannot read events: {exc}") from exc
    return others, _log_batches(files, dropped, last), gone


def _plan(files: Sequence[pq.ParquetFile]) -> tuple[list[np.ndarray], dict[str, tuple[int, int]]]:
    """Per file, the positions of the rows to read in full; per log stream, the file and row
    group of its last line."""
    times, codes, logs = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)], [np.ones(0, bool)]
    pairs: dict[str, int] = {}  # source and kind -> a number
    last: dict[str, tuple[int, int]] = {}
    for f, parquet in enumerate(files):
        for g in range(parquet.num_row_groups):
            table = _cast(parquet.read_row_group(g, columns=list(_KEYS))).combine_chunks()
            times.append(table["time"].cast(pa.int64()).to_numpy())
            pair = pc.binary_join_element_wise(table["source"], table["kind"], "\x1f")
            coded = pc.dictionary_encode(pair.combine_chunks())
            mapping = [pairs.setdefault(v, len(pairs)) for v in coded.dictionary.to_pylist()]
            codes.append(np.asarray(mapping, dtype=np.int64)[coded.indices.to_numpy()])
            log = pc.equal(table["kind"], "log")
            logs.append(log.to_numpy(zero_copy_only=False))
            for stream in pc.unique(table["stream"].filter(log)).to_pylist():
                last[stream] = (f, g)
    full = ~np.concatenate(logs) | _shared(np.concatenate(times), np.concatenate(codes))
    ends = np.cumsum([p.metadata.num_rows for p in files])
    return [np.flatnonzero(part) for part in np.split(full, ends[:-1])], last


def _shared(times: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Rows whose (time, code) another row has too: ``duplicated(keep=False)``."""
    order = np.lexsort((codes, times))
    same = (np.diff(times[order]) == 0) & (np.diff(codes[order]) == 0)
    hit = np.zeros(len(order), dtype=bool)
    hit[1:] |= same
    hit[:-1] |= same
    out = np.empty(len(order), dtype=bool)
    out[order] = hit
    return out


def _others(
    paths: Sequence[Path], files: Sequence[pq.ParquetFile], maybe: Sequence[np.ndarray]
) -> tuple[pd.DataFrame, list[np.ndarray], list[np.ndarray]]:
    """The rows read in full that are not log lines, merged and de-duplicated; and per file
    the positions of the log lines de-duplication drops, and of all the rows it drops."""
    if not files:
        return empty_events(), [], []
    parts = [
        validate(_rows_of(path, list(COLUMNS), rows).to_pandas())
        for path, rows in zip(paths, maybe, strict=True)
    ]
    order = merged_order(parts, maybe)
    merged = take_merged(parts, order)
    drop = duplicate_rows(merged)
    log = (merged["kind"] == "log").to_numpy(dtype=bool)
    where = np.concatenate([np.full(len(r), f) for f, r in enumerate(maybe)])[order]
    rows = np.concatenate(maybe)[order]
    gone = drop & log
    dropped = [np.sort(rows[gone & (where == f)]) for f in range(len(files))]
    every = [np.sort(rows[drop & (where == f)]) for f in range(len(files))]
    return merged.loc[~drop & ~log].reset_index(drop=True), dropped, every


def _log_batches(
    files: Sequence[pq.ParquetFile], dropped: Sequence[np.ndarray], last: dict[str, tuple[int, int]]
) -> Iterator[pd.DataFrame]:
    pending: dict[str, list[pa.Table]] = {}
    try:
        for f, parquet in enumerate(files):
            start = 0
            for g in range(parquet.num_row_groups):
                table = _cast(parquet.read_row_group(g, columns=list(LOG_COLUMNS)))
                keep = pc.equal(table["kind"], "log").to_numpy(zero_copy_only=False)
                lo, hi = np.searchsorted(dropped[f], [start, start + len(table)])
                keep[dropped[f][lo:hi] - start] = False
                rows = np.flatnonzero(keep)
                if len(rows) < len(table):  # most row groups are all log lines: no copy
                    table = table.take(pa.array(rows))
                table = table.append_column("_row", pa.array(rows + start))
                table = table.append_column("_file", pa.array(np.full(len(rows), f)))
                for stream, piece in _by_stream(table):
                    pending.setdefault(stream, []).append(piece)
                done = [s for s in pending if last[s] == (f, g)]
                if done:
                    yield _batch([p for s in done for p in pending.pop(s)])
                start += parquet.metadata.row_group(g).num_rows
    except (OSError, pa.ArrowException, ValueError) as exc:
        raise BundleError(f"cannot read events: {exc}") from exc


def _by_stream(table: pa.Table) -> Iterator[tuple[str, pa.Table]]:
    """``table``'s rows by stream (sorted), each stream's in their order."""
    if pc.count_distinct(table["stream"], mode="all").as_py() == 1:  # one stream: nothing to sort
        yield table["stream"][0].as_py(), table
        return
    table = table.take(pc.sort_indices(table, sort_keys=[("stream", "ascending")]))
    start = 0
    for item in pc.value_counts(table["stream"]):
        size = item["counts"].as_py()
        yield item["values"].as_py(), table.slice(start, size)
        start += size


def _batch(pieces: list[pa.Table]) -> pd.DataFrame:
    """Whole streams' log lines, by stream, each in timeline order, as the checks read them."""
    table = pa.concat_tables(pieces)
    # The pieces are mostly in order already (a collector writes a stream's lines in time
    # order, and the streams end in name order): no neighbours tie on the first four keys
    # then, and a sort on all six (a total key: rows are unique on _file, _row) keeps them.
    if not in_order(table, _ORDER[:4], strict=True):
        table = table.take(pc.sort_indices(table, sort_keys=[(k, "ascending") for k in _ORDER]))
    return typed(table.select(list(LOG_COLUMNS)).to_pandas(), LOG_COLUMNS)


def _cast(table: pa.Table) -> pa.Table:
    return table.cast(pa.schema([SCHEMA.field(c) for c in table.column_names]))


def _rows_of(path: Path, columns: list[str], rows: np.ndarray) -> pa.Table:
    """``columns`` of the file at positions ``rows`` (ascending), a row group at a time."""
    parquet = pq.ParquetFile(path)
    parts, start = [], 0
    for group in range(parquet.metadata.num_row_groups):
        size = parquet.metadata.row_group(group).num_rows
        lo, hi = np.searchsorted(rows, [start, start + size])
        if hi > lo:
            chunk = parquet.read_row_group(group, columns=columns)
            parts.append(chunk.take(pa.array(rows[lo:hi] - start)))
        start += size
    schema = pa.schema([SCHEMA.field(c) for c in columns])
    return pa.concat_tables([p.cast(schema) for p in parts]) if parts else schema.empty_table()

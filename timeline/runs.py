"""The events of many Parquet files in timeline order, a batch at a time, in bounded memory.

`merge.merge_events` sorts every row at once. `sorted_batches` gives the same order from files
too big for that: a k-way merge of sorted runs. Each row group is read once, sorted if it is
not in order already, and written to a run (Arrow IPC in a temporary directory); row groups of
one file that follow each other in order share a run (a collector writes a stream's lines in
time order). The merge then holds one batch of each run.

The order is `merge.SORT_KEY` with each row's position in its file as ``_row``, then the file
(ties that survive the key keep the order of the inputs, as `merge_events` keeps it)::

    time, source, stream, _row, ref, _file

Rows are unique on (``_file``, ``_row``), so the key is total.
"""

from __future__ import annotations

import tempfile
from bisect import bisect_right
from collections.abc import Callable, Generator, Iterator, Sequence
from functools import partial
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from incident_timeline.timeline.schema import COLUMNS, SCHEMA

KEY: tuple[str, ...] = ("time", "source", "stream", "_row", "ref", "_file")
BATCH_ROWS = 1 << 12  # per run held by the merge: 32 runs of 4 k log lines hold ~60 MB
OUT_ROWS = 1 << 14  # rows of each table given: the CSV of two is made at once (stream_chunks)
Key = tuple[int, str, str, int, str, int]
Visit = Callable[[pa.Table], None]


def sorted_batches(
    files: Sequence[pq.ParquetFile],
    dropped: Sequence[np.ndarray],
    visit: Visit | None = None,
) -> Generator[pa.Table, None, None]:
    """The rows of ``files`` but those at positions ``dropped[f]`` (sorted, per file), in
    timeline order, as tables of the record's columns with ``_row`` and ``_file``.

    Every row group is read once, handed to ``visit`` (in file order, before the first table
    is given) and written, sorted, to a run in a temporary directory (Arrow IPC, LZ4): Parquet
    decodes a whole row group at a time, so runs read back from Parquet would hold one each.
    """
    with tempfile.TemporaryDirectory(prefix="incident-runs-") as tmp:
        runs = write_runs(files, dropped, Path(tmp), visit)
        yield from _merge([_read(run) for run in runs])


def write_runs(
    files: Sequence[pq.ParquetFile],
    dropped: Sequence[np.ndarray],
    directory: Path,
    visit: Visit | None = None,
) -> list[Path]:
    """Write the rows of ``files`` as sorted runs into ``directory``; their paths. Row groups
    of one file already in order and following each other in key order share a run."""
    runs: list[Path] = []
    writer: pa.ipc.RecordBatchFileWriter | None = None
    last: Key | None = None
    options = pa.ipc.IpcWriteOptions(compression="lz4")
    try:
        for f, parquet in enumerate(files):
            start, last = 0, None
            for g in range(parquet.num_row_groups):
                table = _with_position(parquet.read_row_group(g, columns=list(COLUMNS)), f, start)
                start += len(table)
                table = _without(table, dropped[f] if f < len(dropped) else None)
                if visit is not None:
                    visit(table)
                if not len(table):
                    continue
                ordered = _in_order(table)
                if not ordered:
                    table = table.take(
                        pc.sort_indices(table, sort_keys=[(k, "ascending") for k in KEY])
                    )
                first = key_at(table, 0)
                if writer is None or not ordered or last is None or not first > last:
                    if writer is not None:
                        writer.close()
                    runs.append(directory / f"run-{len(runs)}.arrow")
                    writer = pa.ipc.new_file(str(runs[-1]), table.schema, options=options)
                writer.write_table(table, max_chunksize=BATCH_ROWS)
                last = key_at(table, len(table) - 1) if ordered else None
    finally:
        if writer is not None:
            writer.close()
    return runs


def _without(table: pa.Table, dropped: np.ndarray | None) -> pa.Table:
    if dropped is None or not len(dropped):
        return table
    keep = ~np.isin(table["_row"].to_numpy(), dropped)
    return table if keep.all() else table.filter(pa.array(keep))


def _merge(readers: list[Iterator[pa.Table]]) -> Iterator[pa.Table]:
    """Tables of about `OUT_ROWS` rows in key order from readers of sorted tables: at each step
    every row up to the least of the readers' last keys (none unread can be smaller)."""
    heads = [_Head(reader) for reader in readers]
    heads = [h for h in heads if h.table is not None]
    out: list[pa.Table] = []
    size = 0
    while heads:
        bound = min(h.last() for h in heads)
        pieces = [p for p in (h.take_upto(bound) for h in heads) if p is not None]
        table = pa.concat_tables(pieces) if len(pieces) > 1 else pieces[0]
        if len(pieces) > 1:
            table = table.take(_order(table))
        out.append(table)
        size += len(table)
        if size >= OUT_ROWS:
            yield pa.concat_tables(out)
            out, size = [], 0
        heads = [h for h in heads if h.table is not None]
    if out:
        yield pa.concat_tables(out)


def _order(table: pa.Table) -> np.ndarray | pa.Array:
    """The indices that sort ``table`` (sorted pieces laid end to end) on `KEY`. Where no two
    rows share a time, the time alone decides: numpy's stable sort (timsort, which merges the
    sorted pieces as runs) on it, cheaper than Arrow's sort on every key."""
    times = table["time"].cast(pa.int64()).to_numpy()
    order = np.argsort(times, kind="stable")
    if (np.diff(times[order]) > 0).all():
        return order
    return pc.sort_indices(table, sort_keys=[(k, "ascending") for k in KEY])


class _Head:
    """The unread part of a reader's current table, with its times as numpy for the search."""

    def __init__(self, reader: Iterator[pa.Table]) -> None:
        self.reader = reader
        self.table: pa.Table | None = None
        self.times = np.zeros(0, np.int64)
        self._last: Key = (0, "", "", 0, "", 0)
        self._next()

    def _next(self) -> None:
        self.table = next(self.reader, None)
        if self.table is not None:
            self.table = self.table.combine_chunks()
            self.times = self.table["time"].cast(pa.int64()).to_numpy()
            self._last = key_at(self.table, len(self.table) - 1)

    def last(self) -> Key:
        """The key of the table's last row (slicing the front leaves it)."""
        return self._last

    def take_upto(self, bound: Key) -> pa.Table | None:
        """Remove and return the rows with a key <= ``bound`` (None: none)."""
        assert self.table is not None
        lo = int(np.searchsorted(self.times, bound[0], "left"))
        hi = int(np.searchsorted(self.times, bound[0], "right"))
        at = partial(key_at, self.table)  # ties on time: the whole key decides
        lo = bisect_right(range(len(self.table)), bound, lo, hi, key=at)
        if not lo:
            return None
        piece = self.table.slice(0, lo)
        if lo == len(self.table):
            self._next()
        else:
            self.table, self.times = self.table.slice(lo), self.times[lo:]
        return piece


def key_at(table: pa.Table, i: int) -> Key:
    """The merge key of row ``i`` of ``table`` (time in ns since the epoch)."""
    t = table["time"][i]
    return (
        int(t.value),
        table["source"][i].as_py(),
        table["stream"][i].as_py(),
        table["_row"][i].as_py(),
        table["ref"][i].as_py() if "ref" in table.column_names else "",
        table["_file"][i].as_py(),
    )


def _in_order(keys: pa.Table) -> bool:
    """Are the rows of one row group in timeline order? (``_row`` rises, so ties on time,
    source and stream are in order, and ``ref`` never decides.)"""
    return in_order(keys, ("time", "source", "stream"))


def in_order(table: pa.Table, keys: Sequence[str], strict: bool = False) -> bool:
    """Are the rows of ``table`` in ascending order of ``keys`` (strings by code point, as
    Arrow's and pandas' sorts order them)? With ``strict``, no two neighbours tie on every
    key, so a sort on ``keys`` and any further ones leaves the rows as they are; without,
    rows that tie on every key count as in order (a stable sort keeps them). A key with
    nulls gives False (the caller sorts)."""
    pairs = np.arange(max(len(table) - 1, 0))  # neighbours (i, i + 1) tied on the keys so far
    for name in keys:
        if not len(pairs):
            return True
        column = table[name]
        if column.null_count:
            return False
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            whole = len(pairs) == len(table) - 1
            head = column.slice(0, len(pairs)) if whole else column.take(pa.array(pairs))
            tail = column.slice(1) if whole else column.take(pa.array(pairs + 1))
            less = pc.less(head, tail).to_numpy(zero_copy_only=False)
            equal = pc.equal(head, tail).to_numpy(zero_copy_only=False)
        else:
            values = column.cast(pa.int64()).to_numpy()
            less, equal = values[pairs] < values[pairs + 1], values[pairs] == values[pairs + 1]
        if not (less | equal).all():
            return False
        pairs = pairs[equal]
    return not (strict and len(pairs))


def _with_position(table: pa.Table, file: int, start: int) -> pa.Table:
    table = table.cast(pa.schema([SCHEMA.field(c) for c in table.column_names]))
    table = table.append_column("_row", pa.array(np.arange(start, start + len(table))))
    return table.append_column("_file", pa.array(np.full(len(table), file, dtype=np.int64)))


def _read(path: Path) -> Iterator[pa.Table]:
    """A run's tables in order; read from the file (not mapped: a map's pages would stay in
    the process's resident memory)."""
    with pa.OSFile(str(path), "rb") as source:
        reader = pa.ipc.open_file(source)
        for i in range(reader.num_record_batches):
            yield pa.Table.from_batches([reader.get_batch(i)])

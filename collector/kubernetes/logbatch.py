"""Stored container logs parsed back from their gzip files, a piece at a time, in batches
parsed on worker threads while the next batch is read and the last one's events are written.

A parse has a fixed cost that hundreds of short container logs would otherwise pay one by
one (5.5 µs a line in pieces of 256 KiB, 2.5 µs at 2 MiB), and above a few MiB its memory
grows for little gain (2.3 µs at 4 and 8 MiB; at 4 MiB bench/k8s_bench.py's peak rose 50 MB
for 3 % less CPU): logs are joined into batches of ``BATCH_BYTES``. The
timestamp engine's plan always ends with every family, so one log's formats never hide
another's. Each log's events keep their own stream, labels and ``ref`` line. At most
``depth`` batches wait for the parser, so memory stays a few batches whatever the volume.
"""

from __future__ import annotations

import dataclasses
import json
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Executor, Future
from datetime import datetime
from pathlib import Path
from typing import IO, cast

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from isal import igzip

from incident_timeline.collector.files.pieces import pieces
from incident_timeline.collector.formats import Context
from incident_timeline.collector.kubernetes.formats import kubectl_log_events
from incident_timeline.collector.kubernetes.pods import LogPlan
from incident_timeline.timeline import schema

BATCH_BYTES = 2 << 20  # bytes of log text per parse (about 17,000 lines of 120 bytes)
Parsed = tuple[pa.Table, np.ndarray]  # events, and each one's line number in the batch
Result = tuple[pa.Table, int]  # a log's events in the window, and its lines outside it


@dataclasses.dataclass(frozen=True)
class Piece:
    """Whole lines of one stored log (a piece of it), and the line they start at in the file."""

    plan: LogPlan
    rel: str
    data: bytes
    lines: int
    offset: int


class _Nowhere:
    """`pieces` hands every block read to a sink (for a raw copy); the stored log is the copy."""

    def write(self, data: bytes) -> None:
        pass


class Batch:
    """Stored logs queued for parsing; ``add`` and ``flush`` yield, in the order the logs were
    added, (events in the window, lines outside it) per log. With a ``parser`` (an executor;
    ``depth`` batches may wait, one per worker) parsing overlaps reading and writing; without,
    it happens in ``add``."""

    def __init__(
        self,
        since: datetime,
        until: datetime,
        limit: int = BATCH_BYTES,
        parser: Executor | None = None,
        depth: int = 1,
    ) -> None:
        self.since, self.until, self.limit = since, until, limit
        self.parser, self.depth = parser, depth
        self.pieces: list[Piece] = []
        self.size = 0
        self.pending: deque[Future[list[Result]]] = deque()

    def add(self, path: Path, rel: str, plan: LogPlan) -> Iterator[Result]:
        """Queue a stored log; yields what parsed batches gave."""
        # ISA-L's gzip reader (igzip has no type hints): twice zlib's speed, the same bytes.
        with igzip.open(path, "rb") as handle:  # type: ignore[no-untyped-call]
            stored = cast(IO[bytes], handle)  # a GzipFile reads like any binary file
            for first, data in pieces(stored, _Nowhere(), size=self.limit):
                data = data if data.endswith(b"\n") else data + b"\n"
                piece = Piece(plan, rel, data, data.count(b"\n"), first - 1)
                if self.pieces and self.size + len(data) > self.limit:
                    self._submit()
                    yield from self._results(keep=self.depth)
                self.pieces.append(piece)
                self.size += len(data)

    def flush(self) -> Iterator[Result]:
        """Parse what is queued and yield every result left."""
        self._submit()
        yield from self._results(keep=0)

    def _submit(self) -> None:
        if not self.pieces:
            return
        batch, self.pieces, self.size = self.pieces, [], 0
        if self.parser is None:
            done: Future[list[Result]] = Future()
            done.set_result(parse_pieces(batch, self.since, self.until))
            self.pending.append(done)
        else:
            self.pending.append(self.parser.submit(parse_pieces, batch, self.since, self.until))

    def _results(self, keep: int) -> Iterator[Result]:
        """Results of the oldest batches until at most ``keep`` wait (in order)."""
        while len(self.pending) > keep:
            yield from self.pending.popleft().result()


def parse_pieces(batch: list[Piece], since: datetime, until: datetime) -> list[Result]:
    """Parse a batch of pieces at once (on a worker: everything per piece happens there too);
    per piece, its events in the window (and those without a time) and how many were not."""
    data = batch[0].data if len(batch) == 1 else b"".join(p.data for p in batch)
    table, number = parse_batch(data, since, until)
    start, stop = pa.scalar(pd.Timestamp(since)), pa.scalar(pd.Timestamp(until))
    starts = np.cumsum([0] + [p.lines for p in batch])
    # Lines keep their order through the parser: each piece's rows are one slice.
    bounds = np.searchsorted(number - 1, starts, side="left")
    out = []
    for i, piece in enumerate(batch):
        lo, hi = int(bounds[i]), int(bounds[i + 1])
        rows = _relabel(table.slice(lo, hi - lo), piece, number[lo:hi] - starts[i])
        stamped = pc.not_equal(rows["time_quality"], "inferred")
        inside = pc.and_(pc.greater_equal(rows["time"], start), pc.less(rows["time"], stop))
        keep = pc.or_(pc.invert(stamped), inside)
        # Mostly every line is kept (the log was asked from the window's start and cut at
        # its end): then no filter copies the table.
        kept = rows if pc.all(keep, skip_nulls=False).as_py() else rows.filter(keep)
        out.append((kept, len(rows) - len(kept)))
    return out


def parse_batch(data: bytes, since: datetime, until: datetime) -> Parsed:
    """Parse joined log text; its events as Arrow, and each one's line number in ``data``."""
    ctx = Context(
        ref="batch",
        stream="",
        fallback_time=pd.Timestamp(since),
        window_end=pd.Timestamp(until),
    )
    events, number = kubectl_log_events(data, ctx, refs=False)
    return schema.to_table(events), number


def _relabel(events: pa.Table, piece: Piece, lines: np.ndarray) -> pa.Table:
    """The log's stream, labels (keeping the parser's flags) and refs to its own file."""
    labels = {k: v for k, v in piece.plan.labels().items() if v is not None}
    column = events["labels"].combine_chunks()
    encoded = pc.dictionary_encode(column)
    merged = [
        schema.labels_json({**json.loads(v), **labels}) for v in encoded.dictionary.to_pylist()
    ]
    new_labels = pa.array(merged, pa.string()).take(encoded.indices)
    n = len(events)
    ref = pa.scalar(f"raw/kubernetes/{piece.rel}#L", pa.string())
    numbers = pc.cast(pa.array(lines + piece.offset, pa.int64()), pa.string())
    refs = pc.binary_join_element_wise(ref, numbers, "")
    stream = pa.repeat(pa.scalar(piece.plan.stream, pa.string()), n)
    for name, values in (("labels", new_labels), ("ref", refs), ("stream", stream)):
        index = events.schema.get_field_index(name)
        events = events.set_column(index, events.schema.field(index), values)
    return events

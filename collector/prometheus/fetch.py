"""Fetch one expression over the window in chunks, store every answer as received, and turn
the stitched result into events and tidy samples whose ``ref`` points into those raw files.

Chunks are fetched ahead, at most ``concurrent_requests`` (the ``[prometheus]`` key, 2 by
default) in flight at once: while one answer is read, the next ones are with the server.
Prometheus runs up to ``--query.max-concurrency`` queries at once (20 by default) and queues
the rest, so two from us are a light load; 1 makes the requests strictly one after another.
Answers are read in request order. An error stops the fetch at the chunk that failed; the
requests already in flight are awaited (their answers stored as received) and not read.
"""

from __future__ import annotations

import collections
import contextvars
import dataclasses
import functools
import itertools
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from incident_timeline.collector.bundle import SourceWriter
from incident_timeline.collector.errors import TooLargeError
from incident_timeline.collector.prometheus.api import PromAPIError, PrometheusAPI, Reply
from incident_timeline.collector.prometheus.chunks import (
    Chunk,
    Piece,
    Stitched,
    range_chunks,
    raw_chunks,
    stitch,
)
from incident_timeline.collector.prometheus.matrix import series_of
from incident_timeline.collector.prometheus.queryrange import matrix_problem, tidy_samples
from incident_timeline.timeline import schema

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

SOURCE = "prometheus"
Call = Callable[[], Reply]


@dataclasses.dataclass
class Fetched:
    """A stitched result, and the error that stopped the fetch early, if any."""

    stitched: Stitched
    error: PromAPIError | None

    @property
    def warnings(self) -> list[str]:
        """Warnings the server attached to any chunk, once each."""
        return list(self.stitched.warnings)

    @property
    def empty(self) -> bool:
        """Whether no series came back."""
        return self.stitched.empty


def range_calls(
    api: PrometheusAPI, expr: str, since: datetime, until: datetime, step: int, max_points: int
) -> list[Call]:
    """The ``query_range`` requests covering ``[since, until)`` at ``step`` s."""
    plan = range_chunks(since, until, step, max_points)
    return [functools.partial(api.query_range, expr, s, e, step) for s, e in plan]


def fetch_raw(
    api: PrometheusAPI,
    out: SourceWriter,
    *,
    selector: str,
    folder: str,
    since: datetime,
    until: datetime,
    span: timedelta,
    concurrent: int = 1,
) -> Fetched:
    """Samples as stored of ``selector`` in ``[since, until)``, one raw file per chunk."""
    plan = raw_chunks(since, until, span)
    calls: list[Call] = [functools.partial(api.raw_samples, selector, at, r) for at, r in plan]
    return fetch_all(out, folder, since, until, calls, concurrent)


def fetch_all(
    out: SourceWriter,
    folder: str,
    since: datetime,
    until: datetime,
    calls: list[Call],
    concurrent: int = 1,
) -> Fetched:
    """Every chunk stitched into one result."""
    errors: list[PromAPIError] = []
    stitched = stitch(receive(out, folder, calls, errors, concurrent), since, until)
    return Fetched(stitched, errors[0] if errors else None)


def receive(
    out: SourceWriter,
    folder: str,
    calls: Sequence[Call],
    errors: list[PromAPIError],
    concurrent: int = 1,
) -> Iterator[Chunk]:
    """Each answer stored as received (``folder/NNN.json``) and checked, in order, with up to
    ``concurrent`` requests in flight (and stored) meanwhile; the first error is appended to
    ``errors`` and ends the chunks."""
    if not calls:
        return
    plan = iter(enumerate(calls))
    with ThreadPoolExecutor(max_workers=concurrent, thread_name_prefix="prometheus-fetch") as pool:
        pending: collections.deque[Future[tuple[Reply, str]]] = collections.deque()

        def send(count: int) -> None:
            for index, call in itertools.islice(plan, count):
                pending.append(_submit(pool, out, f"{folder}/{index:03d}.json", call))

        send(concurrent)
        while pending:
            try:
                reply, ref = pending.popleft().result()
            except TooLargeError as exc:
                errors.append(PromAPIError("too large", str(exc), 200))
                return
            send(1)
            try:
                envelope = reply.check()
                problem = matrix_problem(envelope)
                if problem:
                    text = f"{reply.endpoint}: {problem[0]} (at {problem[1]})"
                    raise PromAPIError("wrong shape", text, reply.status)
            except PromAPIError as exc:
                errors.append(exc)
                return
            yield Chunk(ref, envelope, reply.series or series_of(envelope))


def _submit(
    pool: ThreadPoolExecutor, out: SourceWriter, relpath: str, call: Call
) -> Future[tuple[Reply, str]]:
    """Send ``call`` and store its answer in the pool's thread, under the source's context
    (its writer: deadline, secrets, counts)."""

    def fetch() -> tuple[Reply, str]:
        reply = call()
        return reply, out.write_raw(relpath, reply.body)

    return pool.submit(contextvars.copy_context().run, fetch)


def samples_of(
    metrics: Sequence[Mapping[str, str]], pieces: Sequence[Sequence[Piece]]
) -> pd.DataFrame:
    """Tidy samples (``time, series, labels, value, pointer``) of merged series, ``pointer``
    holding each sample's raw ref (``raw/...json#/data/result/i/values/j``)."""
    return tidy_samples(
        (dict(metric), part.times, part.values, part.refs())
        for metric, parts in zip(metrics, pieces, strict=True)
        for part in parts
    )


def to_events(
    rows: Sequence[Mapping[str, Any]], stitched: Stitched | None, stream: str
) -> pd.DataFrame | pa.Table:
    """Event rows (``time_raw``, ``kind``, ``summary``, ``pointer``, ``labels``, ...) of one
    result as validated events of source ``prometheus``. ``pointer`` is into the stitched
    document, or (``stitched`` None) already the raw ref."""
    if not rows:  # an Arrow table, which the writer takes as it is: no pandas for nothing
        return schema.empty_table()
    # formats brings pandas and the timestamp engine: only for a result with events
    from incident_timeline.collector.formats import Context, row, rows_to_events

    ctx = Context(ref="", stream=stream)
    full = [row(ctx, **{"source": SOURCE, **r}) for r in rows]
    events = rows_to_events(full, ctx)
    pointers = [str(r["pointer"]) for r in rows]
    events["ref"] = pointers if stitched is None else [stitched.ref(p) for p in pointers]
    return schema.validate(events)

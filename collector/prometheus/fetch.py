"""Fetch one expression over the window in chunks, store every answer as received, and turn
the stitched result into events and tidy samples whose ``ref`` points into those raw files.

Chunks are fetched one ahead: while one answer is stored and read, the next request is
already with the server (one in flight at a time, so a server is never asked for more than
a single client's sequential load, plus the one request in hand). An error stops the fetch
at the chunk that failed; the request already in flight is awaited, and its answer dropped.
"""

from __future__ import annotations

import contextvars
import dataclasses
import functools
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from incident_timeline.collector.bundle import SourceWriter
from incident_timeline.collector.errors import TooLargeError
from incident_timeline.collector.formats import Context, row, rows_to_events
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
) -> Fetched:
    """Samples as stored of ``selector`` in ``[since, until)``, one raw file per chunk."""
    plan = raw_chunks(since, until, span)
    calls: list[Call] = [functools.partial(api.raw_samples, selector, at, r) for at, r in plan]
    return fetch_all(out, folder, since, until, calls)


def fetch_all(
    out: SourceWriter, folder: str, since: datetime, until: datetime, calls: list[Call]
) -> Fetched:
    """Every chunk stitched into one result."""
    errors: list[PromAPIError] = []
    stitched = stitch(receive(out, folder, calls, errors), since, until)
    return Fetched(stitched, errors[0] if errors else None)


def receive(
    out: SourceWriter, folder: str, calls: Sequence[Call], errors: list[PromAPIError]
) -> Iterator[Chunk]:
    """Each answer stored as received (``folder/NNN.json``) and checked, in order, with the
    next request in flight (and stored) meanwhile; the first error is appended to ``errors``
    and ends the chunks."""
    if not calls:
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="prometheus-fetch") as pool:
        pending = _submit(pool, out, f"{folder}/000.json", calls[0])
        for index in range(len(calls)):
            try:
                reply, ref = pending.result()
            except TooLargeError as exc:
                errors.append(PromAPIError("too large", str(exc), 200))
                return
            if index + 1 < len(calls):
                pending = _submit(pool, out, f"{folder}/{index + 1:03d}.json", calls[index + 1])
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
) -> pd.DataFrame:
    """Event rows (``time_raw``, ``kind``, ``summary``, ``pointer``, ``labels``, ...) of one
    result as validated events of source ``prometheus``. ``pointer`` is into the stitched
    document, or (``stitched`` None) already the raw ref."""
    if not rows:
        return schema.empty_events()
    ctx = Context(ref="", stream=stream)
    full = [row(ctx, **{"source": SOURCE, **r}) for r in rows]
    events = rows_to_events(full, ctx)
    pointers = [str(r["pointer"]) for r in rows]
    events["ref"] = pointers if stitched is None else [stitched.ref(p) for p in pointers]
    return schema.validate(events)


def samples_frame(samples: pd.DataFrame) -> pd.DataFrame:
    """Tidy samples for metrics/<name>.parquet from `samples_of`: time, series, labels,
    value, ref."""
    return samples.rename(columns={"pointer": "ref"}).reset_index(drop=True)

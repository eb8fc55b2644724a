"""Fetch one expression over the window in chunks, store every answer as received, and turn
the stitched result into events and tidy samples whose ``ref`` points into those raw files."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from incident_timeline.collector.bundle import SourceWriter
from incident_timeline.collector.errors import TooLargeError
from incident_timeline.collector.formats import Context, row, rows_to_events
from incident_timeline.collector.prometheus.api import PromAPIError, PrometheusAPI, Reply
from incident_timeline.collector.prometheus.chunks import (
    Chunk,
    Stitched,
    range_chunks,
    raw_chunks,
    stitch,
)
from incident_timeline.collector.prometheus.queryrange import matrix_problem
from incident_timeline.timeline import schema

SOURCE = "prometheus"


@dataclasses.dataclass
class Fetched:
    """A stitched result, and the error that stopped the fetch early, if any."""

    stitched: Stitched
    error: PromAPIError | None

    @property
    def warnings(self) -> list[str]:
        """Warnings the server attached to any chunk, once each."""
        return list(self.stitched.document.get("warnings") or [])

    @property
    def empty(self) -> bool:
        """Whether no series came back."""
        return not self.stitched.document["data"]["result"]


def fetch_range(
    api: PrometheusAPI,
    out: SourceWriter,
    *,
    expr: str,
    folder: str,
    since: datetime,
    until: datetime,
    step: int,
    max_points: int,
) -> Fetched:
    """``query_range`` over ``[since, until)`` at ``step`` s, one raw file per chunk."""
    plan = range_chunks(since, until, step, max_points)
    return _fetch(
        out,
        folder,
        since,
        until,
        [lambda s=s, e=e: api.query_range(expr, s, e, step) for s, e in plan],
    )


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
    return _fetch(
        out,
        folder,
        since,
        until,
        [lambda at=at, r=r: api.raw_samples(selector, at, r) for at, r in plan],
    )


def _fetch(
    out: SourceWriter, folder: str, since: datetime, until: datetime, calls: list[Any]
) -> Fetched:
    chunks: list[Chunk] = []
    for index, call in enumerate(calls):
        try:
            reply: Reply = call()
        except TooLargeError as exc:
            return Fetched(stitch(chunks, since, until), PromAPIError("too large", str(exc), 200))
        ref = out.write_raw(f"{folder}/{index:03d}.json", reply.body)
        try:
            envelope = reply.check()
            problem = matrix_problem(envelope)
            if problem:
                text = f"{reply.endpoint}: {problem[0]} (at {problem[1]})"
                raise PromAPIError("wrong shape", text, reply.status)
        except PromAPIError as exc:
            return Fetched(stitch(chunks, since, until), exc)
        chunks.append(Chunk(ref, envelope))
    return Fetched(stitch(chunks, since, until), None)


def to_events(rows: Sequence[Mapping[str, Any]], stitched: Stitched, stream: str) -> pd.DataFrame:
    """Event rows (``time_raw``, ``kind``, ``summary``, ``pointer``, ``labels``, ...) of one
    stitched result as validated events of source ``prometheus``."""
    if not rows:
        return schema.empty_events()
    ctx = Context(ref="", stream=stream)
    full = [row(ctx, **{"source": SOURCE, **r}) for r in rows]
    events = rows_to_events(full, ctx)
    events["ref"] = [stitched.ref(str(r["pointer"])) for r in rows]
    return schema.validate(events)


def samples_frame(samples: pd.DataFrame, stitched: Stitched) -> pd.DataFrame:
    """Tidy samples for metrics/<name>.parquet: time, series, labels, value, ref."""
    frame = samples.drop(columns=["pointer"]).copy()
    frame["ref"] = samples["pointer"].map(stitched.ref).astype("string")
    return frame.reset_index(drop=True)

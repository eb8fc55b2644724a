"""Container logs for the window: streamed to ``raw/kubernetes/logs/...`` gzipped as they
arrive, then parsed from the stored file in chunks.

The request asks for ``timestamps=true`` and ``sinceTime`` = the window's start. The API has no
end bound (kubectl has no ``--until-time``; the kubelet only filters on the start,
``kubernetes/kubernetes:pkg/kubelet/kuberuntime/logs/logs.go``), so reading stops at the first
line whose runtime stamp is at or past the window's end. ``sinceTime`` travels with seconds
precision (client-go's ``metav1.Time`` query encoding), so it is the start rounded down and
lines before the start are dropped when parsing. The kubelet's prefix is
``RFC3339NanoFixed`` in UTC (``pkg/kubelet/types/constants.go``): fixed width, so comparing
the first 30 bytes of a line with the window's end in the same form compares the times.

``limitBytes`` caps each log; a log that hit it is reported (the manifest names it).
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import zlib
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, cast

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from incident_timeline.collector.bundlefiles import RawWriter, atomic_open
from incident_timeline.collector.errors import SourceError
from incident_timeline.collector.files.pieces import pieces
from incident_timeline.collector.formats import Context
from incident_timeline.collector.kubernetes.client import KubeAPI
from incident_timeline.collector.kubernetes.formats import parse_kubectl_logs
from incident_timeline.collector.kubernetes.pods import LogPlan
from incident_timeline.collector.secrets import Masker
from incident_timeline.timeline import schema

STAMP = 30  # len("2006-01-02T15:04:05.000000000Z")
GZIP_LEVEL = 1
BATCH_BYTES = 4 << 20  # bytes of log text per parse (about 35,000 lines of 120 bytes)


@dataclasses.dataclass
class Fetched:
    """What one log request gave: where it is stored, how much, and how it ended."""

    plan: LogPlan
    rel: str | None = None
    bytes: int = 0
    stopped_at_end: bool = False
    capped: bool = False
    error: SourceError | None = None
    cut: SourceError | None = None  # the stream ended early: what came before it is stored
    masked: int = 0
    sha256: str | None = None
    size: int | None = None


def fixed(when: datetime) -> bytes:
    """``when`` as the kubelet's RFC3339NanoFixed prefix (UTC)."""
    utc = when.astimezone(UTC)
    return (utc.strftime("%Y-%m-%dT%H:%M:%S") + f".{utc.microsecond:06d}000Z").encode()


def since_time(when: datetime) -> str:
    """The ``sinceTime`` query value: RFC 3339, rounded down to the second."""
    return when.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def _past(line: bytes, end: bytes) -> bool:
    """Whether a complete line's runtime stamp is at or past ``end``."""
    stamp = line[:STAMP]
    if len(stamp) == STAMP and stamp[-1:] == b"Z" and stamp[4:5] == b"-":
        return stamp >= end
    try:  # a stamp in another form (a runtime writing an offset): parse it
        return fixed(datetime.fromisoformat(line.split(b" ", 1)[0].decode())) >= end
    except (ValueError, UnicodeDecodeError):
        return False  # no stamp: keep it (a limitBytes cut, a continuation)


def until_end(blocks: Iterable[bytes], end: bytes) -> Iterator[tuple[bytes, bool]]:
    """The stream's bytes up to the first line at or past ``end``; with True when it stopped
    there (the rest is never read)."""
    carry = b""
    for block in blocks:
        data = carry + block
        cut = data.rfind(b"\n") + 1
        complete, carry = data[:cut], data[cut:]
        if not complete:
            continue
        last_start = complete.rfind(b"\n", 0, len(complete) - 1) + 1
        if not _past(complete[last_start:], end):
            yield complete, False
            continue
        at = 0
        while at < len(complete):
            nl = complete.index(b"\n", at) + 1
            if _past(complete[at:nl], end):
                yield complete[:at], True
                return
            at = nl
    if carry:
        yield carry, _past(carry, end)


def fetch(
    api: KubeAPI,
    bundle_dir: Path,
    rel: str,
    plan: LogPlan,
    since: datetime,
    until: datetime,
    limit_bytes: int,
    on_bytes: Callable[[int], None] = lambda n: None,
    masker: Masker | None = None,
) -> Fetched:
    """Stream one log into ``bundle_dir/rel`` (gzip, secrets masked, hashed as written),
    stopping at the window's end."""
    query = [("container", plan.container), ("timestamps", "true")]
    query += [("sinceTime", since_time(since)), ("limitBytes", str(limit_bytes))]
    if plan.previous:
        query.append(("previous", "true"))
    path = f"/api/v1/namespaces/{plan.namespace}/pods/{plan.pod}/log"
    result = Fetched(plan)
    end = fixed(until)
    try:
        with api.stream(path, query) as blocks, atomic_open(bundle_dir / rel) as handle:
            raw = RawWriter(handle)
            # gzip at level 1: about 250 MB/s here against 90 MB/s at the default 6, for
            # files 10 % larger (bench/k8s_bench.py); wbits 31 writes the gzip header with
            # mtime 0, so the same stream gives the same bytes.
            gz = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31)
            stream: Iterable[bytes] = _counting(blocks, result, on_bytes)
            if masker:
                masked = [0]
                stream = masker.stream(stream, masked)
            for data, stopped in until_end(stream, end):
                raw.write(gz.compress(data))
                result.stopped_at_end = stopped
            raw.write(gz.flush())
            result.cut = blocks.cut  # the deadline, or the stream broke off: kept what came
            if masker:
                result.masked = masked[0]
        result.rel, result.sha256, result.size = rel, raw.digest.hexdigest(), raw.size
    except SourceError as exc:  # an error Status, the deadline, an unreachable server
        result.error = exc
    result.capped = result.bytes >= limit_bytes and not result.stopped_at_end and not result.cut
    return result


def _counting(
    blocks: Iterable[bytes], result: Fetched, on_bytes: Callable[[int], None]
) -> Iterator[bytes]:
    for block in blocks:
        result.bytes += len(block)
        on_bytes(len(block))
        yield block


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
    """Stored logs parsed together, up to ``limit`` bytes per parse: a parse has a fixed cost
    (about 0.05 s here) that hundreds of short container logs would otherwise pay one by one,
    and above a few MiB its memory grows with no gain in speed (4-5 µs a line either way). A
    stored log is read back a piece at a time (`collector.files.pieces`), never whole. The
    timestamp engine's plan always ends with every family, so one log's formats never hide
    another's. Each log's events keep their own stream, labels and ``ref`` line."""

    def __init__(self, since: datetime, until: datetime, limit: int = BATCH_BYTES) -> None:
        self.since, self.until, self.limit = since, until, limit
        self.pieces: list[Piece] = []
        self.size = 0

    def add(self, path: Path, rel: str, plan: LogPlan) -> Iterator[tuple[pa.Table, int]]:
        """Queue a stored log; yields (events, lines outside the window) of full batches."""
        with gzip.open(path, "rb") as handle:
            stored = cast(IO[bytes], handle)  # a GzipFile reads like any binary file
            for first, data in pieces(stored, _Nowhere(), size=self.limit):
                data = data if data.endswith(b"\n") else data + b"\n"
                piece = Piece(plan, rel, data, data.count(b"\n"), first - 1)
                if self.pieces and self.size + len(data) > self.limit:
                    yield from self.flush()
                self.pieces.append(piece)
                self.size += len(data)

    def flush(self) -> Iterator[tuple[pa.Table, int]]:
        """Parse what is queued; per log: its events in the window and the count outside."""
        if not self.pieces:
            return
        pieces_, self.pieces, self.size = self.pieces, [], 0
        ctx = Context(
            ref="batch",
            stream="",
            fallback_time=pd.Timestamp(self.since),
            window_end=pd.Timestamp(self.until),
        )
        data = pieces_[0].data if len(pieces_) == 1 else b"".join(p.data for p in pieces_)
        events = parse_kubectl_logs(data, ctx).events
        del data
        table = pa.Table.from_pandas(events[list(schema.COLUMNS)], preserve_index=False)
        del events
        # "batch#L<n>": the number of the line in the joined text, read back by Arrow
        number = pc.cast(pc.utf8_slice_codeunits(table["ref"], len("batch#L")), pa.int64())
        number = number.to_numpy()
        starts = np.cumsum([0] + [p.lines for p in pieces_])
        # Lines keep their order through the parser: each piece's rows are one slice.
        bounds = np.searchsorted(number - 1, starts, side="left")
        start, stop = pa.scalar(pd.Timestamp(self.since)), pa.scalar(pd.Timestamp(self.until))
        for i, piece in enumerate(pieces_):
            lo, hi = int(bounds[i]), int(bounds[i + 1])
            rows = _relabel(table.slice(lo, hi - lo), piece, number[lo:hi] - starts[i])
            stamped = pc.not_equal(rows["time_quality"], "inferred")
            inside = pc.and_(pc.greater_equal(rows["time"], start), pc.less(rows["time"], stop))
            keep = pc.or_(pc.invert(stamped), inside)
            kept = rows.filter(keep)
            yield kept, len(rows) - len(kept)


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
        events = events.set_column(events.schema.get_field_index(name), name, values)
    return events

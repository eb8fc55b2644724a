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
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from incident_timeline.collector.bundlefiles import atomic_open
from incident_timeline.collector.formats import Context
from incident_timeline.collector.kubernetes.client import KubeAPI, KubeAPIError
from incident_timeline.collector.kubernetes.formats import parse_kubectl_logs
from incident_timeline.collector.kubernetes.pods import LogPlan
from incident_timeline.timeline import schema

STAMP = 30  # len("2006-01-02T15:04:05.000000000Z")
CHUNK_LINES = 100_000


@dataclasses.dataclass
class Fetched:
    """What one log request gave: where it is stored, how much, and how it ended."""

    plan: LogPlan
    rel: str | None = None
    bytes: int = 0
    stopped_at_end: bool = False
    capped: bool = False
    error: KubeAPIError | None = None


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
) -> Fetched:
    """Stream one log into ``bundle_dir/rel`` (gzip), stopping at the window's end."""
    query = [("container", plan.container), ("timestamps", "true")]
    query += [("sinceTime", since_time(since)), ("limitBytes", str(limit_bytes))]
    if plan.previous:
        query.append(("previous", "true"))
    path = f"/api/v1/namespaces/{plan.namespace}/pods/{plan.pod}/log"
    result = Fetched(plan)
    end = fixed(until)
    try:
        with (
            api.stream(path, query) as blocks,
            atomic_open(bundle_dir / rel) as handle,
            gzip.GzipFile(fileobj=handle, mode="wb", compresslevel=1, mtime=0) as gz,
        ):
            counted = _counting(blocks, result, on_bytes)
            for data, stopped in until_end(counted, end):
                gz.write(data)
                result.stopped_at_end = stopped
        result.rel = rel
    except KubeAPIError as exc:
        result.error = exc
    result.capped = result.bytes >= limit_bytes and not result.stopped_at_end
    return result


def _counting(
    blocks: Iterator[bytes], result: Fetched, on_bytes: Callable[[int], None]
) -> Iterator[bytes]:
    for block in blocks:
        result.bytes += len(block)
        on_bytes(len(block))
        yield block


@dataclasses.dataclass(frozen=True)
class Piece:
    """Up to CHUNK_LINES lines of one stored log, and the line they start at in the file."""

    plan: LogPlan
    rel: str
    data: bytes
    lines: int
    offset: int


class Batch:
    """Stored logs parsed together, up to ``limit`` lines per parse: a parse has a fixed cost
    (about 0.1 s here) that hundreds of short container logs would otherwise pay one by one.
    The timestamp engine's plan always ends with every family, so one log's formats never
    hide another's. Each log's events keep their own stream, labels and ``ref`` line."""

    def __init__(self, since: datetime, until: datetime, limit: int = CHUNK_LINES) -> None:
        self.since, self.until, self.limit = since, until, limit
        self.pieces: list[Piece] = []
        self.lines = 0

    def add(self, path: Path, rel: str, plan: LogPlan) -> Iterator[tuple[pd.DataFrame, int]]:
        """Queue a stored log; yields (events, lines outside the window) of full batches."""
        with gzip.open(path, "rb") as handle:
            offset = 0
            while lines := handle.readlines(self.limit * 200):
                data = b"".join(lines)
                piece = Piece(plan, rel, data if data.endswith(b"\n") else data + b"\n",
                              len(lines), offset)  # fmt: skip
                offset += len(lines)
                if self.pieces and self.lines + piece.lines > self.limit:
                    yield from self.flush()
                self.pieces.append(piece)
                self.lines += piece.lines

    def flush(self) -> Iterator[tuple[pd.DataFrame, int]]:
        """Parse what is queued; per log: its events in the window and the count outside."""
        if not self.pieces:
            return
        pieces, self.pieces, self.lines = self.pieces, [], 0
        ctx = Context(
            ref="batch",
            stream="",
            fallback_time=pd.Timestamp(self.since),
            window_end=pd.Timestamp(self.until),
        )
        text = b"".join(p.data for p in pieces).decode("utf-8", "replace")
        events = parse_kubectl_logs(text, ctx).events
        number = events["ref"].str.rsplit("#L", n=1).str[1].astype("int64").to_numpy()
        starts = np.cumsum([0] + [p.lines for p in pieces])
        which = np.searchsorted(starts, number - 1, side="right") - 1
        start, stop = pd.Timestamp(self.since), pd.Timestamp(self.until)
        for i, piece in enumerate(pieces):
            rows = events.loc[which == i].reset_index(drop=True)
            local = number[which == i] - starts[i] + piece.offset
            rows = _relabel(rows, piece, local)
            stamped = rows["time_quality"] != "inferred"
            keep = ~stamped | ((rows["time"] >= start) & (rows["time"] < stop))
            yield rows.loc[keep.to_numpy()].reset_index(drop=True), int((~keep).sum())


def _relabel(events: pd.DataFrame, piece: Piece, lines: np.ndarray) -> pd.DataFrame:
    """The log's stream, labels (keeping the parser's flags) and refs to its own file."""
    labels = {k: v for k, v in piece.plan.labels().items() if v is not None}
    out = events.copy()
    mapping = {v: schema.labels_json({**json.loads(v), **labels}) for v in out["labels"].unique()}
    out["labels"] = out["labels"].map(mapping).astype("string")
    out["stream"] = piece.plan.stream
    ref = f"raw/kubernetes/{piece.rel}#L"
    out["ref"] = pd.Series(lines, dtype="int64").astype(str).radd(ref).astype("string")
    return out

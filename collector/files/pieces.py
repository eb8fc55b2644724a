"""Big files read a piece at a time: whole lines, about PIECE bytes each.

A piece ends at a line end, and where the format says (``Format.cut``) so that no record spans
two pieces (a container runtime's partial lines stay with the line they continue). The bytes
are handed to ``raw`` exactly as read, so the raw copy and its sha256 are made on the way.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import IO, Any, Protocol, TypeVar

import pandas as pd

# 6 MiB: about 52,000 lines of 120 bytes, one CHUNK of the time engine (65,536 lines: a piece
# just over it pays the engine's fixed costs twice); peak memory grows ~25x a piece.
PIECE = 6 << 20
# Pieces parsed at once: two where the process may run on two CPUs. Arrow's kernels, numpy and
# the Parquet writer release the GIL; on an idle 2-core machine two workers collected 1 M
# kubectl-logs lines in 2.66 s against 4.24 s (CRI 3.11 s against 4.75 s) at ~110 MB more peak
# memory (449 MB), though on the same machine shared with other work (load 8-11) one was 10-40 %
# faster; ``bench/ingest_bench.py --workers N`` compares. AHEAD pieces wait beyond those being
# parsed (what bounds memory with WORKERS).
WORKERS = min(
    2, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
)
AHEAD = 1
LONGEST = 1 << 26  # a record (partial lines) longer than this is split between pieces


class Sink(Protocol):
    """Where the bytes go as they are read (the bundle's raw writer)."""

    def write(self, data: bytes) -> None: ...


class Source(Protocol):
    """What pieces are read from: a file, or a reader uncompressing one."""

    def read(self, size: int = -1, /) -> bytes: ...


def pieces(
    handle: Source,
    raw: Sink,
    cut: Callable[[bytes], int] | None = None,
    size: int | None = None,
    first: bytes = b"",
) -> Iterator[tuple[int, bytes]]:
    """(number of the first line, bytes) of each piece of ``handle`` (``size`` bytes read at a
    time, PIECE by default); ``first`` is what was already read from it (and given to ``raw``)."""
    size = size or PIECE
    line = 1
    carry = first
    while True:
        block = handle.read(size)
        if block:
            raw.write(block)
        data = carry + block if carry else block
        if not block:
            if data:
                yield line, data
            return
        end = data.rfind(b"\n") + 1
        if end == 0:  # one line longer than a piece: read on until it ends
            carry = data
            continue
        if cut is not None:
            # 0: a record still open over all the format looked at; read on, up to a bound.
            end = cut(data[:end]) or (end if len(data) > LONGEST else 0)
            if not end:
                carry = data
                continue
        piece, carry = data[:end], data[end:]
        yield line, piece
        line += piece.count(b"\n")


def drain(handle: IO[bytes], raw: Sink) -> None:
    """Copy the rest of ``handle`` to ``raw`` (after a piece could not be parsed)."""
    for block in iter(lambda: handle.read(PIECE), b""):
        raw.write(block)


def rest(handle: IO[bytes], raw: Sink) -> bytes:
    """The rest of ``handle``, also written to ``raw`` (for formats parsed whole)."""
    data = handle.read()
    raw.write(data)
    return data


T = TypeVar("T")
R = TypeVar("R")


def parsed_in_order(
    parse: Callable[[T], R], items: Iterable[T], workers: int | None = None
) -> Iterator[R]:
    """``map(parse, items)`` with up to ``workers`` (WORKERS) items parsed at once in threads
    and at most AHEAD of them waiting: results in the order of ``items``, each as soon as it
    and those before it are done. ``items`` is read in the caller's thread (the raw copy and
    its hash stay in file order)."""
    workers = WORKERS if workers is None else workers
    if workers <= 1:
        yield from map(parse, items)
        return
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="piece") as pool:
        waiting: deque[Future[R]] = deque()
        try:
            for item in items:
                waiting.append(pool.submit(parse, item))
                if len(waiting) > AHEAD:
                    yield waiting.popleft().result()
            while waiting:
                yield waiting.popleft().result()
        finally:
            for future in waiting:  # an error (or a closed generator): drop the rest
                future.cancel()


def inherit(events: pd.DataFrame, previous: Any) -> pd.DataFrame:
    """A piece's events parsed without ``Context.previous_time``, as if with it: the first
    rows without a time of their own (``inferred``, up to the first timed row) take
    ``previous``, the time of the last event before the piece."""
    if previous is None or not len(events) or events["time_quality"].iloc[0] != "inferred":
        return events
    timed = (events["time_quality"] != "inferred").to_numpy()
    first = int(timed.argmax()) if timed.any() else len(events)
    events = events.copy()
    events.loc[events.index[:first], "time"] = pd.Timestamp(previous).tz_convert("UTC")
    return events

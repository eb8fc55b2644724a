"""Big files read a piece at a time: whole lines, about PIECE bytes each.

A piece ends at a line end, and where the format says (``Format.cut``) so that no record spans
two pieces (a container runtime's partial lines stay with the line they continue). The bytes
are handed to ``raw`` exactly as read, so the raw copy and its sha256 are made on the way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import IO, Protocol

PIECE = 1 << 23  # 8 MiB (about 70,000 lines of 120 bytes): peak memory grows ~25× a piece
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

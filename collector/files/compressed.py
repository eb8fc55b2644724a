"""Compressed exports read transparently, recognised by their magic bytes rather than their
name: gzip (RFC 1952: ``1f 8b``), Zstandard (RFC 8878: frame magic ``28 b5 2f fd``), bzip2
(``BZh``, a block size digit, then a block's or the stream end's 48-bit magic, as bzip2's own
``compress.c`` writes them) and xz (the xz file format 2.1.1.1: ``fd 37 7a 58 5a 00``), the
formats logrotate's ``compresscmd`` and archived logs use; each possibly several members,
frames or streams one after another (``cat a.gz b.gz``, ``zstd`` of a stream, ``pzstd``,
``pbzip2``), which every reader follows to the end. Binary content is a NUL byte in the first
8 KiB, the test ``grep`` and ``git`` use.

A big file is uncompressed as it is read (``reader``): the compressed bytes go to the raw copy
exactly as read, the uncompressed ones to the parser, so neither is ever held whole.
"""

from __future__ import annotations

import bz2
import codecs
import gzip
import io
import lzma
import zlib
from typing import IO, Any, Literal

import zstandard

from incident_timeline.collector.files.pieces import Sink, Source

GZIP = b"\x1f\x8b"
ZSTD = b"\x28\xb5\x2f\xfd"
BZIP2 = (b"1AY&SY", b"\x17\x72\x45\x38\x50\x90")  # after "BZh1".."BZh9": a block, or the end
XZ = b"\xfd7zXZ\x00"
MAGIC = 10  # bytes of a file's head that say its compression
BINARY_PROBE = 8192
Codec = Literal["gzip", "zstd", "bzip2", "xz"]
# What the readers raise on a corrupt or cut stream: gzip's BadGzipFile and bz2's "Invalid
# data stream" (OSErrors) for a bad header or CRC, EOFError for a cut, zlib.error for damaged
# deflate data (neither it, lzma.LZMAError nor zstandard.ZstdError is an OSError).
ERRORS = (OSError, EOFError, ValueError, zlib.error, lzma.LZMAError, zstandard.ZstdError)


def codec(head: bytes) -> Codec | None:
    """The compression ``head`` (a file's first MAGIC bytes) opens with, if any."""
    if head.startswith(GZIP):
        return "gzip"
    if head.startswith(ZSTD):
        return "zstd"
    if head.startswith(XZ):
        return "xz"
    if head[:3] == b"BZh" and head[3:4].isdigit() and head[3:4] != b"0" and head[4:MAGIC] in BZIP2:
        return "bzip2"
    return None


def reader(handle: Any, kind: Codec) -> Salvaging:
    """A reader of ``handle``'s uncompressed content that hands out every byte before a
    corrupt or cut place in the stream, and raises only when asked for more."""
    return Salvaging(_inner(handle, kind))


def _inner(handle: Any, kind: Codec) -> io.BufferedIOBase:
    if kind == "gzip":
        return gzip.GzipFile(fileobj=handle, mode="rb")
    if kind == "bzip2":
        return bz2.BZ2File(handle, "rb")
    if kind == "xz":
        return lzma.LZMAFile(handle, "rb")
    return io.BufferedReader(_Zstd(handle), buffer_size=1 << 20)


class Salvaging:
    """``read(size)`` gathers up to ``size`` bytes by ``read1`` calls (each one step of the
    decompressor, as `_compression.DecompressReader` and `_Zstd` only raise once all the
    bytes before the fault were handed out). A fault ends the stream like its end (so the
    piece before a cut keeps its lines) and is kept in ``fault`` for the caller to report."""

    def __init__(self, inner: io.BufferedIOBase) -> None:
        self.inner = inner
        self.fault: BaseException | None = None

    def read(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes (all when negative); b"" at the end or after a fault."""
        parts: list[bytes] = []
        got = 0
        while (size < 0 or got < size) and self.fault is None:
            try:
                data = self.inner.read1(size - got if size > 0 else 1 << 20)
            except ERRORS as exc:
                self.fault = exc
                break
            if not data:
                break
            parts.append(data)
            got += len(data)
        return b"".join(parts)


def binary(data: bytes) -> str | None:
    """Why ``data`` (the start of an uncompressed file) is not text, or None."""
    return "binary content (NUL bytes)" if b"\x00" in data[:BINARY_PROBE] else None


def decoded(data: bytes) -> tuple[bytes, str | None]:
    """A whole file's content as UTF-8 text (see `text`), uncompressed when it is compressed,
    and the reason when it cannot be read as text (binary, or a compressed stream that is
    corrupt or cut)."""
    kind = codec(data)
    if kind is not None:
        try:
            with _inner(io.BytesIO(data), kind) as stream:
                data = stream.read()
        except ERRORS as exc:
            return data, f"{kind}-compressed but cannot be uncompressed: {exc}"
    head, rest = text(data, io.BytesIO())
    data = head + rest.read()  # the rest: nothing, or what a UTF-16 decoder still holds
    return data, binary(data)


UTF8_BOM = b"\xef\xbb\xbf"
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")  # little-, big-endian


def text(head: bytes, rest: Source) -> tuple[bytes, Source]:
    """A file's first bytes (uncompressed) and a reader of the rest, as UTF-8 lines: a UTF-8
    byte order mark dropped (Windows tools write one), UTF-16 with its mark (what Windows
    PowerShell 5.1's ``>`` and ``Out-File`` write) re-encoded, undecodable units as U+FFFD.
    Lines keep their numbers; raw/ keeps the bytes as they were."""
    if head.startswith(UTF8_BOM):
        return head[len(UTF8_BOM) :], rest
    if head[:2] in UTF16_BOMS:
        reader = _Utf16(rest)
        return reader.decode(head, final=False), reader
    return head, rest


class _Utf16:
    """UTF-16 bytes (after their mark, which the decoder reads) handed out as UTF-8."""

    def __init__(self, inner: Source) -> None:
        self.inner = inner
        self.decoder = codecs.getincrementaldecoder("utf-16")("replace")

    def decode(self, data: bytes, final: bool) -> bytes:
        return self.decoder.decode(data, final).encode("utf-8")

    def read(self, size: int = -1) -> bytes:
        """UTF-8 of up to ``size`` more bytes read; b"" only at the end."""
        while True:
            data = self.inner.read(size)
            out = self.decode(data, final=not data)
            if out or not data:
                return out


class _Zstd(io.RawIOBase):
    """Zstandard frames one after another, uncompressed; a stream that ends inside a frame is
    an EOFError (zstandard's own ``stream_reader`` ends such a stream silently, which would
    pass a cut export off as whole)."""

    def __init__(self, handle: IO[bytes]) -> None:
        self.handle = handle
        self.frame: zstandard.ZstdDecompressionObj | None = None
        self.out = b""
        self.at = 0
        self.ended = False

    def readable(self) -> bool:
        """A reader."""
        return True

    def readinto(self, target: Any) -> int:
        """Fill ``target`` with uncompressed bytes; 0 at the end."""
        while self.at == len(self.out) and not self.ended:
            self._more()
        count = min(len(target), len(self.out) - self.at)
        target[:count] = self.out[self.at : self.at + count]
        self.at += count
        return count

    def _more(self) -> None:
        data = self.handle.read(1 << 20)
        self.out, self.at = b"", 0
        if not data:
            self.ended = True
            if self.frame is not None:
                raise EOFError("zstd stream ended before the end of its frame")
            return
        parts = []
        while data:
            if self.frame is None:
                self.frame = zstandard.ZstdDecompressor().decompressobj()
            parts.append(self.frame.decompress(data))
            data = b""
            if self.frame.eof:  # the next frame starts in what is left over
                data, self.frame = self.frame.unused_data, None
        self.out = b"".join(parts)


class Tee:
    """A file whose every byte read is handed on to a sink: the raw copy of a compressed file
    is made while its reader uncompresses it. Until ``attach`` names the sink, what is read
    is held (the head read for detection, before the raw file is opened)."""

    def __init__(self, handle: IO[bytes]) -> None:
        self.handle = handle
        self.held: list[bytes] = []
        self.sink: Sink | None = None

    def read(self, size: int = -1) -> bytes:
        """Read from the file and hand the bytes on."""
        data = self.handle.read(size)
        if self.sink is None:
            self.held.append(data)
        else:
            self.sink.write(data)
        return data

    def readable(self) -> bool:
        """A reader (for io wrappers)."""
        return True

    def attach(self, sink: Sink) -> None:
        """Send what was read so far, and from now on everything read, to ``sink``."""
        for data in self.held:
            sink.write(data)
        self.held = []
        self.sink = sink

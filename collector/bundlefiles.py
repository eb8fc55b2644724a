"""Files written into a bundle: atomically (a temp file renamed over the final name), raw
bytes hashed as they stream, and events written to Parquet a row group at a time."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import pyarrow as pa
import pyarrow.parquet as pq

from incident_timeline.timeline import schema

# Rows per Parquet row group of events: big enough for fast scans (DuckDB, Spark and Polars read
# row groups in parallel), small enough that a collector holds at most this many rows.
EVENT_ROWS = 1 << 17
# Columns with few distinct values get dictionary pages and min/max statistics (readers skip
# row groups by time, stream or severity); the per-event text (message, summary, ref,
# time_raw) gets neither: a dictionary of unique strings is built only to be thrown away,
# and min/max of free text helps no query. Together a third of the write's cost.
_DICTIONARY = ["source", "stream", "kind", "severity", "actor", "labels", "time_quality"]
_STATISTICS = ["time", "embedded_time", *_DICTIONARY]


@contextmanager
def atomic_open(path: Path, mode: str = "wb") -> Iterator[IO[Any]]:
    """Open a temp file next to ``path``; rename it over ``path`` only if the block succeeds."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:  # name the file the user asked for, not our temp file
        raise OSError(exc.errno, exc.strerror, str(path)) from None
    try:
        with os.fdopen(fd, mode) as handle:
            yield handle
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class RawWriter:
    """A raw file being written: ``write`` appends bytes and feeds the sha256 as they come."""

    def __init__(self, handle: IO[bytes]) -> None:
        self._handle = handle
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes | memoryview) -> None:
        """Append ``data`` to the raw file."""
        self._handle.write(data)
        self.digest.update(data)
        self.size += len(data)


class _Collect:
    """A RawWriter's stand-in that keeps the blocks (to mask secrets across them at the end)."""

    def __init__(self, blocks: list[bytes]) -> None:
        self.blocks = blocks

    def write(self, data: bytes) -> None:
        self.blocks.append(bytes(data))


class EventsWriter:
    """events/<source>.parquet written a row group at a time into a temp file, renamed over
    the final name only by ``close`` (nothing half-written is ever seen under that name)."""

    def __init__(self, path: Path, rows: int = EVENT_ROWS) -> None:
        self.path = path
        self.rows = rows
        self.count = 0
        self._pending: list[pa.Table] = []
        self._pending_rows = 0
        self._writer: pq.ParquetWriter | None = None
        self._tmp: Path | None = None

    def add(self, table: pa.Table) -> None:
        """Queue validated events; full row groups are written at once."""
        if not len(table):
            return
        self._pending.append(table)
        self._pending_rows += len(table)
        self.count += len(table)
        if self._pending_rows >= self.rows:
            self._flush(final=False)

    def _flush(self, final: bool) -> None:
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(
                dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp"
            )
            os.close(fd)
            self._tmp = Path(tmp)
            self._writer = pq.ParquetWriter(
                tmp, schema.SCHEMA, use_dictionary=_DICTIONARY, write_statistics=_STATISTICS
            )
        if self._pending:
            # Written whole (no slice of it kept back): what was added is freed at once.
            table = pa.concat_tables(self._pending)
            self._pending, self._pending_rows = [], 0
            self._writer.write_table(table, row_group_size=self.rows)
        elif final and self.count == 0:
            self._writer.write_table(schema.empty_table())

    def close(self) -> None:
        """Write what is left and move the file into place."""
        self._flush(final=True)
        assert self._writer is not None and self._tmp is not None
        self._writer.close()
        os.replace(self._tmp, self.path)

    def abort(self) -> None:
        """Drop the temp file (the source failed before its events could be written)."""
        if self._writer is not None:
            self._writer.close()
        if self._tmp is not None:
            self._tmp.unlink(missing_ok=True)

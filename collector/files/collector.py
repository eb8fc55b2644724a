"""The ``file`` collector: exports an on-call engineer already made by hand.

Each ``[[file]]`` table names a file or glob, its format (or ``auto``), a stream name and the
zone of naive timestamps. Every line and record is kept, also outside the window (only
counted as ``outside_window``). Every file is copied into ``raw/file/`` byte for byte; a file that
cannot be read or is not in its format is recorded and makes the source ``partial``, the others
are still collected. Structured exports keep their system of origin as the event ``source``
(a PagerDuty export gives ``pagerduty`` events); plain logs are ``file``.
"""

from __future__ import annotations

import dataclasses
import glob
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from incident_timeline.collector import registry
from incident_timeline.collector.bundle import SourceWriter
from incident_timeline.collector.config import build, check_zone_key
from incident_timeline.collector.errors import ConfigError, ExportFormatError
from incident_timeline.collector.files import compressed, pieces
from incident_timeline.collector.files.compressed import decoded
from incident_timeline.collector.files.deploy import as_deploys
from incident_timeline.collector.files.detection import detect_format
from incident_timeline.collector.files.records import checked, per_record
from incident_timeline.collector.files.tally import Tally
from incident_timeline.collector.files.timelayout import first_miss, table_layout
from incident_timeline.collector.formats import (
    UNPARSED,
    Context,
    Format,
    JsonParser,
    Parsed,
    Sample,
)
from incident_timeline.timeline.clock import Clock
from incident_timeline.timeline.metrics import parse_threshold
from incident_timeline.timeline.timestamps import Families
from incident_timeline.timeline.window import Window

# What a plain log's lines are: ``deploy`` makes each line a deploy event (see files/deploy.py).
KINDS: tuple[str, ...] = ("log", "deploy")


@dataclasses.dataclass(frozen=True, kw_only=True)
class FileSource:
    """One ``[[file]]`` table, e.g. ``path = "exports/*.log"``, ``format = "kubectl-logs"``."""

    path: str
    format: str = "auto"
    stream: str | None = None
    timezone: str = "UTC"
    namespace: str | None = None
    threshold: str | None = None
    label: str | None = None
    kind: str = "log"
    # The timestamp layout, for what the engine's families and inference cannot settle:
    # strftime codes (``%d/%m %H.%M.%S,%f``) or epoch_s/epoch_ms/epoch_us/epoch_ns; and where
    # on the line the stamp is (a regex whose ``time`` group, else first group, holds it).
    time_format: str | None = None
    time_regex: str | None = None


class FileCollector:
    """Reads hand-made exports named by ``[[file]]`` tables."""

    name = "file"

    def __init__(self, files: list[FileSource], base_dir: Path) -> None:
        self.files = files
        self.base_dir = base_dir
        self.config_path: Path | None = None  # named in errors about a [[file]] table
        self._known: dict[str, Format] = {}

    @classmethod
    def from_config(cls, table: Any, path: Path) -> FileCollector:
        """Build from the ``[[file]]`` array of tables in config file ``path``."""
        if not isinstance(table, list):
            raise ConfigError(
                f"{path}: file must be an array of tables: write [[file]], not [file]"
            )
        files = [build(FileSource, t, f"file[{i}]", path) for i, t in enumerate(table)]
        names = ["auto", *sorted(registry.formats())]  # entry points are scanned once
        for i, entry in enumerate(files):
            if entry.format not in names:
                raise ConfigError(
                    f"{path}: file[{i}].format {entry.format!r} is not one of {', '.join(names)}"
                )
            check_zone_key(entry.timezone, f"file[{i}].timezone", path)
            if entry.kind not in KINDS:
                raise ConfigError(
                    f"{path}: file[{i}].kind {entry.kind!r} is not one of {', '.join(KINDS)}"
                )
            if entry.threshold is not None:
                try:
                    parse_threshold(entry.threshold)
                except ValueError as exc:
                    raise ConfigError(f"{path}: file[{i}].threshold: {exc}") from None
            table_layout(entry.time_format, entry.time_regex, entry.format, f"file[{i}]", path)
        collector = cls(files, path.parent)
        collector.config_path = path
        return collector

    def collect(self, window: Window, out: SourceWriter, *, clock: Clock) -> dict[str, int]:
        """Copy and parse every matching file; returns counts for the manifest."""
        counts = {"files": 0, "failed_files": 0, "outside_window": 0}
        seen: set[Path] = set()
        self._known = registry.formats()  # once per run, not per file: a scan of entry points
        for entry in self.files:
            paths = self._expand(entry, out)
            for file in paths:
                if file in seen:
                    out.warn(f"{file}: matched by more than one [[file]] table; read once")
                    continue
                seen.add(file)
                counts["files"] += 1
                if not self._one(entry, file, window, out, counts):
                    counts["failed_files"] += 1
        return counts

    def _expand(self, entry: FileSource, out: SourceWriter) -> list[Path]:
        pattern = Path(entry.path).expanduser()
        if not pattern.is_absolute():
            pattern = self.base_dir / pattern
        matches = sorted(Path(p) for p in glob.glob(str(pattern), recursive=True))
        files = [p for p in matches if p.is_file()]
        if not files:
            out.warn(f"{entry.path}: no such file", partial=True)
        return files

    def _one(
        self,
        entry: FileSource,
        file: Path,
        window: Window,
        out: SourceWriter,
        counts: dict[str, int],
    ) -> bool:
        rel = self._relpath(file)
        layout = self._layout(entry, file, rel, window)
        if layout is not None and entry.format == "auto":
            entry = dataclasses.replace(entry, format="log")  # the user said how to read it
        try:
            # A compressed file may hold far more than its size: uncompressed as it is read.
            if file.stat().st_size > pieces.PIECE or _compressed(file):
                streamed = self._stream(entry, file, rel, window, out, counts, layout)
                if streamed is not None:
                    return streamed
            stored = file.read_bytes()  # read once: raw/ holds exactly the bytes parsed
            ref = out.write_raw(rel, stored)
        except OSError as exc:
            out.warn(f"{file}: cannot read: {exc.strerror or exc}", partial=True, kind="bad_file")
            return False
        data, problem = decoded(stored)
        if problem is not None:
            out.warn(
                f"{rel}: {problem}; kept in raw/, not parsed",
                partial=True,
                kind="bad_file",
                ref=ref,
            )
            return False
        known = self._known or registry.formats()
        ctx = _context(entry, ref, entry.stream or file.name, window, layout)
        parsed, ctx = self._parse(entry, data, ctx, known, out, rel)
        ok = parsed is not None
        if parsed is None:
            # Nothing lost: every line is kept as an unparsed event next to the warning.
            parsed = _as_unparsed(data, ctx, known)
        # An export is evidence the user chose: lines outside the window are kept (a skewed
        # clock can push a line past the window's edge) and only counted.
        tally = Tally()
        tally.add(parsed.events, window.since, window.until)
        if ok:  # most lines without a readable time, or every event outside: said
            tally.say(rel, window, out, ref)
        if entry.kind == "deploy":
            parsed = dataclasses.replace(parsed, events=as_deploys(parsed.events))
        counts["outside_window"] += tally.outside
        out.add_events(parsed.events)
        for warning in parsed.warnings:
            out.warn(f"{rel}: {warning}", partial=parsed.incomplete)
        if parsed.metrics is not None:
            out.write_metrics(ctx.stream, parsed.metrics)
        for key, value in parsed.counts.items():
            counts[key] = counts.get(key, 0) + value
        return ok

    def _layout(self, entry: FileSource, file: Path, rel: str, window: Window) -> Families | None:
        """The table's own timestamp layout (None: the engine's), checked against the file's
        first lines: one that reads none of them is a ConfigError naming the file and a line."""
        where = f"file[{self.files.index(entry)}]"
        path = self.config_path or Path("config")
        layout = table_layout(entry.time_format, entry.time_regex, entry.format, where, path)
        if layout is None:
            return None
        try:
            with file.open("rb") as handle:
                head, _ = decoded(handle.read(pieces.PIECE))
        except OSError:
            return layout  # the read proper reports it
        miss = first_miss(head, layout, entry.timezone, (window.since, window.until), entry.format)
        if miss is not None:
            key = "time_format" if entry.time_format is not None else "time_regex"
            value = entry.time_format if entry.time_format is not None else entry.time_regex
            raise ConfigError(
                f"{path}: {where}.{key} {value!r} reads no timestamp in the first lines of "
                f"{rel} (line {miss[0]}: {miss[1]!r})"
            )
        return layout

    def _stream(
        self,
        entry: FileSource,
        file: Path,
        rel: str,
        window: Window,
        out: SourceWriter,
        counts: dict[str, int],
        layout: Families | None = None,
    ) -> bool | None:
        """A big log in a line format (gzip or zstd too), read, copied, hashed and parsed a
        piece at a time (see `pieces`, `compressed`); None when the file is not one (binary, a
        JSON document, a format read whole, a stream corrupt from its start): the caller reads
        it whole and says why."""
        known = self._known or registry.formats()
        with file.open("rb") as handle:
            kind = compressed.codec(handle.read(compressed.MAGIC))
            handle.seek(0)
            tee = compressed.Tee(handle)  # what is read goes to raw/ exactly as read
            source = compressed.reader(tee, kind) if kind else tee
            head, lines = compressed.text(source.read(pieces.PIECE), source)
            if not head or compressed.binary(head):  # empty, or corrupt from its start
                return None
            sample = Sample(head)
            if sample.opens_json and sample.first_record is None:
                return None  # maybe one JSON document: detection needs all of it
            detected = detect_format(head, known)
            fmt = known[entry.format] if entry.format != "auto" else detected
            if not fmt.chunked:
                return None
            with out.open_raw(rel) as (ref, raw):
                tee.attach(raw)
                _say_contradiction(entry, fmt, detected, rel, ref, out)
                name = entry.stream or _default_stream(Path(rel), fmt.name)
                ctx = _context(entry, ref, name, window, layout)
                stream = pieces.pieces(lines, _NOWHERE, fmt.cut, first=head)
                tally = self._pieces(fmt, ctx, stream, out, counts, entry.kind)
                fault = getattr(source, "fault", None)
                if fault is not None:  # a cut or corrupt stream: what came before it is kept
                    pieces.drain(handle, raw)
                    out.warn(
                        f"{rel}: {kind}-compressed stream breaks off after {tally.total:,} lines "
                        f"({type(fault).__name__}: {fault}); kept in raw/, the lines before "
                        "it read",
                        partial=True,
                        kind="bad_file",
                        ref=ref,
                    )
        tally.say(rel, window, out, ref)
        return True

    @staticmethod
    def _pieces(
        fmt: Format,
        ctx: Context,
        stream: Iterator[tuple[int, bytes]],
        out: SourceWriter,
        counts: dict[str, int],
        kind: str = "log",
    ) -> Tally:
        """Parse the pieces (WORKERS at a time, see `pieces.parsed_in_order`) and write their
        events in file order; returns their tally."""
        previous, tally = None, Tally()
        said: set[str] = set()
        since, until = ctx.fallback_time, ctx.window_end

        def parse(item: tuple[int, bytes]) -> Parsed:
            parsed = fmt.parse(item[1], dataclasses.replace(ctx, first_line=item[0]))
            if kind == "deploy":
                parsed = dataclasses.replace(parsed, events=as_deploys(parsed.events))
            return parsed

        for parsed in pieces.parsed_in_order(parse, stream):
            # A piece is parsed before the one ahead of it is done: what its first lines
            # without a time inherit (``Context.previous_time``) is given them here.
            events = pieces.inherit(parsed.events, previous)
            tally.add(events, since, until)
            out.add_events(events)
            for warning in parsed.warnings:  # each piece learns anew: each note said once
                if warning not in said:
                    said.add(warning)
                    out.warn(f"{ctx.ref.removeprefix('raw/file/')}: {warning}", ref=ctx.ref)
            if len(events):
                previous = events["time"].iloc[-1]
            for key, value in parsed.counts.items():
                counts[key] = counts.get(key, 0) + value
        # An export is evidence the user chose: lines outside the window are kept (a skewed
        # clock can push a line past the window's edge) and only counted.
        counts["outside_window"] += tally.outside
        return tally

    def _parse(
        self,
        entry: FileSource,
        data: bytes,
        ctx: Context,
        known: dict[str, Format],
        out: SourceWriter,
        rel: str,
    ) -> tuple[Parsed | None, Context]:
        """Parse in the configured (or detected) format; None, with a warning naming the file,
        the reason and the JSON pointer when known, if it cannot be read in it. The context
        comes back with the stream named for the format (a saved query by the query's name)."""
        fmt = known[entry.format] if entry.format != "auto" else known["log"]
        try:
            detected = detect_format(data, known)
            fmt = known[entry.format] if entry.format != "auto" else detected
            _say_contradiction(entry, fmt, detected, rel, ctx.ref, out)
            if entry.stream is None:
                ctx = dataclasses.replace(ctx, stream=_default_stream(Path(rel), fmt.name))
            result = checked(fmt, data, ctx)  # None for formats without a record shape
            if result is None:
                return fmt.parse(data, ctx), ctx
            _say_unparsed(fmt, result[1], ctx, out, rel)
            return result[0], ctx
        except ExportFormatError as exc:
            where = f" (at {exc.pointer})" if exc.pointer else ""
            reason = f"{exc}{where}"
        except (ValueError, TypeError, KeyError, AttributeError, IndexError) as exc:
            # A field of the wrong type deep in an export: read it record by record.
            salvaged = self._salvage(fmt, data, ctx, out, rel)
            if salvaged is not None:
                return salvaged, ctx
            reason = f"not readable as {fmt.name}: {type(exc).__name__}: {exc}"
        out.warn(
            f"{rel}: {reason}; kept in raw/, its lines stored as unparsed events",
            partial=True,
            kind="bad_file",
            ref=ctx.ref,
        )
        return None, ctx

    @staticmethod
    def _salvage(
        fmt: Format, data: bytes, ctx: Context, out: SourceWriter, rel: str
    ) -> Parsed | None:
        """A JSON export read record by record (see `records`); None when that fails too."""
        if fmt.layout != "json" and not isinstance(fmt.parse, JsonParser):
            return None
        try:
            document = json.loads(data)
        except ValueError:
            return None
        result = per_record(fmt, document, ctx)
        if result is None:
            return None
        _say_unparsed(fmt, result[1], ctx, out, rel)
        return result[0]

    def _relpath(self, file: Path) -> str:
        """Where ``file`` is stored under raw/file/: its path below the config's directory, or
        for a file elsewhere ``external/<digest of its directory>/<name>``, so that two
        ``app.log`` from two directories stay apart and a bundle shared after the incident
        does not carry the absolute paths (home directories, user names) of the machine."""
        path = file.resolve()
        try:
            return path.relative_to(self.base_dir.resolve()).as_posix()
        except ValueError:
            folder = hashlib.sha256(path.parent.as_posix().encode()).hexdigest()[:12]
            return f"external/{folder}/{path.name}"


def _context(
    entry: FileSource, ref: str, stream: str, window: Window, layout: Families | None
) -> Context:
    """What a format's parser is told about the file of ``entry`` stored at ``ref``."""
    return Context(
        ref=ref,
        stream=stream,
        timezone=entry.timezone,
        namespace=entry.namespace,
        threshold=entry.threshold,
        label=entry.label,
        fallback_time=window.since,
        window_end=window.until,
        time_layout=layout,
    )


def _say_contradiction(
    entry: FileSource, fmt: Format, detected: Format, rel: str, ref: str, out: SourceWriter
) -> None:
    """Warn when the configured format is not the one the content looks like."""
    if fmt is not detected and detected.name != "log":
        out.warn(
            f"{rel}: format = {entry.format!r}, but the content looks like "
            f"{detected.name!r}; read as {entry.format!r}",
            kind="format",
            ref=ref,
        )


def _default_stream(file: Path, fmt: str) -> str:
    # A saved query is named like the query (metrics/<name>.parquet); other files by name.
    return file.stem if fmt == "prometheus-query-range" else file.name


def parse(name: str, data: bytes, ctx: Context) -> Parsed:
    """Parse one export in the registered format ``name``; ExportFormatError when it is not."""
    return registry.formats()[name].parse(data, ctx)


def _say_unparsed(
    fmt: Format, problems: list[str], ctx: Context, out: SourceWriter, rel: str
) -> None:
    """Warn of the records kept as unparsed events, pointing at the first one's bad field
    (or the record, when the field is not known)."""
    if not problems:
        return
    first = problems[0]
    out.warn(
        f"{rel}: {len(problems)} record(s) unreadable as {fmt.name}, kept as unparsed "
        f"events (first at {first})",
        partial=True,
        kind="unparsed",
        ref=f"{ctx.ref}#{first.split(':', 1)[0]}",
    )


def _compressed(file: Path) -> bool:
    with file.open("rb") as handle:
        return compressed.codec(handle.read(compressed.MAGIC)) is not None


class _Nowhere:
    """The raw sink of the uncompressed stream: the raw copy is made from the bytes as read."""

    def write(self, data: bytes) -> None:
        """Drop ``data`` (the Tee already gave its source bytes to raw/)."""


_NOWHERE = _Nowhere()


def _as_unparsed(data: bytes, ctx: Context, known: dict[str, Format]) -> Parsed:
    """Every line of a file its format could not read, as ``unparsed`` events."""
    parsed = known["log"].parse(data, ctx)
    events = parsed.events.copy()
    events["kind"] = UNPARSED
    return Parsed(events, None, {"unparsed": len(events)})

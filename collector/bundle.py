"""The evidence bundle: a directory users keep, share and attach.

    BUNDLE/manifest.json            window, config, tool version, collected_at, per-source status,
                                    sha256 and size of every file under raw/, events/, metrics/
    BUNDLE/raw/<source>/...         what each source gave, as received
    BUNDLE/events/<source>.parquet  the event records, in row groups of up to bundlefiles.EVENT_ROWS
    BUNDLE/metrics/<name>.parquet   tidy metric samples, for plots

Every write is atomic (temp file, then rename), and the manifest is rewritten when each source
starts (status ``running``) and ends, so an interrupted run leaves a bundle that says which
sources did not finish, and that ``--resume`` can complete (removing leftover temp files and
collecting again a source whose config table changed). Big inputs stream:
``open_raw`` copies and hashes a raw file as it is written, and events go to Parquet a row group
at a time as collectors add them, so memory does not grow with the input.
"""

from __future__ import annotations

import base64
import contextvars
import dataclasses
import hashlib
import json
import shutil
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pyarrow as pa
import pyarrow.parquet as pq

from incident_timeline.collector.bundlefiles import (
    EventsWriter,
    RawWriter,
    _Collect,
    atomic_open,
    sha256_file,
)
from incident_timeline.collector.errors import BundleError, DeadlineError
from incident_timeline.collector.secrets import Masker
from incident_timeline.timeline import schema
from incident_timeline.timeline.timefmt import iso_z
from incident_timeline.timeline.window import Window

if TYPE_CHECKING:
    import pandas as pd

MANIFEST = "manifest.json"
TOOL = "incident-timeline"


# A source's outcome in the manifest: everything collected, some of it, or nothing usable.
SourceStatus = Literal["ok", "partial", "failed"]


def tool_version() -> str:
    """The installed version of incident-timeline."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(TOOL)
    except PackageNotFoundError:
        return "0+unknown"


# What a warning record may say it is; third-party collectors may add their own.
WARNING_KINDS = ("warning", "gap", "unparsed", "bad_file", "no_timestamps", "format")


@dataclasses.dataclass(frozen=True)
class SourceWarning:
    """A recoverable problem, stored as data (plaso's extraction warnings): ``kind`` says what
    (``gap`` for evidence cut short: a stream, a capped body, a source that ran out of time),
    ``ref`` points at the evidence it qualifies, ``partial`` whether the source is incomplete
    because of it. The trust checks turn ``gap`` records into findings."""

    kind: str
    message: str
    ref: str | None = None
    partial: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The manifest's form: ``{"kind", "message", "ref", "partial"}``."""
        return dataclasses.asdict(self)


def warning_text(record: Any) -> str:
    """A manifest warning's message: a record's ``message``, or the string older bundles hold."""
    if isinstance(record, dict):
        return str(record.get("message", ""))
    return str(record)


# The writer of the source the current thread collects: `collector.http` finds it here, so
# every HTTP collector gets the source's deadline and secret masking without passing it on.
_ACTIVE: contextvars.ContextVar[SourceWriter | None] = contextvars.ContextVar(
    "incident_timeline_source", default=None
)


def active_writer() -> SourceWriter | None:
    """The SourceWriter of the source being collected in this thread (None outside one)."""
    return _ACTIVE.get()


class SourceWriter:
    """What one collector may write: raw files, events, metric tables and warnings.

    It also knows the source's secrets (``add_secrets``; `collector.http` adds the credentials
    it sends) and masks them in every warning, error text, event and raw file; and its
    ``deadline`` (a ``time.monotonic()`` instant, or None) that requests must end by. Once the
    runner gave up on the source (``cancel``), every further write raises DeadlineError.
    """

    def __init__(
        self,
        bundle: Bundle,
        name: str,
        *,
        deadline: float | None = None,
        budget: float | None = None,
    ) -> None:
        self.bundle = bundle
        self.name = name
        self.budget = budget
        self.records: list[SourceWarning] = []
        self.partial = False
        self.deadline = deadline
        self.masker = Masker()
        self.requests = {"ok": 0, "failed": 0}
        self.first_failure: str | None = None
        self._events = EventsWriter(bundle.path / f"events/{name}.parquet")
        self._lock = threading.RLock()
        self._cancelled: str | None = None

    @property
    def warnings(self) -> list[str]:
        """The warnings' messages (masked), in order."""
        return [w.message for w in self.records]

    def add_secrets(self, values: Iterable[str]) -> None:
        """Values that must never reach the bundle, the terminal or an error text."""
        self.masker.add(values)

    def mask(self, text: str) -> str:
        """``text`` with every secret of this source masked."""
        return self.masker.text(text)

    def activate(self) -> contextvars.Token[SourceWriter | None]:
        """Make this the current thread's source (see `active_writer`)."""
        return _ACTIVE.set(self)

    def cancel(self, reason: str) -> None:
        """Refuse every later write: the runner gave up on this source."""
        with self._lock:
            self._cancelled = reason

    def _check(self) -> None:
        if self._cancelled is not None:
            raise DeadlineError(self._cancelled)

    def note_request(self, ok: bool, failure: str | None = None) -> None:
        """Count one HTTP exchange; a source none of whose requests succeeded is ``failed``."""
        with self._lock:
            self.requests["ok" if ok else "failed"] += 1
            if not ok and self.first_failure is None and failure:
                self.first_failure = self.mask(failure)

    def raw_path(self, relpath: str) -> str:
        """The bundle-relative path of raw file ``relpath`` (what `ref` columns point to)."""
        return f"raw/{self.name}/{relpath}"

    def write_raw(self, relpath: str, data: bytes) -> str:
        """Store ``data`` as received under raw/<source>/ (secrets masked, and the manifest says
        so); returns its bundle-relative path."""
        return self.write_raw_blocks(relpath, [data])

    @contextmanager
    def open_raw(self, relpath: str) -> Iterator[tuple[str, RawWriter]]:
        """Write a raw file piece by piece (``writer.write(bytes)``), hashed as it streams;
        yields (its bundle-relative path, the writer). Atomic like ``write_raw``."""
        if self.masker:  # secrets may span the writes: masked by write_raw_blocks at the end
            blocks: list[bytes] = []
            rel = self.raw_path(relpath)
            yield rel, _Collect(blocks)  # type: ignore[misc]
            self.write_raw_blocks(relpath, blocks)
            return
        self._check()
        rel = self.raw_path(relpath)
        with atomic_open(self.bundle.path / rel) as handle:
            writer = RawWriter(handle)
            yield rel, writer
        with self._lock:
            self._check()
            self.bundle.record_file(rel, sha256=writer.digest.hexdigest(), size=writer.size)

    def copy_raw(self, src: Path, relpath: str) -> str:
        """Copy a file byte for byte under raw/<source>/; returns its bundle-relative path."""
        with src.open("rb") as source:
            return self.write_raw_blocks(relpath, iter(lambda: source.read(1 << 20), b""))

    def write_raw_blocks(self, relpath: str, blocks: Iterable[bytes]) -> str:
        """Store a stream of blocks as one raw file (secrets masked); the bundle-relative path."""
        self._check()
        rel = self.raw_path(relpath)
        masked = [0]
        stream = self.masker.stream(blocks, masked) if self.masker else blocks
        with atomic_open(self.bundle.path / rel) as handle:
            writer = RawWriter(handle)  # hashed as written: the file is not read back
            for block in stream:
                writer.write(block)
        with self._lock:
            self._check()
            self.bundle.record_file(
                rel, masked=masked[0], sha256=writer.digest.hexdigest(), size=writer.size
            )
        return rel

    def add_events(self, frame: pd.DataFrame | pa.Table) -> None:
        """Validate events (secrets masked) and write them, a row group at a time; the file
        appears under its name when the source finishes. A table must have the record's
        schema."""
        # A frame is validated unless it has the record's dtypes (what make_events returns).
        table = schema.check_table(frame) if isinstance(frame, pa.Table) else schema.to_table(frame)
        if self.masker and len(table):
            table = self._masked(table)
        with self._lock:
            self._check()
            self._events.add(table)

    _MASKED_COLUMNS = ("summary", "message", "labels", "actor", "time_raw")

    def _masked(self, table: pa.Table) -> pa.Table:
        """Events with every secret value masked in their text columns (`Masker.column`)."""
        for name in self._MASKED_COLUMNS:
            values = self.masker.column(table[name])
            if values is not table[name]:
                index = table.schema.get_field_index(name)
                table = table.set_column(index, table.schema.field(index), values)
        return table

    def write_metrics(self, name: str, frame: pd.DataFrame) -> str:
        """Write tidy samples (time, series, labels, value) as metrics/<name>.parquet."""
        self._check()
        rel = f"metrics/{name}.parquet"
        with atomic_open(self.bundle.path / rel) as handle:
            pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), handle)
        with self._lock:
            self._check()
            self.bundle.record_file(rel)
        return rel

    @contextmanager
    def metrics_writer(
        self, name: str, schema: pa.Schema, *, read_as: pa.Schema | None = None, **options: Any
    ) -> Iterator[Callable[[pa.Table], None]]:
        """Write metrics/<name>.parquet a table at a time (one row group each, so memory does
        not grow with the samples); the file appears when the block ends, if any table had
        rows. Tables are cast to ``schema``; ``options`` go to ``pq.ParquetWriter``.

        ``read_as``: the schema readers get (stored as the file's Arrow schema), when the
        tables are written in another physical form of it, e.g. a dictionary-typed column
        stored as Parquet dictionary pages and read back as plain strings."""
        self._check()
        rel = f"metrics/{name}.parquet"
        opened: list[pq.ParquetWriter] = []
        if read_as is not None:
            options["store_schema"] = False
        with ExitStack() as stack:

            def write(table: pa.Table) -> None:
                if not len(table):
                    return
                if not opened:
                    handle = stack.enter_context(atomic_open(self.bundle.path / rel))
                    opened.append(stack.enter_context(pq.ParquetWriter(handle, schema, **options)))
                opened[0].write_table(table if table.schema.equals(schema) else table.cast(schema))

            yield write
            if opened and read_as is not None:
                opened[0].add_key_value_metadata(arrow_schema_metadata(read_as))
        if opened:
            with self._lock:
                self._check()
                self.bundle.record_file(rel)

    def warn(
        self, message: str, *, partial: bool = False, kind: str = "warning", ref: str | None = None
    ) -> None:
        """Record a problem as evidence; ``partial`` marks the source as only partly collected.
        ``kind="gap"`` with a ``ref`` makes it a gap finding on the timeline."""
        with self._lock:
            if self._cancelled is not None:
                return
            self.records.append(SourceWarning(kind, self.mask(message), ref, partial))
            self.partial = self.partial or partial

    def finish(self) -> int:
        """Write events/<source>.parquet; returns the number of events."""
        with self._lock:
            self._events.close()
        self.bundle.record_file(f"events/{self.name}.parquet")
        return self._events.count


def arrow_schema_metadata(schema: pa.Schema) -> dict[str, str]:
    """Parquet key-value metadata that makes Arrow (and pandas) read a file as ``schema``:
    the serialized schema under ``ARROW:schema``, as ``store_schema`` writes it, and the
    schema's own metadata (pandas')."""
    serialized = base64.b64encode(schema.serialize().to_pybytes()).decode("ascii")
    extra = {k.decode(): v.decode() for k, v in (schema.metadata or {}).items()}
    return {**extra, "ARROW:schema": serialized}


RUNNING = "running"  # a source's status while it is collected; left behind by a kill


class Bundle:
    """A bundle directory being written. ``resume`` keeps sources already complete.

    Thread-safe: sources run in threads, and every change to the manifest holds one lock.
    """

    def __init__(
        self,
        path: Path,
        window: Window,
        config: dict[str, Any],
        *,
        title: str | None,
        collected_at: datetime,
        resume: bool = False,
        incident: dict[str, Any] | None = None,
    ) -> None:
        self.path = path
        self._lock = threading.RLock()
        self.removed_temp: list[str] = []
        self.manifest: dict[str, Any] = {
            "tool": {"name": TOOL, "version": tool_version()},
            "title": title,
            "window": window.as_dict(),
            "collected_at": iso_z(collected_at),
            "config": config,
            **({"incident": incident} if incident else {}),
            "sources": {},
            "files": {},
        }
        old = self._existing()
        if old is not None:
            if not resume:
                raise BundleError(
                    f"{path} already holds a bundle; use --resume to complete it, "
                    "or choose another output directory"
                )
            if old.get("window") != self.manifest["window"]:
                raise BundleError(
                    f"{path} was collected for {old.get('window')}, not "
                    f"{self.manifest['window']}; --resume needs the same window"
                )
            self.manifest["sources"] = old.get("sources", {})
            self.manifest["files"] = old.get("files", {})
            self.removed_temp = remove_temp_files(path)
        path.mkdir(parents=True, exist_ok=True)

    def is_complete(self, source: str, config_digest: str | None = None) -> bool:
        """Whether ``source`` was already collected with status ok (and, when given, with the
        same configuration: a changed table is collected again)."""
        entry = self.manifest["sources"].get(source)
        if not entry or entry.get("status") != "ok":
            return False
        return config_digest is None or entry.get("config_sha256") in (None, config_digest)

    def open_source(
        self,
        name: str,
        *,
        deadline: float | None = None,
        budget: float | None = None,
        config_digest: str | None = None,
    ) -> SourceWriter:
        """Start (or restart) a source: its old raw files and events are removed first, and the
        manifest records it as ``running`` until `close_source`."""
        with self._lock:
            for rel in list(self.manifest["files"]):
                if rel.startswith(f"raw/{name}/") or rel == f"events/{name}.parquet":
                    del self.manifest["files"][rel]
            shutil.rmtree(self.path / "raw" / name, ignore_errors=True)
            self.manifest["sources"][name] = {
                "status": RUNNING,
                "error": "started and not finished",
                "config_sha256": config_digest,
            }
            self.write_manifest()
        return SourceWriter(self, name, deadline=deadline, budget=budget)

    def close_source(
        self,
        writer: SourceWriter,
        status: SourceStatus,
        error: str | None,
        counts: dict[str, int],
        **extra: Any,
    ) -> None:
        """Record a source's outcome and rewrite the manifest."""
        with self._lock:
            digest = self.manifest["sources"].get(writer.name, {}).get("config_sha256")
            self.manifest["sources"][writer.name] = {
                "status": status,
                "error": writer.mask(error) if error else error,
                "warnings": [w.to_dict() for w in writer.records],
                "counts": counts,
                "config_sha256": digest,
                **extra,
            }
            self.write_manifest()

    def mark_interrupted(self, signal_name: str, at: datetime, sources: list[str]) -> None:
        """Say in the manifest that ``signal_name`` stopped the run at ``at``; ``sources``
        (still ``running``) are those it cut short."""
        with self._lock:
            self.manifest["interrupted"] = {"signal": signal_name, "at": iso_z(at)}
            for name in sources:
                entry = self.manifest["sources"].get(name)
                if entry and entry.get("status") == RUNNING:
                    entry["error"] = f"interrupted by {signal_name} before it finished"
            self.write_manifest()

    def record_file(
        self, rel: str, *, masked: int = 0, sha256: str | None = None, size: int | None = None
    ) -> None:
        """Note a file's sha256 and size in the manifest (computed from the file unless the
        writer hashed it as it streamed), and how many secrets were masked."""
        full = self.path / rel
        if sha256 is None or size is None:
            sha256, size = sha256_file(full), full.stat().st_size
        entry: dict[str, Any] = {"sha256": sha256, "bytes": size}
        if masked:
            entry["masked"] = f"{masked} occurrence(s) of a configured secret masked"
        with self._lock:
            self.manifest["files"][rel] = entry

    def write_manifest(self) -> None:
        """Write manifest.json atomically, keys sorted for stable diffs."""
        with self._lock:
            self.manifest["files"] = dict(sorted(self.manifest["files"].items()))
            text = json.dumps(self.manifest, indent=2, sort_keys=False, ensure_ascii=False)
            with atomic_open(self.path / MANIFEST, "w") as handle:
                handle.write(text + "\n")

    def _existing(self) -> dict[str, Any] | None:
        if not (self.path / MANIFEST).exists():
            if self.path.exists() and any(self.path.iterdir()):
                raise BundleError(f"{self.path} exists and is not an empty directory or a bundle")
            return None
        return read_manifest(self.path)


def remove_temp_files(path: Path) -> list[str]:
    """Delete the temp files an interrupted write left (``.<name>.*.tmp``, see `atomic_open`);
    returns their bundle-relative paths."""
    removed = []
    for tmp in sorted(path.rglob(".*.tmp")):
        if tmp.is_file():
            tmp.unlink(missing_ok=True)
            removed.append(tmp.relative_to(path).as_posix())
    return removed


def config_digest(table: Any) -> str:
    """A stable sha256 of one source's config table (to notice a change before --resume)."""
    text = json.dumps(table, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def unfinished_sources(manifest: dict[str, Any]) -> list[str]:
    """Sources the manifest shows as started and not finished (a kill, Ctrl-C, a crash)."""
    sources = manifest.get("sources") or {}
    return sorted(n for n, s in sources.items() if (s or {}).get("status") == RUNNING)


def incomplete_message(manifest: dict[str, Any]) -> str | None:
    """ "bundle incomplete: source X did not finish; ..." or None for a finished bundle."""
    names = unfinished_sources(manifest)
    stopped = manifest.get("interrupted") or {}
    if not names and not stopped:
        return None
    how = f"collection was interrupted by {stopped.get('signal')}; " if stopped else ""
    which = ", ".join(names)
    noun = "source" if len(names) == 1 else "sources"
    what = f"{noun} {which} did not finish" if names else "some sources may be missing"
    return (
        f"bundle incomplete: {how}{what}; "
        "run incident collect --resume (same config and window) to complete it"
    )


def read_manifest(path: Path) -> dict[str, Any]:
    """The manifest of bundle ``path``, or a BundleError saying what is wrong."""
    file = path / MANIFEST
    if not file.exists():
        raise BundleError(
            f"{path} is not a bundle (no {MANIFEST}); create one with incident collect"
        )
    try:
        manifest: dict[str, Any] = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BundleError(f"{file}: cannot read: {exc}") from exc
    return manifest


def read_events(path: Path, manifest: dict[str, Any] | None = None) -> list[pd.DataFrame]:
    """Each source's events of bundle ``path``, in source-name order."""
    manifest = manifest or read_manifest(path)
    frames = []
    for rel in sorted(manifest.get("files", {})):
        if rel.startswith("events/") and rel.endswith(".parquet"):
            try:
                frames.append(schema.read_parquet(path / rel))
            except (OSError, pa.ArrowException, ValueError) as exc:
                raise BundleError(f"{path / rel}: cannot read events: {exc}") from exc
    return frames

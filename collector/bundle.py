"""The evidence bundle: a directory users keep, share and attach.

    BUNDLE/manifest.json            window, config, tool version, collected_at, per-source status,
                                    sha256 and size of every file under raw/, events/, metrics/
    BUNDLE/raw/<source>/...         what each source gave, as received
    BUNDLE/events/<source>.parquet  the event records
    BUNDLE/metrics/<name>.parquet   tidy metric samples, for plots

Every write is atomic (temp file, then rename), and the manifest is rewritten after each
source, so an interrupted run leaves a bundle that ``--resume`` can complete.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import IO, Any, Literal

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from incident_timeline.collector.errors import BundleError
from incident_timeline.timeline import schema
from incident_timeline.timeline.timefmt import iso_z
from incident_timeline.timeline.window import Window

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


class SourceWriter:
    """What one collector may write: raw files, events, metric tables and warnings."""

    def __init__(self, bundle: Bundle, name: str) -> None:
        self.bundle = bundle
        self.name = name
        self.warnings: list[str] = []
        self.partial = False
        self._events: list[pd.DataFrame] = []

    def raw_path(self, relpath: str) -> str:
        """The bundle-relative path of raw file ``relpath`` (what `ref` columns point to)."""
        return f"raw/{self.name}/{relpath}"

    def write_raw(self, relpath: str, data: bytes) -> str:
        """Store ``data`` as received under raw/<source>/; returns its bundle-relative path."""
        rel = self.raw_path(relpath)
        with atomic_open(self.bundle.path / rel) as handle:
            handle.write(data)
        self.bundle.record_file(rel)
        return rel

    def copy_raw(self, src: Path, relpath: str) -> str:
        """Copy a file byte for byte under raw/<source>/; returns its bundle-relative path."""
        rel = self.raw_path(relpath)
        with src.open("rb") as source, atomic_open(self.bundle.path / rel) as handle:
            shutil.copyfileobj(source, handle, 1 << 20)
        self.bundle.record_file(rel)
        return rel

    def add_events(self, frame: pd.DataFrame) -> None:
        """Queue validated events; they are written when the source finishes."""
        self._events.append(schema.validate(frame))

    def write_metrics(self, name: str, frame: pd.DataFrame) -> str:
        """Write tidy samples (time, series, labels, value) as metrics/<name>.parquet."""
        rel = f"metrics/{name}.parquet"
        with atomic_open(self.bundle.path / rel) as handle:
            pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), handle)
        self.bundle.record_file(rel)
        return rel

    def warn(self, message: str, *, partial: bool = False) -> None:
        """Record a problem as evidence; ``partial`` marks the source as only partly collected."""
        self.warnings.append(message)
        self.partial = self.partial or partial

    def finish(self) -> int:
        """Write events/<source>.parquet; returns the number of events."""
        frames = [f for f in self._events if len(f)]
        events = pd.concat(frames, ignore_index=True) if frames else schema.empty_events()
        rel = f"events/{self.name}.parquet"
        with atomic_open(self.bundle.path / rel) as handle:
            pq.write_table(schema.to_table(events), handle)
        self.bundle.record_file(rel)
        return len(events)


class Bundle:
    """A bundle directory being written. ``resume`` keeps sources already complete."""

    def __init__(
        self,
        path: Path,
        window: Window,
        config: dict[str, Any],
        *,
        title: str | None,
        collected_at: datetime,
        resume: bool = False,
    ) -> None:
        self.path = path
        self.manifest: dict[str, Any] = {
            "tool": {"name": TOOL, "version": tool_version()},
            "title": title,
            "window": window.as_dict(),
            "collected_at": iso_z(collected_at),
            "config": config,
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
        path.mkdir(parents=True, exist_ok=True)

    def is_complete(self, source: str) -> bool:
        """Whether ``source`` was already collected with status ok."""
        entry = self.manifest["sources"].get(source)
        return bool(entry) and entry.get("status") == "ok"

    def open_source(self, name: str) -> SourceWriter:
        """Start (or restart) a source: its old raw files and events are removed first."""
        for rel in list(self.manifest["files"]):
            if rel.startswith(f"raw/{name}/") or rel == f"events/{name}.parquet":
                del self.manifest["files"][rel]
        shutil.rmtree(self.path / "raw" / name, ignore_errors=True)
        return SourceWriter(self, name)

    def close_source(
        self, writer: SourceWriter, status: SourceStatus, error: str | None, counts: dict[str, int]
    ) -> None:
        """Record a source's outcome and rewrite the manifest."""
        self.manifest["sources"][writer.name] = {
            "status": status,
            "error": error,
            "warnings": writer.warnings,
            "counts": counts,
        }
        self.write_manifest()

    def record_file(self, rel: str) -> None:
        """Note a file's sha256 and size in the manifest."""
        full = self.path / rel
        self.manifest["files"][rel] = {"sha256": sha256_file(full), "bytes": full.stat().st_size}

    def write_manifest(self) -> None:
        """Write manifest.json atomically, keys sorted for stable diffs."""
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

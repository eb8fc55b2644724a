"""``incident bundle scrub``: a shareable copy of a bundle with every secret masked.

The original stays as received (DESIGN: raw/ is never rewritten); the copy has raw/, events/,
metrics/ and the manifest masked with one `Redactor`, so a secret has the same placeholder in
the copy's raw files, events and any report made from it, and the numbering is the one
``incident timeline`` shows for the original. Masking keeps line breaks, so every
``raw/…#L<line>`` ref still points at its line; JSON stays JSON, so ``#<pointer>`` refs hold.
Checksums are recomputed and the manifest says it was scrubbed, when, and which rules ran.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from incident_timeline.collector.bundle import (
    MANIFEST,
    read_manifest,
    tool_version,
)
from incident_timeline.collector.bundlefiles import atomic_open, sha256_file
from incident_timeline.collector.errors import BundleError
from incident_timeline.report.redact import Redactor, for_bundle, redact_json
from incident_timeline.report.trust import CORRECTIONS, load
from incident_timeline.timeline import schema
from incident_timeline.timeline.timefmt import iso_z

METRIC_COLUMNS = ("series", "labels")


def scrub_bundle(
    bundle: Path,
    out: Path,
    *,
    patterns: tuple[str, ...] = (),
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> dict[str, Any]:
    """Write a masked copy of ``bundle`` to ``out`` (new or empty); returns its manifest."""
    if out.resolve() == bundle.resolve():
        raise BundleError(f"{out}: scrub writes a copy; choose another output directory")
    if out.exists() and any(out.iterdir()):
        raise BundleError(f"{out} exists and is not empty; choose a new output directory")
    manifest = read_manifest(bundle)
    redactor = for_bundle(manifest, patterns)
    # Number the secrets in timeline order first, as `incident timeline` does on the original.
    redactor.frame(load(bundle)[1].events)
    files: dict[str, Any] = {}
    for rel in sorted(manifest.get("files") or {}):
        _scrub_file(bundle / rel, out / rel, rel, redactor)
        files[rel] = {"sha256": sha256_file(out / rel), "bytes": (out / rel).stat().st_size}
    if (bundle / CORRECTIONS).exists():
        text = (bundle / CORRECTIONS).read_text(encoding="utf-8")
        with atomic_open(out / CORRECTIONS, "w") as handle:
            handle.write(redactor.text(text))
    scrubbed: dict[str, Any] = redact_json(
        {k: v for k, v in manifest.items() if k != "files"}, redactor
    )
    if "redact" in (manifest.get("config") or {}):  # the rules themselves, not evidence
        scrubbed["config"]["redact"] = manifest["config"]["redact"]
    scrubbed["files"] = files
    scrubbed["scrubbed"] = {
        "at": iso_z(clock()),
        "by": f"incident-timeline {tool_version()}",
        "from_sha256": sha256_file(bundle / MANIFEST),
        "rules": redactor.rule_names,
        "secrets": len(redactor.mapping),
        "masked": dict(sorted(redactor.counts.items())),
    }
    with atomic_open(out / MANIFEST, "w") as handle:
        handle.write(json.dumps(scrubbed, indent=2, ensure_ascii=False) + "\n")
    return scrubbed


def _scrub_file(src: Path, dst: Path, rel: str, redactor: Redactor) -> None:
    if not src.exists():
        raise BundleError(f"{src}: listed in the manifest but missing; the bundle is incomplete")
    if rel.startswith("events/") and rel.endswith(".parquet"):
        frame = redactor.frame(schema.read_parquet(src))
        with atomic_open(dst) as handle:
            pq.write_table(schema.to_table(frame), handle)
    elif rel.endswith(".parquet"):
        frame = redactor.frame(pd.read_parquet(src), METRIC_COLUMNS)
        with atomic_open(dst) as handle:
            pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), handle)
    else:
        data = src.read_bytes()
        packed = rel.endswith(".gz")
        # surrogateescape: bytes that are not UTF-8 pass through unchanged.
        text = (gzip.decompress(data) if packed else data).decode("utf-8", "surrogateescape")
        body = redactor.text(text).encode("utf-8", "surrogateescape")
        with atomic_open(dst) as handle:
            handle.write(gzip.compress(body, mtime=0) if packed else body)

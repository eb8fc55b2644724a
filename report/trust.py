"""Trust warnings for people: load what the checks need from a bundle, print the findings,
and keep the corrections a user accepted in ``BUNDLE/corrections.json``."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from incident_timeline.collector.bundle import read_events, read_manifest
from incident_timeline.collector.bundlefiles import atomic_open
from incident_timeline.collector.errors import BundleError
from incident_timeline.timeline.merge import deduplicate, merge_events
from incident_timeline.timeline.schema import COLUMNS, SCHEMA, validate
from incident_timeline.timeline.timefmt import seconds_text
from incident_timeline.timeline.trust.checks import Assembled, Integrity, assemble, check_integrity
from incident_timeline.timeline.trust.findings import (
    Correction,
    Finding,
    apply_corrections,
    corrections_payload,
    parse_corrections,
)

CORRECTIONS = "corrections.json"
# The texts of a log line that no clock or gap check reads (they read time, embedded_time,
# stream, labels and ref of log lines; summary and message only of alerts and Kubernetes
# events), so `load_integrity` leaves them empty for log lines that cannot be duplicates.
LOG_TEXTS: tuple[str, ...] = ("summary", "message", "time_raw")


def read_metrics(bundle: Path, manifest: Mapping[str, Any]) -> dict[str, pd.DataFrame]:
    """The bundle's metric samples, ``metrics/<name>.parquet`` by ``name``."""
    metrics = {}
    for rel in sorted(manifest.get("files") or {}):
        if rel.startswith("metrics/") and rel.endswith(".parquet"):
            try:
                metrics[rel[len("metrics/") : -len(".parquet")]] = pd.read_parquet(bundle / rel)
            except (OSError, pa.ArrowException, ValueError) as exc:
                raise BundleError(f"{bundle / rel}: cannot read metric samples: {exc}") from exc
    return metrics


def read_corrections(bundle: Path) -> list[Correction]:
    """The corrections accepted for ``bundle`` (none if it has no corrections.json)."""
    path = bundle / CORRECTIONS
    if not path.exists():
        return []
    try:
        return parse_corrections(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError) as exc:
        raise BundleError(f"{path}: {exc}; fix or delete it to show uncorrected times") from exc


def write_corrections(bundle: Path, accepted: Sequence[Correction]) -> list[Correction]:
    """Add ``accepted`` to the bundle's corrections.json (same id: replaced), atomically.

    Returns every correction now in the file, in id order.
    """
    kept = {c.id: c for c in read_corrections(bundle)}
    kept |= {c.id: c for c in accepted}
    merged = [kept[k] for k in sorted(kept)]
    with atomic_open(bundle / CORRECTIONS, "w") as handle:
        handle.write(json.dumps(corrections_payload(merged), indent=2, ensure_ascii=False) + "\n")
    return merged


def load(bundle: Path) -> tuple[dict[str, Any], Assembled]:
    """Read ``bundle`` and assemble its timeline with findings and accepted corrections."""
    manifest = read_manifest(bundle)
    metrics, corrections = read_metrics(bundle, manifest), read_corrections(bundle)
    # The list of frames is passed on, not kept here, so assemble can free it once merged.
    assembled = assemble(read_events(bundle, manifest), metrics, manifest, corrections)
    return manifest, assembled


def load_integrity(bundle: Path) -> tuple[dict[str, Any], Integrity, dict[str, int]]:
    """What ``incident clocks`` shows: the manifest, the findings and the rows each accepted
    correction shifts, as `load` gives them, read without the texts of log lines."""
    manifest = read_manifest(bundle)
    metrics, corrections = read_metrics(bundle, manifest), read_corrections(bundle)
    unique = deduplicate(merge_events(_thin_events(bundle, manifest)))
    integrity = check_integrity(unique, metrics, manifest)
    _, applied = apply_corrections(unique, corrections)
    return manifest, integrity, applied


def _thin_events(bundle: Path, manifest: dict[str, Any]) -> list[pd.DataFrame]:
    """Each events file with `LOG_TEXTS` read only where a check or de-duplication needs them:
    rows that are not log lines, and rows that share time, source and kind with another
    (what `merge.deduplicate` compares in full)."""
    paths = [bundle / r for r in sorted(manifest.get("files") or {}) if _is_events(r)]
    light = [c for c in COLUMNS if c not in LOG_TEXTS]
    try:
        tables = [pq.read_table(p, columns=light, schema=SCHEMA) for p in paths]
        keys = pd.concat(
            [t.select(["time", "source", "kind"]).to_pandas() for t in tables], ignore_index=True
        )
        maybe = keys.duplicated(keep=False).to_numpy()
        frames, start = [], 0
        for path, table in zip(paths, tables, strict=True):
            twin = maybe[start : start + len(table)]
            start += len(table)
            wanted = twin | pc.not_equal(table["kind"], "log").to_numpy(zero_copy_only=False)
            frames.append(_with_texts(path, table, wanted))
    except (OSError, pa.ArrowException, ValueError) as exc:
        raise BundleError(f"{bundle}: cannot read events: {exc}") from exc
    return frames


def _is_events(rel: str) -> bool:
    return rel.startswith("events/") and rel.endswith(".parquet")


def _with_texts(path: Path, table: pa.Table, wanted: np.ndarray) -> pd.DataFrame:
    """``table`` with `LOG_TEXTS` from the file at the rows ``wanted``, empty elsewhere."""
    rows = np.flatnonzero(wanted)
    texts = _rows_of(path, list(LOG_TEXTS), rows)
    slot = np.full(len(table), len(rows), dtype=np.int64)  # an empty string after the rows
    slot[rows] = np.arange(len(rows))
    for name in LOG_TEXTS:
        column = pa.concat_arrays([texts[name].combine_chunks(), pa.array([""], texts[name].type)])
        table = table.append_column(name, column.take(pa.array(slot)))
    return validate(table.select(list(COLUMNS)).to_pandas())


def _rows_of(path: Path, columns: list[str], rows: np.ndarray) -> pa.Table:
    """``columns`` of the file at positions ``rows`` (ascending), a row group at a time."""
    parquet = pq.ParquetFile(path)
    parts, start = [], 0
    for group in range(parquet.metadata.num_row_groups):
        size = parquet.metadata.row_group(group).num_rows
        lo, hi = np.searchsorted(rows, [start, start + size])
        if hi > lo:
            chunk = parquet.read_row_group(group, columns=columns)
            parts.append(chunk.take(pa.array(rows[lo:hi] - start)))
        start += size
    schema = pa.schema([SCHEMA.field(c) for c in columns])
    return pa.concat_tables([p.cast(schema) for p in parts]) if parts else schema.empty_table()


def clocks_text(
    bundle: str, manifest: Mapping[str, Any], integrity: Integrity, applied: Mapping[str, int]
) -> str:
    """The ``incident clocks`` report: findings in timeline order, then alert paths."""
    findings = integrity.findings
    offered = [f for f in findings if f.correction is not None]
    window = manifest.get("window") or {}
    kinds = {k: sum(f.kind == k for f in findings) for k in ("clock", "gap")}
    lines = [
        (
            f"Window {window.get('since', '?')} .. {window.get('until', '?')} · "
            f"{len(findings)} finding(s): {kinds['clock']} clock, {kinds['gap']} gap · "
            f"{len(offered)} correction(s) on offer"
        ),
    ]
    if not findings:
        lines += [
            "",
            (
                "No clock or gap findings: the clocks in this evidence agree and no "
                "stream, series or pod it names is missing where it should be."
            ),
        ]
    for finding in findings:
        lines += ["", *_finding_lines(bundle, finding, applied)]
    if integrity.paths:
        lines += ["", "Alert paths (Prometheus → Alertmanager → webhook → PagerDuty):"]
        lines += [f"  {path.text()}" for path in integrity.paths]
        lines += ["", "Alert hops (each a latency: a negative one means two clocks disagree):"]
        lines += [f"  {hop.text()}" for hop in integrity.hops()]
    todo = [f for f in offered if f.correction and not applied.get(f.correction.id)]
    if todo:
        lines += [
            "",
            (
                f"Accept: incident clocks {bundle} --correct (all) or --correct ID; "
                f"timeline and report then apply {CORRECTIONS}."
            ),
        ]
    return "\n".join(lines) + "\n"


def _finding_lines(bundle: str, finding: Finding, applied: Mapping[str, int]) -> list[str]:
    span = _hms(finding.time) + (
        f"–{_hms(finding.end)}" if finding.end is not None and finding.end != finding.time else ""
    )
    lines = [
        f"{finding.kind.upper():<5}  {finding.id}",
        f"  {span}  {finding.summary}",
        f"  evidence: {finding.ref}",
    ]
    corr = finding.correction
    if corr is not None:
        what = " and ".join(corr.columns)
        scope = f"{len(corr.streams)} stream(s)" + (
            f", {len(corr.refs)} event(s)" if corr.refs else ""
        )
        shift = corr.shift_ns / 1e9
        amount = ("+" if shift >= 0 else "−") + seconds_text(shift)
        state = (
            f"applied to {applied[corr.id]} rows"
            if applied.get(corr.id)
            else f"offered: incident clocks {bundle} --correct {corr.id}"
        )
        lines.append(f"  correction: shift {what} by {amount} on {scope} ({state})")
    return lines


def clocks_json(
    manifest: Mapping[str, Any], integrity: Integrity, applied: Mapping[str, int]
) -> str:
    """The ``incident clocks --format json`` document."""
    doc = {
        "window": manifest.get("window"),
        "collected_at": manifest.get("collected_at"),
        **integrity.to_dict(),
        "corrections_applied": {k: v for k, v in sorted(applied.items())},
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def _hms(stamp: pd.Timestamp) -> str:
    text = str(stamp.strftime("%H:%M:%S.%f"))[:-3]
    return text.removesuffix(".000")

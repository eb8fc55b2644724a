"""Trust warnings for people: load what the checks need from a bundle, print the findings,
and keep the corrections a user accepted in ``BUNDLE/corrections.json``."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from incident_timeline.collector.bundle import read_events, read_manifest
from incident_timeline.collector.bundlefiles import atomic_open
from incident_timeline.collector.errors import BundleError
from incident_timeline.report.scan import events_paths, scan_dropping
from incident_timeline.timeline.timefmt import seconds_text
from incident_timeline.timeline.trust.checks import (
    Assembled,
    Integrity,
    assemble,
    check_digested,
    log_digest,
)
from incident_timeline.timeline.trust.findings import (
    Correction,
    Finding,
    corrected_counts,
    corrections_payload,
    parse_corrections,
)

CORRECTIONS = "corrections.json"
# The columns of metric samples the checks read (gaps, node clocks, alert paths): a
# collector's per-sample evidence (Prometheus' ``ref`` and ``sample``) is left on disk.
CHECKED = ("time", "series", "labels", "value", "pointer")
SERIES_COLUMNS = ["series", "labels"]  # repeated per sample: read as dictionaries


def read_metrics(
    bundle: Path, manifest: Mapping[str, Any], columns: Sequence[str] | None = None
) -> dict[str, pd.DataFrame]:
    """The bundle's metric samples, ``metrics/<name>.parquet`` by ``name``; with ``columns``,
    only those of them a file has (a 30-day query holds millions of samples).

    ``series`` and ``labels`` come as categoricals, their categories in string order (so a
    sort or a group by them orders as their strings would): a few series repeat over millions
    of samples, and as strings they were nine tenths of the frame's memory."""
    metrics = {}
    for rel in sorted(manifest.get("files") or {}):
        if rel.startswith("metrics/") and rel.endswith(".parquet"):
            try:
                path, wanted = bundle / rel, None
                if columns is not None:
                    names = pq.read_schema(path).names
                    wanted = [c for c in columns if c in names]
                table = pq.read_table(path, columns=wanted, read_dictionary=SERIES_COLUMNS)
                frame = table.to_pandas()
            except (OSError, pa.ArrowException, ValueError) as exc:
                raise BundleError(f"{bundle / rel}: cannot read metric samples: {exc}") from exc
            for column in SERIES_COLUMNS:
                if column in frame:
                    categories = frame[column].cat.categories
                    frame[column] = frame[column].cat.reorder_categories(sorted(categories))
            metrics[rel[len("metrics/") : -len(".parquet")]] = frame
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
    metrics = read_metrics(bundle, manifest, columns=CHECKED)
    corrections = read_corrections(bundle)
    # The list of frames is passed on, not kept here, so assemble can free it once merged.
    assembled = assemble(read_events(bundle, manifest), metrics, manifest, corrections)
    return manifest, assembled


def load_integrity(bundle: Path) -> tuple[dict[str, Any], Integrity, dict[str, int]]:
    """What ``incident clocks`` shows: the manifest, the findings and the rows each accepted
    correction shifts, as `load` gives them, read in bounded memory: the log lines a stream
    at a time and without their texts (see `report.scan`)."""
    manifest = read_manifest(bundle)
    integrity, applied, _ = scan_integrity(bundle, manifest)
    return manifest, integrity, applied


def scan_integrity(
    bundle: Path,
    manifest: Mapping[str, Any],
    on_dropped: Callable[[list[np.ndarray]], None] | None = None,
) -> tuple[Integrity, dict[str, int], list[np.ndarray]]:
    """`load_integrity`'s findings and corrected rows, and per events file the positions of
    the rows de-duplication drops (what `report.scan.scan_dropping` gives). ``on_dropped``
    is given those positions as soon as they are known, before the log lines are checked."""
    metrics = read_metrics(bundle, manifest, columns=CHECKED)
    corrections = read_corrections(bundle)
    others, batches, dropped = scan_dropping(events_paths(bundle, dict(manifest)))
    if on_dropped is not None:
        on_dropped(dropped)
    digest = log_digest(manifest)
    applied = corrected_counts(others, corrections)
    for batch in batches:
        digest.add(batch)
        for name, rows in corrected_counts(batch, corrections).items():
            applied[name] += rows
    return check_digested(others, digest, metrics, manifest), applied, dropped


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

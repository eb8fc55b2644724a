"""Write the postmortem draft without ever losing a person's edits.

Each draft written is recorded by its sha256 in ``BUNDLE/report-state.json``. When the file
about to be replaced no longer has the recorded hash (a person edited it), or there is no
record of writing it, the new draft goes beside it (``postmortem.new.md``) and the edited file
stays as it is; ``--force`` replaces it anyway. The full timeline goes next to the report as
CSV (``postmortem-timeline.csv``), always regenerated: it holds no human work (notes live in
curation.json).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shlex
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import pandas as pd

from incident_timeline.collector.bundle import read_manifest
from incident_timeline.collector.bundlefiles import atomic_open
from incident_timeline.collector.errors import BundleError
from incident_timeline.report.chunks import csv_chunks, csv_header, csv_rows, write_chunks
from incident_timeline.report.curation import Curation, read_curation, with_notes
from incident_timeline.report.figspec import Lane
from incident_timeline.report.html import FINDING_KINDS, report_page, report_page_chunks
from incident_timeline.report.postmortem import postmortem
from incident_timeline.report.redact import Redactor, for_bundle
from incident_timeline.report.story import Tally, inside_count
from incident_timeline.report.stream import timeline_stream
from incident_timeline.report.trust import load, read_corrections, read_metrics
from incident_timeline.timeline.keyevents import key_candidates, key_events
from incident_timeline.timeline.schema import empty_events
from incident_timeline.timeline.trust.findings import Correction

PAGERDUTY = "pagerduty"  # the story names incidents from every row of this source

STATE = "report-state.json"


@dataclasses.dataclass(frozen=True)
class Written:
    """Where the draft went; ``kept`` is the edited file left untouched, if any."""

    path: Path
    csv: Path
    kept: Path | None = None


def write_report(
    bundle: Path,
    output: Path | None = None,
    *,
    template: Path | None = None,
    force: bool = False,
    redact: bool = True,
    html_path: Path | None = None,
) -> Written:
    """Draft the bundle's postmortem to ``output`` (default BUNDLE/postmortem.md), safely,
    with its figures (BUNDLE/figures/) linked and, if ``html_path``, the HTML page. Secrets
    are masked everywhere unless ``redact`` is False.

    The timeline is streamed (`report.stream`): the CSV and the HTML page are written a frame
    at a time, and the draft and figures get only the rows they read (`Reduced`) with the
    counts of the others. Where the stream cannot give the timeline (see
    `report.stream.timeline_stream`), or the manifest has no window to bin the overview on,
    the whole timeline is loaded as before."""
    path = output or bundle / "postmortem.md"
    csv = path.with_name(f"{path.stem}-timeline.csv")
    manifest = read_manifest(bundle)
    curation = read_curation(bundle)
    redactor = for_bundle(manifest) if redact else None
    # Written to a temporary file: kept only once the draft is made too, as before.
    with atomic_open(csv, "wb") as handle:
        reduced = _streamed(bundle, manifest, curation, redactor, handle)
        if reduced is None:
            manifest, assembled = load(bundle)
            events = with_notes(assembled.events, curation)
            # A fresh redactor: the stream's survey may have numbered secrets before it fell
            # back, and the whole timeline numbers them from the start.
            redactor = for_bundle(manifest) if redact else None
            if redactor is not None:
                events = redactor.frame(events)
            write_chunks(csv_chunks(events), handle)
            reduced = Reduced(events, None, None, assembled.corrections, assembled.applied)
        # Read once the timeline is written (its checks read the samples too), and only the
        # columns the story's peaks and the figures use.
        metrics = read_metrics(bundle, manifest, columns=("time", "series", "labels", "value"))
        text = postmortem(
            manifest,
            reduced.events,
            corrections=reduced.corrections,
            applied=reduced.applied,
            pins=curation.pins,
            hides=curation.hides,
            regenerate=regenerate_command(bundle, output, template),
            csv_name=csv.name,
            template=template,
            metrics=metrics,
            tally=reduced.tally,
        )
        # matplotlib is imported here, not with the module: every ``incident`` command
        # (collect too) would pay its ~0.3 s import otherwise.
        from incident_timeline.report.plots import figures_markdown, write_figures

        mask = redactor.text if redactor is not None else str
        figures = write_figures(
            bundle, manifest, metrics, reduced.events, redact=mask, lanes=reduced.lanes
        )
        if figures:
            text = text.rstrip("\n") + "\n\n" + figures_markdown(figures, bundle, path)
        text = mask(text)  # what the draft took from the manifest: errors, warnings, titles
    if html_path is not None:
        shown = {f.png: (bundle / f.png).read_bytes() for f in figures}
        with atomic_open(html_path, "w") as page:
            for chunk in _page(bundle, manifest, reduced, (text, shown), redact):
                page.write(chunk)
    return _write_guarded(bundle, path, text, force=force, csv=csv)


@dataclasses.dataclass(frozen=True)
class Reduced:
    """What the draft is made from. Streamed: the rows the story and figures read (every row
    that is not a log line, error and critical log lines, pinned rows and PagerDuty's: see
    `story.build_story`), indexed by their places in the timeline, with the whole timeline's
    counts (``tally``) and overview lanes; loaded: the whole timeline (no counts)."""

    events: pd.DataFrame
    tally: Tally | None
    lanes: list[Lane] | None
    corrections: Sequence[Correction] = ()
    applied: Mapping[str, int] | None = None


def _streamed(
    bundle: Path,
    manifest: Mapping[str, Any],
    curation: Curation,
    redactor: Redactor | None,
    handle: IO[bytes],
) -> Reduced | None:
    """Write the timeline's CSV to ``handle`` a frame at a time and keep what the draft
    reads; None (nothing written) where the whole timeline has to be loaded."""
    if not _has_window(manifest):  # the overview's bins would follow the events' span
        return None
    stream = timeline_stream(bundle, redact=redactor is not None, redactor=redactor)
    if stream is None:
        return None
    from incident_timeline.report.plots import LaneCounts

    lanes = LaneCounts(manifest)
    parts, total, inside = [empty_events()], 0, 0
    handle.write(csv_header())
    for frame in stream:
        handle.write(csv_rows(frame))
        lanes.add(frame)
        inside += inside_count(frame, manifest)
        wanted = key_candidates(frame, curation.pins)
        wanted |= (frame["source"] == PAGERDUTY).to_numpy(dtype=bool, na_value=False)
        part = frame.loc[wanted]
        part.index = pd.RangeIndex(total, total + len(frame))[wanted]
        parts.append(part)
        total += len(frame)
    # No accepted correction shifts a row here (the stream falls back), so none is counted.
    return Reduced(
        pd.concat(parts), Tally(total, inside), lanes.lanes(), read_corrections(bundle), {}
    )


def _has_window(manifest: Mapping[str, Any]) -> bool:
    """Whether the figures can bin on the manifest's window (as `figspec` reads it)."""
    window = manifest.get("window") or {}
    try:
        pd.Timestamp(window["since"]), pd.Timestamp(window["until"])
    except (KeyError, TypeError, ValueError):
        return False
    return True


def _page(
    bundle: Path,
    manifest: Mapping[str, Any],
    reduced: Reduced,
    draft: tuple[str, Mapping[str, bytes]],
    redact: bool,
) -> Iterator[str]:
    """The HTML page of the ``draft`` (its text and figures): the whole timeline streamed
    again (the same rows, numbered the same), or the loaded one."""
    if reduced.tally is None:
        yield report_page(manifest, reduced.events, *draft)
        return
    frames = timeline_stream(bundle, redact=redact)
    if frames is None:
        raise BundleError(f"{bundle} changed while the report was written; run it again")
    events = reduced.events
    counts = (reduced.tally.total, int(events["kind"].isin(FINDING_KINDS).sum()))
    yield from report_page_chunks(manifest, frames, counts, key_events(events), *draft)


def regenerate_command(bundle: Path, output: Path | None, template: Path | None) -> str:
    """The command line that writes this draft again."""
    args = ["incident", "report", str(bundle)]
    if output is not None:
        args += ["-o", str(output)]
    if template is not None:
        args += ["--template", str(template)]
    return shlex.join(args)


def _write_guarded(bundle: Path, path: Path, text: str, *, force: bool, csv: Path) -> Written:
    state = _read_state(bundle)
    key = _key(bundle, path)
    data = text.encode("utf-8")
    digest = hashlib.sha256(data).hexdigest()
    if path.exists() and not force:
        current = hashlib.sha256(path.read_bytes()).hexdigest()
        if current not in (digest, state.get(key)):
            beside = path.with_name(f"{path.stem}.new{path.suffix}")
            _atomic_write(beside, data)
            state[_key(bundle, beside)] = digest
            _write_state(bundle, state)
            return Written(beside, csv, kept=path)
    _atomic_write(path, data)
    state[key] = digest
    _write_state(bundle, state)
    return Written(path, csv)


def _key(bundle: Path, path: Path) -> str:
    try:
        return path.resolve().relative_to(bundle.resolve()).as_posix()
    except ValueError:
        return path.resolve().as_posix()


def _read_state(bundle: Path) -> dict[str, str]:
    path = bundle / STATE
    if not path.exists():
        return {}
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BundleError(f"{path}: cannot read: {exc}; delete it to start over") from exc
    drafts = data.get("drafts") if isinstance(data, dict) else None
    return {str(k): str(v) for k, v in (drafts or {}).items()}


def _write_state(bundle: Path, drafts: dict[str, str]) -> None:
    payload = {"drafts": dict(sorted(drafts.items()))}
    _atomic_write(bundle / STATE, (json.dumps(payload, indent=2) + "\n").encode())


def _atomic_write(path: Path, data: bytes) -> None:
    with atomic_open(path, "wb") as handle:
        handle.write(data)

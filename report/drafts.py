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
from pathlib import Path
from typing import Any

from incident_timeline.collector.bundlefiles import atomic_open
from incident_timeline.collector.errors import BundleError
from incident_timeline.report.chunks import csv_chunks, write_chunks
from incident_timeline.report.curation import read_curation, with_notes
from incident_timeline.report.html import report_page
from incident_timeline.report.postmortem import postmortem
from incident_timeline.report.redact import for_bundle
from incident_timeline.report.trust import load, read_metrics

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
    are masked everywhere unless ``redact`` is False."""
    manifest, assembled = load(bundle)
    curation = read_curation(bundle)
    events = with_notes(assembled.events, curation)
    redactor = for_bundle(manifest) if redact else None
    if redactor is not None:
        events = redactor.frame(events)
    path = output or bundle / "postmortem.md"
    csv = path.with_name(f"{path.stem}-timeline.csv")
    text = postmortem(
        manifest,
        events,
        corrections=assembled.corrections,
        applied=assembled.applied,
        pins=curation.pins,
        hides=curation.hides,
        regenerate=regenerate_command(bundle, output, template),
        csv_name=csv.name,
        template=template,
        metrics=read_metrics(bundle, manifest),
    )
    # matplotlib is imported here, not with the module: every ``incident`` command (collect
    # too) would pay its ~0.3 s import otherwise.
    from incident_timeline.report.plots import figures_markdown, write_figures

    mask = redactor.text if redactor is not None else str
    figures = write_figures(bundle, manifest, read_metrics(bundle, manifest), events, redact=mask)
    if figures:
        text = text.rstrip("\n") + "\n\n" + figures_markdown(figures, bundle, path)
    text = mask(text)  # what the draft took from the manifest: errors, warnings, titles
    with atomic_open(csv, "wb") as handle:
        write_chunks(csv_chunks(events), handle)
    if html_path is not None:
        shown = {f.png: (bundle / f.png).read_bytes() for f in figures}
        with atomic_open(html_path, "w") as handle:
            handle.write(report_page(manifest, events, text, shown))
    return _write_guarded(bundle, path, text, force=force, csv=csv)


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

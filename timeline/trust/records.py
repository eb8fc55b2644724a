"""Findings from what the collectors recorded about themselves: a warning record of kind
``gap`` (a cut stream, a body over the size cap, a source that ran out of time), ``bad_file``
(an export that could not be read), ``unparsed`` (records kept as raw text) or
``no_timestamps`` (times inferred), any record that made its source partial, a source that
failed, and a source that started and never finished. Each becomes
a finding pointing at its evidence, so partial collection shows on the timeline and in the
report instead of only in the manifest (STYLE: partial failure is evidence).

The records are the manifest's ``sources.<name>.warnings`` (see `collector.bundle`); older
bundles hold plain strings there, which carry no kind and give no finding.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from incident_timeline.timeline.trust.findings import Finding
from incident_timeline.timeline.window import Window

# warning kind -> finding kind (what the reader should distrust)
KINDS: dict[str, str] = {
    "gap": "gap",
    "bad_file": "gap",
    "unparsed": "gap",
    "no_timestamps": "clock",
}


def record_findings(manifest: Mapping[str, Any], window: Window | None) -> list[Finding]:
    """One finding per gap-like warning record and per unfinished source, placed over the
    window (the record says where, not when)."""
    if window is None:
        return []
    since, until = pd.Timestamp(window.since), pd.Timestamp(window.until)
    found: list[Finding] = []
    for name, info in sorted((manifest.get("sources") or {}).items()):
        info = info or {}
        if info.get("status") == "running":
            found.append(
                Finding(
                    id=f"source_unfinished:{name}",
                    kind="gap",
                    check="source_unfinished",
                    time=since,
                    end=until,
                    subject=f"source/{name}",
                    summary=f"source {name} started and did not finish: its evidence is missing",
                    detail="run incident collect --resume to complete the bundle",
                    ref=f"manifest.json#/sources/{name}",
                )
            )
        if info.get("status") == "failed" and info.get("error"):
            found.append(
                Finding(
                    id=f"source_failed:{name}",
                    kind="gap",
                    check="source_failed",
                    time=since,
                    end=until,
                    subject=f"source/{name}",
                    summary=f"source {name} failed: {info['error']}"[:400],
                    detail="its evidence is missing from this bundle",
                    ref=f"manifest.json#/sources/{name}",
                )
            )
        for i, record in enumerate(info.get("warnings") or []):
            if not isinstance(record, dict):
                continue
            kind = KINDS.get(record.get("kind", "")) or ("gap" if record.get("partial") else None)
            if kind is None:
                continue
            found.append(
                Finding(
                    id=f"source_{record['kind']}:{name}:{i}",
                    kind=kind,
                    check=f"source_{record['kind']}",
                    time=since,
                    end=until,
                    subject=f"source/{name}",
                    summary=str(record.get("message", "")),
                    detail=f"recorded by the {name} collector",
                    ref=str(record.get("ref") or f"manifest.json#/sources/{name}/warnings/{i}"),
                    labels={"source": name},
                )
            )
    return found

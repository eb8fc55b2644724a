"""Where the evidence cannot be trusted: clock and gap findings over a whole bundle.

`check_integrity` runs every check on the merged events, the metric samples and the manifest
(window, collected_at, which collectors ran) and returns an `Integrity`: the findings (see
`timeline.findings.Finding`) and, as observations, each alert's path across Prometheus,
Alertmanager and PagerDuty. `assemble` is what ``incident timeline`` and ``incident report``
use: merge, de-duplicate, find, apply the accepted corrections, and add the findings as events.

The checks and their thresholds are documented in `timeline.trust.clocks` (app clocks,
causality), `timeline.trust.nodeclock` and `timeline.trust.nodefindings` (node clocks, with
`timeline.trust.eventclock` for the kubelet's), `timeline.trust.gaps`,
`timeline.trust.metricgaps`, `timeline.trust.alertpath` and `timeline.trust.alerthops`.
Everything is a pure function of its inputs: the same bundle gives the same findings, in the
same order, every time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from incident_timeline.timeline.errors import CorrectionError
from incident_timeline.timeline.merge import deduplicate, merge_events
from incident_timeline.timeline.trust.alerthops import Hop, alert_hops
from incident_timeline.timeline.trust.alertpath import AlertPath, alert_paths, path_findings
from incident_timeline.timeline.trust.clocks import (
    Thresholds,
    causality_findings,
    findings_sorted,
)
from incident_timeline.timeline.trust.digest import LOG_COLUMNS, LogDigest
from incident_timeline.timeline.trust.evidence import pod_lives
from incident_timeline.timeline.trust.findings import (
    Correction,
    Finding,
    apply_corrections,
    findings_frame,
)
from incident_timeline.timeline.trust.gaps import (
    GapLimits,
    future_findings,
    pod_log_gaps,
    ttl_findings,
)
from incident_timeline.timeline.trust.metricgaps import metric_gap_findings
from incident_timeline.timeline.trust.nodefindings import node_clock_findings
from incident_timeline.timeline.trust.records import record_findings
from incident_timeline.timeline.window import Window


@dataclass(frozen=True)
class Options:
    """Thresholds of every check (see `Thresholds` and `GapLimits` for the defaults' reasons)."""

    clocks: Thresholds = field(default_factory=Thresholds)
    gaps: GapLimits = field(default_factory=GapLimits)


@dataclass(frozen=True)
class Integrity:
    """The findings of one bundle, in timeline order, and the alert paths observed."""

    findings: tuple[Finding, ...]
    paths: tuple[AlertPath, ...]

    def corrections(self) -> list[Correction]:
        """Every correction the findings suggest, in finding order."""
        return [f.correction for f in self.findings if f.correction is not None]

    def hops(self) -> list[Hop]:
        """The alert paths' hops with their lags: clock evidence between the systems."""
        return alert_hops(self.paths)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: ``findings``, ``alert_paths`` and ``alert_hops``."""
        return {
            "findings": [f.to_dict() for f in self.findings],
            "alert_paths": [p.to_dict() for p in self.paths],
            "alert_hops": [h.to_dict() for h in self.hops()],
        }


@dataclass(frozen=True)
class Assembled:
    """The timeline as shown: merged, de-duplicated, corrected, findings included."""

    events: pd.DataFrame
    integrity: Integrity
    applied: Mapping[str, int]  # correction id -> rows shifted
    corrections: tuple[Correction, ...]
    duplicates: int


def manifest_times(manifest: Mapping[str, Any]) -> tuple[Window | None, pd.Timestamp | None]:
    """The manifest's window (since, until) and collected_at as UTC timestamps (or None)."""
    window = manifest.get("window") or {}
    since, until = _ts(window.get("since")), _ts(window.get("until"))
    span = Window(since, until) if since is not None and until is not None else None
    return span, _ts(manifest.get("collected_at"))


def log_digest(manifest: Mapping[str, Any], options: Options = Options()) -> LogDigest:
    """An empty `LogDigest` for the log lines of the bundle ``manifest`` describes."""
    return LogDigest(options.clocks, options.gaps, manifest_times(manifest)[1])


def check_integrity(
    events: pd.DataFrame,
    metrics: Mapping[str, pd.DataFrame],
    manifest: Mapping[str, Any],
    options: Options = Options(),
) -> Integrity:
    """Run every clock and gap check; ``events`` is the merged (uncorrected) timeline."""
    events = events.reset_index(drop=True)
    logs = (events["kind"] == "log").to_numpy(dtype=bool)
    digest = log_digest(manifest, options)
    digest.add(events.loc[logs, list(LOG_COLUMNS)])
    return check_digested(events.loc[~logs], digest, metrics, manifest, options)


def check_digested(
    others: pd.DataFrame,
    digest: LogDigest,
    metrics: Mapping[str, pd.DataFrame],
    manifest: Mapping[str, Any],
    options: Options = Options(),
) -> Integrity:
    """`check_integrity` from the events that are not log lines (in timeline order) and the
    `log_digest` of the log lines, made with the same ``options``."""
    others = others.reset_index(drop=True)
    window, collected_at = manifest_times(manifest)
    live_events = "kubernetes" in (manifest.get("sources") or {})
    lives = pod_lives(others)
    logged = digest.log_pods()
    paths = alert_paths(others, metrics)
    late = pd.concat([others[["time", "source", "stream", "ref"]], *digest.ahead()])
    late = late.sort_values(["time", "source", "stream"], kind="stable")
    until = _ts(window.until) if window else None
    findings = [
        *digest.app_clock_findings(),
        *node_clock_findings(others, metrics, lives, options.clocks.node_offset, logged),
        *causality_findings(others, lives),
        *path_findings(paths),
        *_overlapping(digest.silence_findings(), window),
        *pod_log_gaps(logged, digest.stream_stats(), lives, until),
        *digest.backwards_findings(),
        *future_findings(late, collected_at, options.gaps),
        *ttl_findings(others, window, collected_at, live_events, options.gaps),
        *metric_gap_findings(metrics),
        *record_findings(manifest, window),
    ]
    return Integrity(tuple(findings_sorted(findings)), tuple(paths))


def assemble(
    frames: Iterable[pd.DataFrame],
    metrics: Mapping[str, pd.DataFrame],
    manifest: Mapping[str, Any],
    corrections: Sequence[Correction] = (),
    options: Options = Options(),
) -> Assembled:
    """Merge and de-duplicate ``frames``, find integrity problems, apply ``corrections``,
    and return the timeline with the findings as ``clock``/``gap`` events."""
    merged = merge_events(frames)
    del frames  # a list of inputs held only here is freed now: the merge is a copy
    unique = deduplicate(merged)
    duplicates = len(merged) - len(unique)
    del merged
    integrity = check_integrity(unique, metrics, manifest, options)
    corrected, applied = apply_corrections(unique, corrections)
    del unique
    found = findings_frame(integrity.findings, [k for k, n in applied.items() if n])
    events = merge_events([corrected, found])
    return Assembled(events, integrity, applied, tuple(corrections), duplicates)


def _overlapping(findings: list[Finding], window: Window | None) -> list[Finding]:
    """The silences that overlap the window. A log file often runs for days beyond the
    incident (a day of syslog, rotated app logs): its quiet nights are no evidence missing
    from the incident, and listing them would bury the silences that are."""
    if window is None:
        return findings
    since, until = pd.Timestamp(window.since), pd.Timestamp(window.until)
    return [
        f for f in findings if f.time < until and (f.end if f.end is not None else f.time) > since
    ]


def select_corrections(integrity: Integrity, wanted: Sequence[str]) -> list[Correction]:
    """The suggested corrections named in ``wanted`` (``all`` for every one).

    Raises CorrectionError naming unknown ids and listing the ones on offer.
    """
    offered = {c.id: c for c in integrity.corrections()}
    if "all" in wanted:
        return list(offered.values())
    unknown = [w for w in wanted if w not in offered]
    if unknown:
        choices = ", ".join(offered) or "none"
        raise CorrectionError(f"no suggested correction {', '.join(unknown)}; on offer: {choices}")
    return [offered[w] for w in dict.fromkeys(wanted)]


def _ts(value: Any) -> pd.Timestamp | None:
    if not value:
        return None
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError):
        return None
    if pd.isna(stamp):
        return None
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")

"""The facts a postmortem tells, computed from a bundle's events into one context object.

`build_story` is the only entry: it takes the manifest and the events (with any human notes
already merged in), and returns a `Story`, the context every template gets as ``story``
(the shipped ``report/templates/postmortem.md.j2`` and a team's own ``--template``). No I/O,
no clock: the same bundle gives the same story.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import pandas as pd

from incident_timeline.collector.bundle import incomplete_message
from incident_timeline.report import appendix
from incident_timeline.report.changelog import Change, changes
from incident_timeline.report.facts import Moment, full, hms, human_duration, labels
from incident_timeline.report.response import (
    Detection,
    Impact,
    Response,
    detection,
    impact,
    response,
    with_peaks,
)
from incident_timeline.report.storyline import Storyline, storyline
from incident_timeline.timeline.keyevents import heartbeats, key_events
from incident_timeline.timeline.trust.checks import manifest_times
from incident_timeline.timeline.trust.findings import Correction
from incident_timeline.timeline.window import Window

STORY_ERRORS = 8  # error signatures in the story's timeline (the CLI's --key-only keeps 20)
_NUMBER = re.compile(r"^\[#(\d+)\]")


@dataclasses.dataclass(frozen=True)
class Tally:
    """How many events the whole timeline holds and how many of them are inside the window:
    what the story counts of the rows a reduced frame (see `build_story`) leaves out."""

    total: int
    inside: int


@dataclasses.dataclass(frozen=True)
class Incident:
    """A paging-system incident the bundle holds: id, number and title when known."""

    id: str
    number: str | None
    title: str | None
    # From the manifest's ``incident`` section (collect --pagerduty-incident), when known.
    urgency: str | None = None
    priority: str | None = None
    service: str | None = None
    escalation_policy: str | None = None
    responders: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class Story:
    """Everything a postmortem template can use (documented in the README, "Templates").

    Times are ``pandas.Timestamp`` in UTC; `Moment` and `Interval` (report.facts) carry
    ``hms``/``when``/``text`` for people. Text from evidence is plain: templates escape every
    ``{{ }}`` output for Markdown, so a template never has to.
    """

    title: str
    incomplete: str | None  # "bundle incomplete: source X did not finish; ..." or None
    date: str | None
    status: str
    incidents: list[Incident]
    severities: list[str]
    urgencies: list[str]
    window: Window | None
    impact: Impact
    summary: str | None
    changes: list[Change]
    leads: list[Change]
    detection: Detection
    response: Response
    timeline: Storyline
    findings: list[appendix.Finding]
    corrections: list[dict[str, str]]
    corrected_rows: int
    offered: list[str]
    queries: list[appendix.Query]
    sources: list[dict[str, Any]]
    files: list[dict[str, str]]
    regenerate: str
    csv_name: str | None
    generator: str
    total_events: int


def build_story(
    manifest: Mapping[str, Any],
    events: pd.DataFrame,
    *,
    corrections: Sequence[Correction] = (),
    applied: Mapping[str, int] | None = None,
    pins: Collection[str] = (),
    hides: Collection[str] = (),
    regenerate: str = "incident report BUNDLE",
    csv_name: str | None = None,
    metrics: Mapping[str, pd.DataFrame] | None = None,
    tally: Tally | None = None,
) -> Story:
    """Compute the story of ``events`` (all of the bundle's, human notes included);
    ``metrics`` are the bundle's metric samples by query name, for peak values.

    With ``tally`` (the whole timeline's counts), ``events`` may hold only the rows the story
    reads of it, in timeline order, indexed by their places in it (`report.drafts` streams
    them): every row that is not a log line, error and critical log lines, pinned rows and
    PagerDuty's rows. Nothing else reads an info or warning log line but the counts."""
    window = manifest_window(manifest)
    if tally is None:
        events = events.reset_index(drop=True)
    inside = _inside(events, window)
    counted = tally or Tally(len(events), len(inside))
    found = changes(inside)
    beats = heartbeats(inside, window)
    hurt = impact(inside)
    hurt = dataclasses.replace(
        hurt,
        breaches=[
            dataclasses.replace(b, query=_query_label(manifest, b.query))
            for b in with_peaks(hurt.breaches, metrics or {})
        ],
    )
    detected = detection(inside, ~beats)
    end = _impact_end(hurt)
    responded = response(inside, found, detected, end)
    key = key_events(events, window, max_errors=STORY_ERRORS)
    found_findings = appendix.findings(events)
    return Story(
        title=" ".join(str(manifest.get("title") or "Untitled incident").split()),
        incomplete=incomplete_message(dict(manifest)),
        date=_date(window, hurt),
        status="Draft",
        incidents=_incidents(inside, manifest.get("incident")),
        severities=_label_values(inside.loc[~beats], "severity", ("alert_firing",)),
        urgencies=_urgencies(inside, manifest.get("incident")),
        window=window,
        impact=hurt,
        summary=summary_sentence(manifest, hurt, found, responded),
        changes=found,
        leads=[c for c in found if _before_symptom(c, detected)],
        detection=detected,
        response=responded,
        timeline=storyline(inside, key, found, pins=pins, hides=hides, total=counted.inside),
        findings=found_findings,
        corrections=appendix.correction_lines(corrections, applied or {}),
        corrected_rows=sum((applied or {}).values()),
        offered=list(dict.fromkeys(f.offered for f in found_findings if f.offered)),
        queries=appendix.queries(manifest, inside, window),
        sources=appendix.sources(manifest),
        files=appendix.files(manifest),
        regenerate=regenerate,
        csv_name=csv_name,
        generator=_generator(manifest),
        total_events=counted.total,
    )


def summary_sentence(
    manifest: Mapping[str, Any], hurt: Impact, found: list[Change], responded: Response
) -> str | None:
    """One sentence of facts: the symptom and how long, the change before it, the
    mitigation and the resolution; None when the evidence shows no symptom."""
    symptom = _symptom(manifest, hurt)
    if symptom is None or hurt.start is None:
        return None
    parts = [symptom]
    before = [c for c in found if c.kind not in ("silence", "scale") and c.start < hurt.start]
    if before:
        change = before[-1]
        gap = human_duration(hurt.start - change.start)
        by = f" by {change.actor}" if change.actor else ""
        parts[0] += f", starting {gap} after {change.phrase}{by} ({change.hms})"
    fix = responded.mitigation
    if fix is not None:
        by = f" by {fix.actor}" if fix.actor else ""
        parts.append(f"mitigated by {fix.phrase}{by} at {fix.hms}")
    resolved = next((m for m in responded.metrics if m.label == "Time to resolve"), None)
    if resolved is not None:
        by = f" by {resolved.end.actor}" if resolved.end.actor else ""
        parts.append(f"resolved at {resolved.end.hms}{by}")
    return "; ".join(parts) + "."


def _symptom(manifest: Mapping[str, Any], hurt: Impact) -> str | None:
    span = _span(hurt)
    if hurt.breaches:
        breach = hurt.breaches[0]
        name = breach.query
        threshold = breach.start.labels.get("threshold", "")
        series = f" ({breach.series})" if breach.series else ""
        return f"{name} {threshold}{series}{span}".replace("  ", " ")
    if hurt.errors:
        count = sum(e.count for e in hurt.errors)
        who = ", ".join(e.service for e in hurt.errors[:3])
        return f"{count:,} error log line{'' if count == 1 else 's'} from {who}{span}"
    return None


def _span(hurt: Impact) -> str:
    if hurt.start is None:
        return ""
    if hurt.end is None:
        return f" from {hms(hurt.start)} UTC, still at the end of the window"
    return f" for {hurt.duration}, {hms(hurt.start)}–{hms(hurt.end)} UTC"


def _query_label(manifest: Mapping[str, Any], stream: str) -> str:
    config = manifest.get("config") or {}
    for q in (config.get("prometheus") or {}).get("queries") or []:
        if q.get("name") == stream:
            return str(q.get("label") or stream)
    for entry in config.get("file") or []:
        if entry.get("stream") == stream and entry.get("label"):
            return str(entry["label"])
    return stream


def _impact_end(hurt: Impact) -> Moment | None:
    if hurt.end is None:
        return None
    ends = [b.end for b in hurt.breaches if b.end is not None and b.end.time == hurt.end]
    if ends:
        return ends[0]
    return Moment(hurt.end, "last error log line", "logs")


def _before_symptom(change: Change, detected: Detection) -> bool:
    symptom = detected.first_symptom
    return change.kind != "silence" and (symptom is None or change.start < symptom.time)


def inside_count(events: pd.DataFrame, manifest: Mapping[str, Any]) -> int:
    """How many of ``events`` the story counts as inside the manifest's window."""
    return len(_inside(events, manifest_window(manifest)))


def _inside(events: pd.DataFrame, window: Window | None) -> pd.DataFrame:
    if window is None:
        return events
    mask = (events["time"] >= window.since) & (events["time"] < window.until)
    return events.loc[mask]


def _incidents(events: pd.DataFrame, paged: Any = None) -> list[Incident]:
    rows = events.loc[events["source"] == "pagerduty", "labels"]
    found: dict[str, Incident] = {}
    if isinstance(paged, Mapping) and paged.get("id"):
        number = paged.get("number")
        found[str(paged["id"])] = Incident(
            str(paged["id"]),
            None if number is None else str(number),
            paged.get("title"),
            urgency=paged.get("urgency"),
            priority=paged.get("priority"),
            service=paged.get("service"),
            escalation_policy=paged.get("escalation_policy"),
            responders=tuple(paged.get("responders") or ()),
        )
    for text in rows.drop_duplicates():
        lab = labels(text)
        ident = lab.get("incident")
        if ident and ident not in found:
            title = lab.get("incident_title")
            number = _NUMBER.match(title or "")
            found[ident] = Incident(ident, number.group(1) if number else None, title)
    return list(found.values())


def _urgencies(events: pd.DataFrame, paged: Any) -> list[str]:
    found = _label_values(events, "urgency", ("page_trigger",))
    urgency = paged.get("urgency") if isinstance(paged, Mapping) else None
    return sorted({*found, urgency} if urgency else set(found))


def _label_values(events: pd.DataFrame, key: str, kinds: tuple[str, ...]) -> list[str]:
    rows = events.loc[events["kind"].isin(kinds), "labels"]
    return sorted({labels(t).get(key, "") for t in rows.drop_duplicates()} - {""})


def _date(window: Window | None, hurt: Impact) -> str | None:
    if hurt.start is not None:
        return str(hurt.start.strftime("%Y-%m-%d"))
    return window.since.strftime("%Y-%m-%d") if window is not None else None


def _generator(manifest: Mapping[str, Any]) -> str:
    tool = manifest.get("tool") or {}
    name = tool.get("name") or "incident-timeline"
    version = tool.get("version") or "(unknown version)"
    collected = manifest_times(manifest)[1]
    when = full(collected) if collected is not None else "at an unknown time"
    return f"{name} {version} from bundle evidence collected {when}"


def manifest_window(manifest: Mapping[str, Any]) -> Window | None:
    """The collection window a bundle's manifest records, or None if it has none."""
    return manifest_times(manifest)[0]

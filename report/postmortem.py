"""A first draft of a blameless postmortem, in Markdown, from a bundle's evidence.

The draft has every section of the standard template (`SECTIONS`, in order). It pre-fills
what the evidence knows (window, first alert, page, acknowledgement, resolution, detection
and response times, the key-event timeline, the evidence index) and leaves what only people
can write (impact, root cause, lessons) as ``> _TODO (human): ..._`` prompts with questions.
It is a pure function of its inputs: no clock, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from incident_timeline.collector.bundle import incomplete_message, warning_text
from incident_timeline.report.render import md_cell, md_row
from incident_timeline.timeline.timefmt import human_duration
from incident_timeline.timeline.trust.findings import Correction

SECTIONS: tuple[str, ...] = (
    "Summary",
    "Impact",
    "Timeline",
    "Root Cause",
    "Contributing Factors",
    "Detection",
    "Response",
    "What Went Well",
    "What Went Wrong",
    "Action Items",
    "Lessons Learned",
    "Appendix",
)
ERROR_SEVERITIES = ("error", "critical")
MAX_LISTED = 10  # threshold crossings, changes and escalations listed in prose
PROMPTS: dict[str, str] = {
    "Summary": "In two or three sentences: what happened, to whom, for how long, and how it "
    "was fixed? Write it for someone who was not there.",
    "Impact": "Who and what was affected, and for how long? How many users, requests or "
    "orders failed? Which SLOs were breached, how much error budget was spent? Was any data "
    "lost or corrupted?",
    "Root Cause": "What conditions made this possible? Keep asking 'why' until you reach "
    "systems, defaults and decisions, not people. Which evidence (ref) supports each step?",
    "Contributing Factors": "What made it worse, longer or harder to diagnose? Missing "
    "alerts, noisy dashboards, risky defaults, unclear ownership, load, timing?",
    "Detection": "How was the incident noticed: an alert, a customer, someone looking? "
    "Could it have been detected sooner? Was the alert actionable?",
    "Response": "What was tried, in what order, and what worked? What slowed mitigation? "
    "Were runbooks, dashboards and access available when needed?",
    "What Went Well": "Which practices, tools or decisions helped? What should we keep doing?",
    "What Went Wrong": "Where did process or tooling get in the way? What surprised the "
    "responders?",
    "Action Items": "One row per action. Every action has one owner, a due date and a "
    "priority; prefer actions that prevent or detect over actions that ask people to be careful.",
    "Lessons Learned": "What did we learn about our systems and how we operate them? What "
    "would we tell another team?",
    "Appendix": "Link the dashboards, graphs and queries you used during the response.",
}
ACTION_PROMPTS: tuple[str, ...] = (
    "_TODO: prevent (remove or contain the root cause)_",
    "_TODO: detect sooner (alerting, dashboards)_",
    "_TODO: mitigate faster (runbooks, rollback, tooling)_",
)


@dataclass(frozen=True)
class Moment:
    """One event the draft refers to: when, what, where from, and who."""

    time: pd.Timestamp
    summary: str
    source: str
    actor: str | None


@dataclass(frozen=True)
class Facts:
    """The first occurrences the draft is built on; None where the evidence has none."""

    first_error: Moment | None
    first_threshold: Moment | None
    first_firing: Moment | None
    first_page: Moment | None
    ack: Moment | None
    resolve: Moment | None
    first_deploy: Moment | None


def postmortem(
    manifest: dict[str, Any],
    events: pd.DataFrame,
    key: pd.DataFrame,
    *,
    corrections: Sequence[Correction] = (),
    applied: Mapping[str, int] | None = None,
) -> str:
    """Draft a blameless postmortem in Markdown from a bundle manifest and its timelines.

    ``events`` is the full merged timeline (for first occurrences and counts), ``key`` the
    key events (for the Timeline table). ``corrections`` are the clock corrections the user
    accepted and ``applied`` how many rows each shifted; the Appendix lists them. Returns the
    document, ending with a newline.
    """
    facts = find_facts(events, _window(manifest))
    shifted = sum((applied or {}).values())
    bodies: dict[str, list[str]] = {
        "Summary": _summary(manifest, facts),
        "Impact": _impact(events),
        "Timeline": _timeline(events, key, shifted),
        "Root Cause": _root_cause(events, facts),
        "Detection": _detection(facts),
        "Response": _response(events, facts),
        "Action Items": _action_items(),
        "Appendix": _appendix(manifest, events) + _corrections(corrections, applied or {}),
    }
    title = " ".join(str(manifest.get("title") or "Untitled incident").split())
    lines = [f"# Postmortem: {title}", "", _status(manifest), ""]
    incomplete = incomplete_message(manifest)
    if incomplete:
        lines += [f"> **Warning: {incomplete}.** This draft shows only the finished sources.", ""]
    for name in SECTIONS:
        body = bodies[name] if name in bodies else [todo(PROMPTS[name])]
        lines += [f"## {name}", "", *body, ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def todo(prompt: str) -> str:
    """A blockquoted prompt for what only the people involved can write."""
    return f"> _TODO (human): {prompt}_"


def find_facts(
    events: pd.DataFrame, window: tuple[pd.Timestamp, pd.Timestamp] | None = None
) -> Facts:
    """Find the first error, threshold crossing, alert, page, ack, resolve and deploy."""
    kind, severity = events["kind"], events["severity"]
    first_page = _first(events, kind == "page_trigger")
    after_page = events["time"] >= first_page.time if first_page is not None else True
    deploys = kind == "deploy"
    if window is not None:
        deploys &= events["time"].between(*window)
    return Facts(
        first_error=_first(events, (kind == "log") & severity.isin(ERROR_SEVERITIES)),
        first_threshold=_first(events, kind == "metric_threshold"),
        first_firing=_first(events, kind == "alert_firing"),
        first_page=first_page,
        ack=_first(events, (kind == "page_ack") & after_page),
        resolve=_first(events, (kind == "page_resolve") & after_page),
        first_deploy=_first(events, deploys),
    )


def _status(manifest: dict[str, Any]) -> str:
    tool = manifest.get("tool") or {}
    name = tool.get("name") or "incident-timeline"
    version = tool.get("version") or "(unknown version)"
    collected = _ts(manifest.get("collected_at"))
    when = _fmt(collected) if collected is not None else "at an unknown time"
    return (
        f"Draft generated by {name} {version} from bundle evidence collected {when}; "
        "blameless: describe systems and decisions, not people."
    )


def _summary(manifest: dict[str, Any], facts: Facts) -> list[str]:
    lines = [todo(PROMPTS["Summary"]), ""]
    window = _window(manifest)
    if window is not None:
        since, until = window
        lines.append(
            f"- **Window:** {_fmt(since)} → {_fmt(until)} ({human_duration(until - since)})"
        )
    lines += _moment_line("First alert firing", facts.first_firing)
    lines += _moment_line("First page", facts.first_page)
    lines += _actor_line("Acknowledged", facts.ack)
    lines += _actor_line("Resolved", facts.resolve)
    lines += _moment_line("First deploy/rollback in window", facts.first_deploy)
    return lines


def _impact(events: pd.DataFrame) -> list[str]:
    lines = [todo(PROMPTS["Impact"])]
    errors = events.loc[(events["kind"] == "log") & events["severity"].isin(ERROR_SEVERITIES)]
    if len(errors):
        lines += [
            "",
            (
                f"- Error or critical log lines: {len(errors)} in "
                f"{errors['stream'].nunique()} stream(s), from {_fmt(errors['time'].min())} "
                f"to {_fmt(errors['time'].max())}"
            ),
        ]
    crossings = events.loc[events["kind"] == "metric_threshold"]
    for moment in _moments(crossings):
        lines.append(f"- Threshold crossing at {_fmt(moment.time)}: {md_cell(moment.summary)}")
    if len(crossings) > MAX_LISTED:
        lines.append(f"- … and {len(crossings) - MAX_LISTED} more threshold crossings")
    return lines


def _timeline(events: pd.DataFrame, key: pd.DataFrame, shifted: int = 0) -> list[str]:
    lines = [
        f"{len(events)} events in total, {len(key)} key events below; all times are UTC.",
        "",
    ]
    if shifted:
        note = (
            f"Times of {shifted} events were corrected for clock problems "
            "(see Appendix, Clock corrections applied)."
        )
        lines[1:1] = [note, ""]
    if not len(key):
        return [*lines, "_No key events were found in the evidence._"]
    lines += [md_row(("Time (UTC)", "Event", "Source", "Actor")), md_row(["---"] * 4)]
    times = key["time"].dt.strftime("%Y-%m-%d %H:%M:%S").tolist()
    for time, summary, source, actor in zip(
        times, key["summary"], key["source"], key["actor"], strict=True
    ):
        lines.append(md_row((time, md_cell(summary), md_cell(source), md_cell(actor))))
    return lines


def _root_cause(events: pd.DataFrame, facts: Facts) -> list[str]:
    lines = [todo(PROMPTS["Root Cause"])]
    before = events["kind"] == "deploy"
    anchor = facts.first_firing or facts.first_page
    if anchor is not None:
        before &= events["time"] <= anchor.time
    changes = _moments(events.loc[before], latest=True)
    if changes:
        lines += ["", "Changes before the first alert (leads to check, not conclusions):", ""]
        lines += [f"- {_fmt(m.time)}: {md_cell(m.summary)} ({md_cell(m.source)})" for m in changes]
    return lines


def _detection(facts: Facts) -> list[str]:
    lines = [todo(PROMPTS["Detection"]), ""]
    lines += _moment_line("First error log", facts.first_error)
    lines += _moment_line("First threshold crossing", facts.first_threshold)
    lines += _moment_line("First alert firing", facts.first_firing)
    lines += _moment_line("First page", facts.first_page)
    for label, start in (
        ("first error log", facts.first_error),
        ("first threshold crossing", facts.first_threshold),
    ):
        lines += _interval_line(f"From {label} to first alert firing", start, facts.first_firing)
        lines += _interval_line(f"From {label} to first page", start, facts.first_page)
    return lines if lines[-1] else lines[:-1]


def _response(events: pd.DataFrame, facts: Facts) -> list[str]:
    lines = [todo(PROMPTS["Response"]), ""]
    lines += _moment_line("Paged", facts.first_page)
    lines += _actor_line("Acknowledged", facts.ack)
    lines += _actor_line("Resolved", facts.resolve)
    lines += _interval_line("Time to acknowledge (page → ack)", facts.first_page, facts.ack)
    lines += _interval_line("Time to resolve (page → resolve)", facts.first_page, facts.resolve)
    for moment in _moments(events.loc[events["kind"] == "page_escalate"]):
        lines.append(f"- Escalation at {_fmt(moment.time)}: {md_cell(moment.summary)}")
    return lines if lines[-1] else lines[:-1]


def _action_items() -> list[str]:
    lines = [todo(PROMPTS["Action Items"]), ""]
    lines += [md_row(("Action", "Owner", "Due", "Priority")), md_row(["---"] * 4)]
    lines += [md_row((text, "_owner_", "_YYYY-MM-DD_", "_P1/P2/P3_")) for text in ACTION_PROMPTS]
    return lines


def _appendix(manifest: dict[str, Any], events: pd.DataFrame) -> list[str]:
    lines = [todo(PROMPTS["Appendix"]), "", "### Sources", ""]
    lines += [md_row(("Source", "Status", "Events", "Error")), md_row(["---"] * 4)]
    sources: dict[str, Any] = manifest.get("sources") or {}
    warnings = []
    for name in sorted(sources):
        info = sources[name] or {}
        count = (info.get("counts") or {}).get("events")
        cells = (name, info.get("status"), "" if count is None else str(count), info.get("error"))
        lines.append(md_row([md_cell(c) for c in cells]))
        warnings += [
            f"- {md_cell(name)}: {md_cell(warning_text(w))}" for w in info.get("warnings") or []
        ]
    if warnings:
        lines += ["", "### Source warnings", "", *warnings]
    caveats = _moments(events.loc[events["kind"].isin(("clock", "gap"))], limit=None)
    if caveats:
        lines += ["", "### Evidence caveats (clock and gap findings)", ""]
        lines += [f"- {_fmt(m.time)}: {md_cell(m.summary)} ({md_cell(m.source)})" for m in caveats]
        offered = (
            events.loc[events["kind"].isin(("clock", "gap")), "labels"]
            .str.extract(r'"correction_offered": "([^"]+)"')[0]
            .dropna()
        )
        if len(offered):
            ids = ", ".join(f"`{md_cell(i)}`" for i in dict.fromkeys(offered))
            offer = (
                f"Corrections on offer, not applied: {ids}; accept them with "
                "`incident clocks BUNDLE --correct` and regenerate this draft."
            )
            lines += ["", offer]
    lines += ["", "### Raw evidence index", ""]
    files: dict[str, Any] = manifest.get("files") or {}
    for path in sorted(files):
        info = files[path] or {}
        digest = str(info.get("sha256") or "")[:12]
        lines.append(f"- {_code(path)}: {info.get('bytes', '?')} bytes, sha256 {_code(digest)}")
    if not files:
        lines.append("_The manifest lists no files._")
    return lines


def _corrections(corrections: Sequence[Correction], applied: Mapping[str, int]) -> list[str]:
    if not corrections:
        return []
    intro = (
        "Accepted with `incident clocks --correct` (kept in `corrections.json`); each "
        "shifted row has `time_quality` `corrected` and keeps its original instant in "
        "its labels (`time_original`, `embedded_time_original`)."
    )
    lines = ["", "### Clock corrections applied", "", intro, ""]
    for corr in corrections:
        columns = " and ".join(f"`{c}`" for c in corr.columns)
        lines.append(
            f"- `{md_cell(corr.id)}`: {md_cell(corr.description)}; {columns} shifted by "
            f"{corr.shift_ns / 1e9:+.3f} s on {applied.get(corr.id, 0)} rows"
        )
    return lines


def _moment_line(label: str, moment: Moment | None) -> list[str]:
    if moment is None:
        return []
    text = f"{md_cell(moment.summary)} ({md_cell(moment.source)})"
    return [f"- **{label}:** {_fmt(moment.time)} — {text}"]


def _actor_line(label: str, moment: Moment | None) -> list[str]:
    if moment is None:
        return []
    who = f"by {md_cell(moment.actor)}" if moment.actor else "(actor not recorded)"
    return [f"- **{label}:** {_fmt(moment.time)} {who}"]


def _interval_line(label: str, start: Moment | None, end: Moment | None) -> list[str]:
    if start is None or end is None:
        return []
    delta = end.time - start.time
    if delta < pd.Timedelta(0):
        return [f"- {label}: {human_duration(delta)} (the second event came first)"]
    return [f"- {label}: {human_duration(delta)}"]


def _first(events: pd.DataFrame, mask: Any) -> Moment | None:
    found = _moments(events.loc[mask], limit=1)
    return found[0] if found else None


def _moments(
    rows: pd.DataFrame, limit: int | None = MAX_LISTED, *, latest: bool = False
) -> list[Moment]:
    """The earliest (or latest) ``limit`` rows as Moments in time order, input order on ties."""
    ordered = rows.sort_values("time", kind="stable")
    if limit is not None:
        ordered = ordered.tail(limit) if latest else ordered.head(limit)
    return [
        Moment(time, str(summary), str(source), None if pd.isna(actor) else str(actor))
        for time, summary, source, actor in zip(
            ordered["time"], ordered["summary"], ordered["source"], ordered["actor"], strict=True
        )
    ]


def _window(manifest: dict[str, Any]) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    window = manifest.get("window") or {}
    since, until = _ts(window.get("since")), _ts(window.get("until"))
    return None if since is None or until is None else (since, until)


def _ts(value: Any) -> pd.Timestamp | None:
    """Parse a manifest time; naive ones are UTC (the manifest writes UTC)."""
    if not value:
        return None
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError):
        return None
    if pd.isna(stamp):
        return None
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def _fmt(stamp: pd.Timestamp) -> str:
    return f"{stamp.strftime('%Y-%m-%d %H:%M:%S')} UTC"


def _code(text: str) -> str:
    return f"`{text}`" if "`" not in text and text else md_cell(text)

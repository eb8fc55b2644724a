"""Node clock findings: the primary measure of each node's clock, with what the others say.

Per node (see `timeline.trust.nodeclock` for the measures and their signs): when Prometheus
holds ``node_time_seconds`` for the node, each run of scrapes off by `NODE_OFFSET_SECONDS` or
more is a finding, and the kernel's ``node_timex_*`` and the kubelet's events are named as
agreeing or disagreeing; a node the direct measure shows in step while another measure says
otherwise gets a finding that says so, with no correction. Without ``node_time_seconds`` the
kernel's offset is the primary measure, and without node_exporter at all the kubelet's events
are. Each finding states the measure, the number of samples and the spread.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import pandas as pd

from incident_timeline.timeline.timefmt import hms, seconds_text
from incident_timeline.timeline.trust.eventclock import (
    STAMP_PRECISION,
    EventSkew,
    describe,
    event_skews,
)
from incident_timeline.timeline.trust.evidence import PodLife, log_pods
from incident_timeline.timeline.trust.findings import Finding
from incident_timeline.timeline.trust.nodeclock import (
    NODE_OFFSET_SECONDS,
    Reading,
    direct_readings,
    node_correction,
    timex_readings,
    timex_support,
)

REFERENCE = {
    "node_timex_offset_seconds": "its NTP reference",
    "kubelet events": "the API server",
}


def node_clock_findings(
    events: pd.DataFrame,
    metrics: Mapping[str, pd.DataFrame],
    lives: Mapping[str, PodLife],
    limit: float = NODE_OFFSET_SECONDS,
    logged: Mapping[str, list[str]] | None = None,
) -> list[Finding]:
    """Every node clock finding of a bundle (see the module docstring); ``logged`` is
    `log_pods` of the events, given when ``events`` holds no log lines."""
    logged = log_pods(events) if logged is None else logged
    direct = direct_readings(metrics, limit)
    kernel, timex = timex_readings(metrics, limit)
    skews = event_skews(events)
    findings: list[Finding] = []
    for node in sorted(set(direct) | set(kernel) | set(skews)):
        skew = skews.get(node)
        if node in direct:
            primary = direct[node]
            if not primary:
                findings += _disagreements(node, kernel.get(node, []), skew, limit)
        else:
            primary = kernel.get(node, [])
        if not primary and node not in direct and node not in kernel and skew is not None:
            primary = [_event_reading(skew)] if abs(skew.offset) >= STAMP_PRECISION else []
        for index, reading in enumerate(primary):
            findings.append(_finding(reading, index, timex, skew, events, lives, logged))
    return findings


def _event_reading(skew: EventSkew) -> Reading:
    return Reading(
        node=skew.node,
        measure="kubelet events",
        start=skew.first,
        end=skew.last,
        offset=skew.offset,
        low=skew.offset - STAMP_PRECISION,
        high=skew.offset + STAMP_PRECISION,
        samples=skew.events,
        spread=skew.spread,
        ref=skew.ref,
        open_start=True,
        open_end=True,
        note="reported − created, whole-second stamps",
    )


def _finding(
    reading: Reading,
    index: int,
    timex: pd.DataFrame,
    skew: EventSkew | None,
    events: pd.DataFrame,
    lives: Mapping[str, PodLife],
    logged: Mapping[str, list[str]],
) -> Finding:
    node, off = reading.node, reading.offset
    support = timex_support(reading, timex)
    agree, disagree, labels = support.agree, support.disagree, support.labels
    if skew is not None and reading.measure != "kubelet events":
        (agree if abs(skew.offset - off) <= STAMP_PRECISION else disagree).append(describe(skew))
        labels |= {"event_offset_seconds": f"{skew.offset:.1f}", "event_count": str(skew.events)}
    correction, counts, carried = node_correction(reading, events, lives, logged)
    if index:
        correction = replace(correction, id=_id(reading, index))
    side = "ahead of" if off > 0 else "behind"
    reference = REFERENCE.get(reading.measure, "Prometheus")
    how = _how(reading)
    said = "".join(
        f"; {name}: {', '.join(texts)}"
        for name, texts in (("agree", agree), ("silent", support.silent), ("disagree", disagree))
        if texts
    )
    summary = (
        f"{node} clock {seconds_text(off)} {side} {reference} "
        f"({hms(reading.start)}–{hms(reading.end)}; {how}){said}"
    )
    detail = (
        f"{reading.measure} on {node}: {off:+.3f} s (between {reading.low:+.3f} and "
        f"{reading.high:+.3f} s; {reading.note}) from {reading.start:%Y-%m-%d %H:%M:%S} to "
        f"{reading.end:%H:%M:%S} UTC. {carried}. Correction: shift them by "
        f"{'+' if off < 0 else '−'}{seconds_text(off)}"
        + (" (the measures disagree: check before accepting)." if disagree else ".")
    )
    labels |= counts | _labels(reading, agree, disagree)
    return Finding(
        id=_id(reading, index),
        kind="clock",
        check="node_clock",
        time=reading.start,
        end=reading.end,
        subject=f"node/{node}",
        summary=summary,
        detail=detail,
        ref=reading.ref,
        labels=labels,
        correction=correction,
    )


def _id(reading: Reading, index: int) -> str:
    base = f"node_clock:{reading.node}"
    return base if not index else f"{base}@{hms(reading.start)}"


def _how(reading: Reading) -> str:
    unit = {"kubelet events": "events"}.get(reading.measure, "samples")
    if reading.measure.startswith("node_time_seconds"):
        unit = "scrapes"
    return (
        f"{reading.measure}, median of {reading.samples} {unit}, spread {_spread(reading.spread)}"
    )


def _spread(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else seconds_text(seconds)


def _labels(reading: Reading, agree: list[str], disagree: list[str]) -> dict[str, str]:
    return {
        "node": reading.node,
        "measure": reading.measure,
        "offset_seconds": f"{reading.offset:.3f}",
        "low_seconds": f"{reading.low:.3f}",
        "high_seconds": f"{reading.high:.3f}",
        "samples": str(reading.samples),
        "spread_seconds": f"{reading.spread:.3f}",
        "start": hms(reading.start),
        "end": hms(reading.end),
        "agree": "; ".join(agree),
        "disagree": "; ".join(disagree),
    }


def _disagreements(
    node: str, kernel: list[Reading], skew: EventSkew | None, limit: float
) -> list[Finding]:
    """The direct measure shows ``node`` in step; other measures that say otherwise."""
    others = [(r.measure, r.offset, r.start, r.end, r.ref, r.samples) for r in kernel]
    if skew is not None and abs(skew.offset) >= max(limit, STAMP_PRECISION):
        others.append(("kubelet events", skew.offset, skew.first, skew.last, skew.ref, skew.events))
    findings = []
    for measure, offset, start, end, ref, samples in others:
        findings.append(
            Finding(
                id=f"node_clock_disagree:{node}:{measure.split()[0]}@{hms(start)}",
                kind="clock",
                check="node_clock_disagree",
                time=start,
                end=end,
                subject=f"node/{node}",
                summary=(
                    f"{node}: {measure} says its clock is {seconds_text(offset)} "
                    f"{'ahead' if offset > 0 else 'behind'} ({samples} samples), but "
                    f"node_time_seconds − scrape time shows no skew: the measures disagree"
                ),
                detail=(
                    "node_time_seconds against Prometheus' own scrape time is the direct "
                    f"measure and shows {node} within {limit:g} s; {measure} reads "
                    f"{offset:+.3f} s. No correction is offered; find out which is wrong."
                ),
                ref=ref,
                labels={"node": node, "measure": measure, "offset_seconds": f"{offset:.3f}"},
            )
        )
    return findings

"""Clock checks: app vs runtime clock per stream, node clocks, and effects before causes.

- **App clock**: for log lines with two clocks (``embedded_time``, the app's own stamp, and
  ``time``, the container runtime's), the median of ``embedded - time`` per stream. A constant
  offset of whole quarter-hours means the app writes local time without a zone (the zones that
  fit are named, and reading its stamps in that offset is offered as a correction); a steady
  offset of seconds is a skewed app clock (corrected) or, when the offset is negative and
  spread out, buffered logging (reported, not corrected).
- **Node clocks**: in `timeline.trust.nodeclock` (the measures, and the kernel's sign) and
  `timeline.trust.nodefindings` (the findings).
- **Causality**: a kubelet event about a pod stamped before the scheduler assigned the pod.

Every function takes frames and returns `Finding` lists; nothing here does I/O.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from zoneinfo import ZoneInfo, available_timezones

import numpy as np
import pandas as pd

from incident_timeline.timeline.timefmt import seconds_text, signed
from incident_timeline.timeline.trust.evidence import (
    PodLife,
    stream_labels,
)
from incident_timeline.timeline.trust.findings import Correction, Finding
from incident_timeline.timeline.trust.nodeclock import NODE_OFFSET_SECONDS

QUARTER_HOUR = 900.0
# Zones people most often mean, listed first when several fit one offset.
COMMON_ZONES: tuple[str, ...] = (
    "America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles",
    "America/Phoenix", "America/Anchorage", "Pacific/Honolulu", "America/Toronto",
    "America/Mexico_City", "America/Bogota", "America/Lima", "America/Halifax",
    "America/Sao_Paulo", "America/Argentina/Buenos_Aires", "America/St_Johns",
    "Europe/London", "Europe/Lisbon", "Europe/Paris", "Europe/Berlin", "Europe/Madrid",
    "Europe/Amsterdam", "Europe/Athens", "Europe/Kyiv", "Europe/Istanbul", "Europe/Moscow",
    "Africa/Lagos", "Africa/Cairo", "Africa/Johannesburg", "Asia/Dubai", "Asia/Tehran",
    "Asia/Karachi", "Asia/Kolkata", "Asia/Kathmandu", "Asia/Dhaka", "Asia/Bangkok",
    "Asia/Jakarta", "Asia/Singapore", "Asia/Shanghai", "Asia/Hong_Kong", "Asia/Seoul",
    "Asia/Tokyo", "Australia/Perth", "Australia/Adelaide", "Australia/Sydney",
    "Pacific/Auckland", "UTC",
)  # fmt: skip
_LEGACY = ("Etc/", "SystemV/", "US/", "Canada/", "Mexico/", "Brazil/", "Chile/", "posix/", "right/")


@dataclass(frozen=True)
class Thresholds:
    """When a difference is worth a finding. The defaults and why:

    - ``app_skew`` 1 s: app-to-runtime latency is milliseconds; a second is far above it and is
      where a timeline read to the second starts to mislead.
    - ``zone_tolerance`` 5 s: a zone offset plus a few seconds of skew or buffering still reads
      as a zone (the brief's "± a few seconds").
    - ``min_clock_lines`` 5: a median of fewer lines is not an offset.
    - ``node_offset``: `NODE_OFFSET_SECONDS` (0.1 s), the one node-clock threshold, shared
      with the collector; its reason is given where it is defined.
    """

    app_skew: float = 1.0
    zone_tolerance: float = 5.0
    min_clock_lines: int = 5
    node_offset: float = NODE_OFFSET_SECONDS


@dataclass(frozen=True)
class StreamClock:
    """One log stream whose app clock makes a finding: its verdict, its offsets (embedded_time
    − time, seconds) and its first and last line with an app stamp."""

    stream: str
    who: str
    verdict: str
    size: float
    offsets: np.ndarray
    first: pd.Timestamp
    last: pd.Timestamp
    head: tuple[pd.Timestamp, str]  # time and source of its first line, in timeline order
    ref: str


def app_clock_findings(events: pd.DataFrame, limits: Thresholds = Thresholds()) -> list[Finding]:
    """Streams whose app clock (embedded_time) disagrees with the runtime clock (time)."""
    return app_clock_groups(stream_clocks(events, limits))


def stream_clocks(events: pd.DataFrame, limits: Thresholds = Thresholds()) -> list[StreamClock]:
    """The log streams of ``events`` whose app clock is off; each stream must be whole."""
    mask = ((events["kind"] == "log") & events["embedded_time"].notna()).to_numpy(dtype=bool)
    rows = events.loc[mask, ["time", "embedded_time", "source", "stream", "labels", "ref"]]
    if rows.empty:
        return []
    offset = (rows["embedded_time"] - rows["time"]).dt.total_seconds()
    stats = offset.groupby(rows["stream"]).agg(
        n="size", median="median", p10=lambda s: s.quantile(0.1), p90=lambda s: s.quantile(0.9)
    )
    stats = stats[stats["n"] >= limits.min_clock_lines]
    labels = stream_labels(rows)
    where = rows.reset_index(drop=True).groupby("stream", sort=True).indices
    found = []
    for stream, st in stats.iterrows():
        verdict = _classify(float(st["median"]), float(st["p90"] - st["p10"]), limits)
        if verdict is None:
            continue
        at = where[stream]
        times = rows["time"].iloc[at]
        found.append(
            StreamClock(
                stream=str(stream),
                who=labels.get(str(stream), {}).get("container") or str(stream),
                verdict=verdict[0],
                size=verdict[1],
                offsets=offset.iloc[at].to_numpy(),
                first=times.min(),
                last=times.max(),
                head=(times.iloc[0], str(rows["source"].iloc[at[0]])),
                ref=str(rows["ref"].iloc[at[0]]),
            )
        )
    return found


def app_clock_groups(clocks: Sequence[StreamClock]) -> list[Finding]:
    """One finding per container and verdict, over its streams' offsets together."""
    groups: dict[tuple[str, str, float], list[StreamClock]] = {}
    for clock in clocks:
        groups.setdefault((clock.who, clock.verdict, clock.size), []).append(clock)
    findings = []
    for (who, kind, size), members in sorted(groups.items()):
        # The group's first line in timeline order (time, source, stream) gives the evidence.
        head = min(members, key=lambda c: (*c.head, c.stream))
        part = _Part(
            first=min(c.first for c in members),
            last=max(c.last for c in members),
            ref=head.ref,
            offsets=pd.Series(np.concatenate([c.offsets for c in members])),
        )
        streams = sorted(c.stream for c in members)
        findings.append(_app_finding(who, kind, size, streams, part))
    return findings


@dataclass(frozen=True)
class _Part:
    first: pd.Timestamp
    last: pd.Timestamp
    ref: str
    offsets: pd.Series


def _classify(median: float, spread: float, limits: Thresholds) -> tuple[str, float] | None:
    """('zone', whole offset) | ('skew', offset) | ('buffered', offset) | None."""
    whole = round(median / QUARTER_HOUR) * QUARTER_HOUR
    if whole and abs(median - whole) <= limits.zone_tolerance and spread <= limits.zone_tolerance:
        return "zone", whole
    if abs(median) < limits.app_skew:
        return None
    if median < 0 and spread > max(0.5, 0.25 * abs(median)):
        return "buffered", round(median, 1)
    return "skew", round(median, 3)


def _app_finding(who: str, verdict: str, size: float, streams: list[str], part: _Part) -> Finding:
    first, last, offsets = part.first, part.last, part.offsets
    median = float(offsets.median())
    where = f"{len(streams)} stream{'s' if len(streams) > 1 else ''}, {len(offsets)} lines"
    labels = {
        "offset_seconds": f"{median:.3f}",
        "streams": str(len(streams)),
        "lines": str(len(offsets)),
        "p10_seconds": f"{offsets.quantile(0.1):.3f}",
        "p90_seconds": f"{offsets.quantile(0.9):.3f}",
        "container": who,
    }
    spread = f"p10 {labels['p10_seconds']} s, p90 {labels['p90_seconds']} s"
    correction = None
    if verdict == "zone":
        summary, detail, extra = _zone_texts(who, int(size), median, first, where)
        labels |= extra
        correction = Correction(
            id=f"app_clock:{who}",
            description=f"read {who}'s timestamps as {extra['utc_offset']}",
            shift_ns=round(-size * 1e9),
            columns=("embedded_time",),
            streams=tuple(streams),
        )
    elif verdict == "skew":
        ahead = "ahead of" if median > 0 else "behind"
        summary = (
            f"{who}: app clock {signed(median)} off the runtime clock, steadily "
            f"({where}): a skewed clock in the app"
        )
        detail = (
            f"The app's own stamps in {who} are {seconds_text(median)} {ahead} the "
            f"runtime's, with little spread ({spread}): the app takes its time from "
            f"another clock. Correction: shift embedded_time by {signed(-median)}."
        )
        correction = Correction(
            id=f"app_clock:{who}",
            description=f"shift {who}'s app stamps {signed(-median)}",
            shift_ns=round(-median * 1e9),
            columns=("embedded_time",),
            streams=tuple(streams),
        )
    else:
        summary = (
            f"{who}: lines reach the runtime {seconds_text(median)} after the app "
            f"stamped them, unevenly ({where}): buffered logging"
        )
        detail = (
            f"In {who} the runtime's time is later than the app's by "
            f"{seconds_text(median)} (median; {spread}): the app buffers its output. "
            "Within these streams the app's stamps order events better than the "
            "runtime's; no correction."
        )
    return Finding(
        id=f"app_clock:{who}",
        kind="clock",
        check="app_clock",
        time=first,
        end=last,
        subject=f"container/{who}",
        summary=summary,
        detail=detail,
        ref=part.ref,
        labels=labels,
        correction=correction,
    )


def _zone_texts(
    who: str, size: int, median: float, first: pd.Timestamp, where: str
) -> tuple[str, str, dict[str, str]]:
    """Summary, detail and labels of an app that writes naive local time."""
    zones = zones_for_offset(size, first)
    utc = utc_offset_text(size)
    ahead = "ahead of" if size > 0 else "behind"
    named = ", ".join(zones[:4]) + (f" and {len(zones) - 4} more" if len(zones) > 4 else "")
    summary = (
        f"{who} logs local time without a zone: its stamps are {seconds_text(size)} "
        f"{ahead} the runtime clock ({where}); fits {utc}: {named or 'no IANA zone'}"
    )
    detail = (
        f"The app in {who} writes naive local time; read as UTC its stamps are "
        f"{seconds_text(size)} {ahead} the container runtime's (median {median:+.3f} s). "
        f"Zones at {utc} on {first:%Y-%m-%d}: {', '.join(zones) or 'none'}. "
        f"Correction: read its stamps as {utc} (shift embedded_time by "
        f"{signed(-size, 0)})."
    )
    return (
        summary,
        detail,
        {"utc_offset": utc, "zones": ",".join(zones[:8]), "zones_count": str(len(zones))},
    )


@lru_cache(maxsize=64)
def _zones_at(offset_seconds: int, day: str) -> tuple[str, ...]:
    when = pd.Timestamp(day, tz="UTC").to_pydatetime()
    found = []
    for name in available_timezones():
        if "/" not in name or name.startswith(_LEGACY):
            continue
        delta = when.astimezone(ZoneInfo(name)).utcoffset()
        if delta is not None and int(delta.total_seconds()) == offset_seconds:
            found.append(name)
    common = [z for z in COMMON_ZONES if z in found]
    return tuple(common + sorted(set(found) - set(common)))


def zones_for_offset(offset_seconds: int, when: pd.Timestamp) -> list[str]:
    """IANA zones whose UTC offset at ``when`` is ``offset_seconds``; common ones first."""
    return list(_zones_at(offset_seconds, when.tz_convert("UTC").strftime("%Y-%m-%dT%H:00")))


def utc_offset_text(offset_seconds: int) -> str:
    """``-18000`` -> ``UTC−05:00``."""
    sign = "+" if offset_seconds >= 0 else "−"
    hours, minutes = divmod(abs(offset_seconds) // 60, 60)
    return f"UTC{sign}{hours:02d}:{minutes:02d}"


def causality_findings(events: pd.DataFrame, lives: Mapping[str, PodLife]) -> list[Finding]:
    """Kubelet events about a pod stamped over a second before the scheduler assigned it:
    the effect precedes its cause, so the node's clock is behind."""
    k8s = events.loc[(events["kind"] == "k8s_event").to_numpy(dtype=bool)]
    k8s = k8s.loc[k8s["labels"].str.contains('"node": ', regex=False).to_numpy(dtype=bool)]
    early: dict[str, list[tuple[float, str, pd.Timestamp]]] = {}
    for stream, group in k8s.groupby("stream", sort=True):
        ns, _, name = str(stream).partition("/pod/")
        life = lives.get(f"{ns}/{name}")
        if life is None or life.scheduled is None or life.node is None:
            continue
        lead = (life.scheduled - group["time"]).dt.total_seconds()
        if (lead > 1.0).any():
            worst = lead.idxmax()
            early.setdefault(life.node, []).append(
                (float(lead.max()), str(group.at[worst, "ref"]), life.scheduled)
            )
    findings = []
    for node, cases in sorted(early.items()):
        lead, ref, when = max(cases)
        findings.append(
            Finding(
                id=f"causality:{node}",
                kind="clock",
                check="causality",
                time=when,
                end=None,
                subject=f"node/{node}",
                summary=(
                    f"{node}'s kubelet reports pod events up to {seconds_text(lead)} before "
                    f"the scheduler assigned the pod ({len(cases)} pods): {node}'s clock is "
                    "behind"
                ),
                detail=(
                    f"An effect precedes its cause: the kubelet on {node} stamped events of "
                    f"{len(cases)} pods before their Scheduled event (control-plane clock), "
                    f"by up to {lead:.0f} s (event stamps are whole seconds)."
                ),
                ref=ref,
                labels={"node": node, "lead_seconds": f"{lead:.0f}", "pods": str(len(cases))},
            )
        )
    return findings


def findings_sorted(findings: Sequence[Finding]) -> list[Finding]:
    """Findings in timeline order (time, kind, id): a total, deterministic order, each with
    an id of its own (see `unique_ids`)."""
    return unique_ids(sorted(findings, key=lambda f: (f.time, f.kind, f.id)))


def unique_ids(findings: Sequence[Finding]) -> list[Finding]:
    """``findings`` with ids that name one finding each. An id carries a time of day
    (``silence:api@14:20:00``), so a window of several days can give two findings the same
    id, and a correction accepted by id would then be ambiguous. Each finding of a repeated
    id gets its UTC date (``silence:api@14:20:00/2026-02-18``), and a number after that if
    the date is shared too (``…/2026-02-18#2``); its correction is renamed with it."""
    ids = Counter(f.id for f in findings)
    dated = [
        f"{f.id}/{f.time.tz_convert('UTC'):%Y-%m-%d}" if ids[f.id] > 1 else f.id for f in findings
    ]
    names = Counter(dated)
    taken: Counter[str] = Counter()
    out = []
    for f, name in zip(findings, dated, strict=True):
        taken[name] += 1
        if names[name] > 1 and taken[name] > 1:
            name = f"{name}#{taken[name]}"
        if name != f.id:
            corr = f.correction
            if corr is not None and corr.id == f.id:
                corr = replace(corr, id=name)
            f = replace(f, id=name, correction=corr)
        out.append(f)
    return out

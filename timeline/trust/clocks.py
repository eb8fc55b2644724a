"""Clock checks: app vs runtime clock per stream, node clocks, and effects before causes.

- **App clock**: for log lines with two clocks (``embedded_time``, the app's own stamp, and
  ``time``, the container runtime's), the median of ``embedded - time`` per stream. A constant
  offset of whole quarter-hours means the app writes local time without a zone (the zones that
  fit are named, and reading its stamps in that offset is offered as a correction); a steady
  offset of seconds is a skewed app clock (corrected) or, when the offset is negative and
  spread out, buffered logging (reported, not corrected).
- **Node clocks**: ``node_timex_offset_seconds`` (with ``node_timex_sync_status`` and
  ``node_timex_maxerror_seconds`` when present) per node; runs of samples off by more than
  `Thresholds.node_offset` are reported with the streams that carry that node's clock (the logs
  of pods scheduled there and its kubelet's events), and shifting them is offered.

  The sign (`TIMEX_SIGN`): node_exporter's timex collector reports adjtimex(2)'s ``offset``,
  the phase correction the kernel is still slewing in. In Linux ``kernel/time/ntp.c``
  (``second_overflow``) a positive ``time_offset`` is added to each tick, so the clock is
  advanced: **a positive offset means the node's clock is behind** its reference (ntpd passes
  reference − local to ``ADJ_OFFSET``). A node reported behind is corrected forward.
- **Causality**: a kubelet event about a pod stamped before the scheduler assigned the pod.

Every function takes frames and returns `Finding` lists; nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from zoneinfo import ZoneInfo, available_timezones

import numpy as np
import pandas as pd

from incident_timeline.timeline.timefmt import hms, seconds_text, signed
from incident_timeline.timeline.trust.evidence import (
    PodLife,
    log_pods,
    metric_names,
    pods_on,
    series_labels,
    stream_labels,
)
from incident_timeline.timeline.trust.findings import Correction, Finding

QUARTER_HOUR = 900.0
# node_timex_offset_seconds > 0: the node's clock is behind; its clock reads
# TIMEX_SIGN * offset relative to the reference (negative: behind). See the module docstring.
TIMEX_SIGN = -1.0
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
    - ``node_offset`` 0.1 s: NTP keeps nodes within milliseconds; 100 ms reorders log lines of
      two nodes at the millisecond precision they are printed with.
    - ``min_node_samples`` 2: one odd sample is noise, two in a row are a state.
    """

    app_skew: float = 1.0
    zone_tolerance: float = 5.0
    min_clock_lines: int = 5
    node_offset: float = 0.1
    min_node_samples: int = 2


def app_clock_findings(events: pd.DataFrame, limits: Thresholds = Thresholds()) -> list[Finding]:
    """Streams whose app clock (embedded_time) disagrees with the runtime clock (time)."""
    mask = ((events["kind"] == "log") & events["embedded_time"].notna()).to_numpy(dtype=bool)
    rows = events.loc[mask, ["time", "embedded_time", "stream", "labels", "ref"]]
    if rows.empty:
        return []
    offset = (rows["embedded_time"] - rows["time"]).dt.total_seconds()
    stats = offset.groupby(rows["stream"]).agg(
        n="size", median="median", p10=lambda s: s.quantile(0.1), p90=lambda s: s.quantile(0.9)
    )
    stats = stats[stats["n"] >= limits.min_clock_lines]
    labels = stream_labels(rows)
    groups: dict[tuple[str, str, float], list[str]] = {}
    for stream, st in stats.iterrows():
        verdict = _classify(float(st["median"]), float(st["p90"] - st["p10"]), limits)
        if verdict is not None:
            who = labels.get(str(stream), {}).get("container") or str(stream)
            groups.setdefault((who, *verdict), []).append(str(stream))
    findings = []
    for (who, kind, size), streams in sorted(groups.items()):
        part = rows.loc[rows["stream"].isin(streams).to_numpy(dtype=bool)]
        spread = offset.loc[part.index]
        findings.append(_app_finding(who, kind, size, sorted(streams), part, spread))
    return findings


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


def _app_finding(
    who: str, verdict: str, size: float, streams: list[str], part: pd.DataFrame, offsets: pd.Series
) -> Finding:
    first, last = part["time"].min(), part["time"].max()
    median = float(offsets.median())
    where = f"{len(streams)} stream{'s' if len(streams) > 1 else ''}, {len(part)} lines"
    labels = {
        "offset_seconds": f"{median:.3f}",
        "streams": str(len(streams)),
        "lines": str(len(part)),
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
        ref=str(part["ref"].iloc[0]),
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


def node_clock_findings(
    events: pd.DataFrame,
    metrics: Mapping[str, pd.DataFrame],
    lives: Mapping[str, PodLife],
    limits: Thresholds = Thresholds(),
) -> list[Finding]:
    """Nodes whose ``node_timex_offset_seconds`` is off by more than ``limits.node_offset``."""
    timex = _timex(metrics)
    offsets = timex.get("node_timex_offset_seconds")
    if offsets is None or offsets.empty:
        return []
    findings = []
    for node, samples in offsets.groupby("node", sort=True):
        samples = samples.sort_values("time", kind="stable").reset_index(drop=True)
        bad = (samples["value"].abs() >= limits.node_offset).to_numpy(dtype=bool)
        for start, stop in _runs(bad):
            if stop - start < limits.min_node_samples:
                continue
            run = samples.iloc[start:stop]
            open_start, open_end = start == 0, stop == len(samples)
            findings.append(
                _node_finding(str(node), run, timex, events, lives, (open_start, open_end))
            )
    return findings


def _timex(metrics: Mapping[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """node_timex_* samples by metric name, with a ``node`` column and the sample's ref."""
    out: dict[str, list[pd.DataFrame]] = {}
    for name, samples in sorted(metrics.items()):
        if samples.empty:
            continue
        names = metric_names(samples, name.removesuffix(".json"))
        for metric in (
            "node_timex_offset_seconds",
            "node_timex_sync_status",
            "node_timex_maxerror_seconds",
        ):
            part = samples.loc[(names == metric).to_numpy(dtype=bool)].copy()
            if part.empty:
                continue
            labels = series_labels(part)
            part["node"] = part["series"].map({s: _node_of(lab) for s, lab in labels.items()})
            pointer = part["pointer"] if "pointer" in part else pd.Series("", index=part.index)
            part["ref"] = f"metrics/{name}.parquet#" + pointer.fillna("").astype(str)
            out.setdefault(metric, []).append(part)
    return {k: pd.concat(v, ignore_index=True) for k, v in out.items()}


def _node_of(labels: Mapping[str, str]) -> str:
    for key in ("node", "nodename", "kubernetes_node", "hostname"):
        if labels.get(key):
            return labels[key]
    return labels.get("instance", "?").rsplit(":", 1)[0]


def _runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) index ranges where ``flags`` is true."""
    edges = np.diff(np.concatenate([[0], flags.astype(np.int8), [0]]))
    return list(
        zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist(), strict=True)
    )


def _node_finding(
    node: str,
    run: pd.DataFrame,
    timex: Mapping[str, pd.DataFrame],
    events: pd.DataFrame,
    lives: Mapping[str, PodLife],
    open_ends: tuple[bool, bool],
) -> Finding:
    start, end = run["time"].iloc[0], run["time"].iloc[-1]
    median = float(run["value"].median())
    peak = float(run["value"].abs().max())
    pods = pods_on(lives, node)
    streams = [s for pod, ss in log_pods(events).items() if pod in pods for s in ss]
    kubelet = _kubelet_refs(events, node)
    extra, labels = _sync_notes(timex, node, start, end)
    # the offset is the correction the kernel still has to slew in: positive = behind
    ahead_by = TIMEX_SIGN * median
    ahead = "ahead" if ahead_by > 0 else "behind"
    labels |= {
        "node": node,
        "offset_seconds": f"{ahead_by:.3f}",  # the node's clock minus the reference's
        "timex_offset_seconds": f"{median:.3f}",
        "max_offset_seconds": f"{peak:.3f}",
        "start": hms(start),
        "end": hms(end),
        "streams": str(len(streams)),
        "pods": str(len(pods)),
        "kubelet_events": str(len(kubelet)),
    }
    logged = len({s.rsplit("/", 1)[0] for s in streams})
    carried = (
        f"{len(streams)} log streams of {logged} pods and {len(kubelet)} kubelet "
        f"events carry its time"
    )
    summary = (
        f"{node} clock {seconds_text(median)} {ahead} ({hms(start)}–{hms(end)}, "
        f"node_timex_offset_seconds{extra}); {carried}"
    )
    detail = (
        f"node_exporter on {node} reports a clock offset of {median:+.3f} s (median; "
        f"largest {peak:.3f} s) from {start:%Y-%m-%d %H:%M:%S} to {end:%H:%M:%S} UTC"
        f"{extra}. Pods on {node}: {', '.join(p.split('/', 1)[1] for p in pods) or 'none known'}."
        f" Their log lines (runtime and app stamps) and the kubelet's events are "
        f"{seconds_text(median)} {ahead}. Correction: shift them by {signed(-ahead_by)}."
    )
    correction = Correction(
        id=f"node_clock:{node}",
        description=f"{node}'s clock was {seconds_text(median)} {ahead}",
        shift_ns=round(-ahead_by * 1e3) * 1_000_000,
        columns=("time", "embedded_time"),
        streams=tuple(sorted(streams)),
        refs=tuple(kubelet),
        since=None if open_ends[0] else start,
        until=None if open_ends[1] else end,
    )
    return Finding(
        id=f"node_clock:{node}",
        kind="clock",
        check="node_clock",
        time=start,
        end=end,
        subject=f"node/{node}",
        summary=summary,
        detail=detail,
        ref=str(run["ref"].iloc[0]),
        labels=labels,
        correction=correction,
    )


def _sync_notes(
    timex: Mapping[str, pd.DataFrame], node: str, start: pd.Timestamp, end: pd.Timestamp
) -> tuple[str, dict[str, str]]:
    text, labels = "", {}
    for metric, key in (
        ("node_timex_sync_status", "sync_status"),
        ("node_timex_maxerror_seconds", "maxerror_seconds"),
    ):
        frame = timex.get(metric)
        if frame is None:
            continue
        part = frame[(frame["node"] == node) & frame["time"].between(start, end)]
        if part.empty:
            continue
        value = part["value"].min() if key == "sync_status" else part["value"].max()
        labels[key] = f"{value:g}"
        text += f", {key} {value:g}" + (" s" if key == "maxerror_seconds" else "")
    return text, labels


def _kubelet_refs(events: pd.DataFrame, node: str) -> list[str]:
    k8s = events.loc[(events["kind"] == "k8s_event").to_numpy(dtype=bool)]
    mask = k8s["labels"].str.contains(f'"node": "{node}"', regex=False).to_numpy(dtype=bool)
    return sorted(k8s.loc[mask, "ref"].astype(str))


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
    """Findings in timeline order (time, kind, id): a total, deterministic order."""
    return sorted(findings, key=lambda f: (f.time, f.kind, f.id))

"""Node clocks: how far each node's wall clock is from Prometheus', and which measures agree.

Measures, strongest first (each is a `Reading` of "the node's clock minus the reference's",
positive = the node is ahead):

1. **Direct** (`direct_readings`): ``node_time_seconds`` is node_exporter's reading of the
   node's wall clock while it is scraped, and a raw sample's timestamp is the moment Prometheus
   began the scrape, on Prometheus' clock; so ``value − timestamp`` is the node's offset from
   Prometheus plus the scrape latency (the measure of the Mimir runbook and of Robust
   Perception's "time metric from the node exporter"). ``scrape_duration_seconds`` of the same
   scrape bounds that latency: the offset lies in ``[d − duration, d]``; the reading is the
   middle. Prometheus' clock is the one every metric sample and alert time is already in.
   Samples of a range query are step times, not scrape times (each step shows the newest
   scrape, up to one scrape interval old), so such a series only bounds the offset to
   ``[max d, min d + interval]``; they are told apart by their whole-second stamps (scrape
   times carry a per-target phase, step times do not).
2. **Kernel** (``node_timex_*``): ``node_timex_offset_seconds`` is adjtimex(2)'s ``offset``, the
   phase correction the kernel is still slewing in. Linux ``kernel/time/ntp.c``
   (``second_overflow``) adds a positive ``time_offset`` to each tick, so **a positive offset
   means the node's clock is behind** its NTP reference (`TIMEX_SIGN`). ``ADJ_OFFSET`` is
   clamped to ±0.5 s, ntpd steps larger offsets and chrony usually leaves the kernel's loop
   alone, so a skew of seconds rarely shows there: it shows as ``node_timex_sync_status 0``
   with a ``node_timex_maxerror_seconds`` at least as large as the skew.
3. **Kubernetes events** (`timeline.trust.eventclock`): the kubelet's own stamps against the
   API server's ``creationTimestamp``, whole seconds.

The primary measure makes the finding; the others are named as agreeing, silent or
disagreeing. A disagreement is reported, never averaged away.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from incident_timeline.timeline.timefmt import seconds_text
from incident_timeline.timeline.trust.evidence import (
    PodLife,
    log_pods,
    metric_names_of,
    pods_on,
    series_labels,
)
from incident_timeline.timeline.trust.findings import Correction

# One threshold for a node clock, at collection and in the checks. NTP keeps nodes within
# milliseconds; 100 ms reorders the log lines of two nodes at the millisecond precision they
# are printed with, and is below the 128 ms at which ntpd stops slewing and steps the clock
# (ntpd's "tinker step" default): an offset this large is not normal NTP behaviour.
NODE_OFFSET_SECONDS = 0.1
TIMEX_SIGN = -1.0  # node clock − reference = TIMEX_SIGN × node_timex_offset_seconds
TIMEX_CLAMP = 0.5  # adjtimex(2): ADJ_OFFSET is clamped to ±0.5 s
MIN_SAMPLES = 2  # one odd sample is noise, two in a row are a state
TIMEX = ("node_timex_offset_seconds", "node_timex_sync_status", "node_timex_maxerror_seconds")


@dataclass(frozen=True)
class Reading:
    """One measure of a node's clock over ``[start, end]``: ``offset`` (node − reference,
    seconds, positive = ahead), the range it is known to lie in, and how it was read."""

    node: str
    measure: str
    start: pd.Timestamp
    end: pd.Timestamp
    offset: float
    low: float
    high: float
    samples: int
    spread: float  # p90 − p10 of the per-sample offsets
    ref: str
    open_start: bool = False
    open_end: bool = False
    note: str = ""


def node_metrics(metrics: Mapping[str, pd.DataFrame], wanted: Sequence[str]) -> pd.DataFrame:
    """Samples of the metrics named ``wanted`` from every frame, with ``metric``, ``node``,
    ``job``, ``instance`` and ``ref`` columns."""
    parts = []
    for name, samples in sorted(metrics.items()):
        if samples.empty:
            continue
        names = metric_names_of(samples, name.removesuffix(".json"))
        kept = [s for s, metric in names.items() if metric in wanted]
        part = samples.loc[samples["series"].isin(kept).to_numpy(dtype=bool)]
        if part.empty:
            continue
        # the few samples as plain strings: what is mapped from them sorts as strings do
        part = part.astype({"series": "string", "labels": "string"})
        part["metric"] = part["series"].map(names).astype("string")
        labels = series_labels(part)
        for column, pick in (("node", node_of), ("job", _job), ("instance", _instance)):
            part[column] = part["series"].map({s: pick(lab) for s, lab in labels.items()})
        pointer = part["pointer"] if "pointer" in part else pd.Series("", index=part.index)
        part["ref"] = f"metrics/{name}.parquet#" + pointer.fillna("").astype(str)
        parts.append(part)
    if not parts:
        return pd.DataFrame(columns=["time", "series", "value", "metric", "node", "ref"])
    return pd.concat(parts, ignore_index=True).sort_values(["node", "time"], kind="stable")


def node_of(labels: Mapping[str, str]) -> str:
    """The node a series describes: its ``node``-like label, else its instance's host."""
    for key in ("node", "nodename", "kubernetes_node", "hostname"):
        if labels.get(key):
            return labels[key]
    return labels.get("instance", "?").rsplit(":", 1)[0]


def _job(labels: Mapping[str, str]) -> str:
    return labels.get("job", "")


def _instance(labels: Mapping[str, str]) -> str:
    return labels.get("instance", "")


def direct_readings(
    metrics: Mapping[str, pd.DataFrame], limit: float = NODE_OFFSET_SECONDS
) -> dict[str, list[Reading]]:
    """Per node, the runs of scrapes whose direct offset is at least ``limit`` (and, for a
    node in range-query samples, the bounds when they exclude ``±limit``); ``{node: []}``
    for a node measured without skew."""
    data = node_metrics(metrics, ("node_time_seconds", "scrape_duration_seconds"))
    clock = data.loc[(data["metric"] == "node_time_seconds").to_numpy(dtype=bool)]
    if clock.empty:
        return {}
    clock = _with_latency(clock, data.loc[(data["metric"] == "scrape_duration_seconds")])
    out: dict[str, list[Reading]] = {}
    for (node, _series), group in clock.groupby(["node", "series"], sort=True):
        group = group.reset_index(drop=True)
        found = out.setdefault(str(node), [])
        if _step_times(group["time"]):
            found += _bounded(str(node), group, limit)
        else:
            found += _scrape_runs(str(node), group, limit)
    return out


def _with_latency(clock: pd.DataFrame, durations: pd.DataFrame) -> pd.DataFrame:
    """Add ``reading`` (value − scrape time) and ``latency`` (that scrape's duration, NaN if
    unknown): the same scrape stamps both series with one timestamp."""
    seconds = clock["time"].dt.as_unit("ns").astype("int64") / 1e9
    clock = clock.assign(reading=clock["value"] - seconds.to_numpy())
    if durations.empty:
        return clock.assign(latency=np.nan)
    keys = ["job", "instance", "time"]
    latency = durations.drop_duplicates(keys)[[*keys, "value"]].rename(columns={"value": "latency"})
    return clock.merge(latency, on=keys, how="left")


def _step_times(times: pd.Series) -> bool:
    """Whether stamps are a range query's steps (all whole seconds) rather than scrapes."""
    ns = times.dt.as_unit("ns").astype("int64").to_numpy()
    return len(ns) >= 3 and bool((ns % 1_000_000_000 == 0).all())


def _scrape_runs(node: str, group: pd.DataFrame, limit: float) -> list[Reading]:
    latency = group["latency"].fillna(0.0).clip(lower=0.0)
    offset = group["reading"] - latency / 2
    # a scrape shows skew only when its whole range [d − latency, d] is beyond the limit: a
    # slow scrape (a loaded node answers in hundreds of ms) is not a skewed clock
    low, high = group["reading"] - latency, group["reading"]
    bad = ((low >= limit) | (high <= -limit)).to_numpy(dtype=bool)
    readings = []
    for start, stop in runs(bad):
        if stop - start < MIN_SAMPLES:
            continue
        part = offset.iloc[start:stop]
        lat = latency.iloc[start:stop]
        known = bool(group["latency"].iloc[start:stop].notna().all())
        note = (
            f"scrape latency up to {lat.max() * 1000:.0f} ms (scrape_duration_seconds)"
            if known
            else "scrape latency unknown (no scrape_duration_seconds)"
        )
        readings.append(
            Reading(
                node=node,
                measure="node_time_seconds − scrape time",
                start=group["time"].iloc[start],
                end=group["time"].iloc[stop - 1],
                offset=round(float(part.median()), 4),
                low=float((group["reading"].iloc[start:stop] - lat).median()),
                high=float(group["reading"].iloc[start:stop].median()),
                samples=stop - start,
                spread=float(part.quantile(0.9) - part.quantile(0.1)),
                ref=str(group["ref"].iloc[start]),
                open_start=start == 0,
                open_end=stop == len(group),
                note=note,
            )
        )
    return readings


def _bounded(node: str, group: pd.DataFrame, limit: float) -> list[Reading]:
    """Range-query samples: each step shows the newest scrape, at most one scrape interval
    old, so the offset is in ``[max d, min d + interval]`` (interval: the spacing of the
    distinct node_time_seconds values, i.e. of the scrapes)."""
    distinct = group["value"].drop_duplicates().sort_values()
    interval = float(distinct.diff().median()) if len(distinct) > 1 else np.nan
    low, high = float(group["reading"].max()), float(group["reading"].min()) + interval
    if np.isnan(high) or not (low >= limit or high <= -limit) or low > high:
        return []
    return [
        Reading(
            node=node,
            measure="node_time_seconds − step time (a range query: bounds only)",
            start=group["time"].iloc[0],
            end=group["time"].iloc[-1],
            offset=round((low + high) / 2, 3),
            low=low,
            high=high,
            samples=len(group),
            spread=high - low,
            ref=str(group["ref"].iloc[0]),
            open_start=True,
            open_end=True,
            note=(
                f"each step shows a scrape up to {interval:g} s old; export raw samples "
                "(an instant query of node_time_seconds[<window>]) for an exact reading"
            ),
        )
    ]


def timex_readings(
    metrics: Mapping[str, pd.DataFrame], limit: float = NODE_OFFSET_SECONDS
) -> tuple[dict[str, list[Reading]], pd.DataFrame]:
    """Per node, runs of ``node_timex_offset_seconds`` at least ``limit`` (read with the
    kernel's sign); and all node_timex_* samples, for supporting evidence."""
    data = node_metrics(metrics, TIMEX)
    offsets = data.loc[(data["metric"] == TIMEX[0]).to_numpy(dtype=bool)]
    out: dict[str, list[Reading]] = {}
    for node, group in offsets.groupby("node", sort=True):
        group = group.reset_index(drop=True)
        ahead = TIMEX_SIGN * group["value"]
        found = out.setdefault(str(node), [])
        for start, stop in runs((ahead.abs() >= limit).to_numpy(dtype=bool)):
            if stop - start < MIN_SAMPLES:
                continue
            part = ahead.iloc[start:stop]
            found.append(
                Reading(
                    node=str(node),
                    measure="node_timex_offset_seconds",
                    start=group["time"].iloc[start],
                    end=group["time"].iloc[stop - 1],
                    offset=round(float(part.median()), 4),
                    low=float(part.min()),
                    high=float(part.max()),
                    samples=stop - start,
                    spread=float(part.quantile(0.9) - part.quantile(0.1)),
                    ref=str(group["ref"].iloc[start]),
                    open_start=start == 0,
                    open_end=stop == len(group),
                    note="the kernel's pending correction, clamped to ±0.5 s",
                )
            )
    return out, data


def runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) index ranges where ``flags`` is true."""
    edges = np.diff(np.concatenate([[0], flags.astype(np.int8), [0]]))
    return list(
        zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist(), strict=True)
    )


@dataclass
class Support:
    """What other measures say about a reading: agreeing, silent (cannot show it) and
    disagreeing texts, and labels with their numbers."""

    agree: list[str]
    silent: list[str]
    disagree: list[str]
    labels: dict[str, str]


def timex_support(reading: Reading, timex: pd.DataFrame) -> Support:
    """What node_timex_* say during ``reading``; the kernel's offset is compared unless it
    is the reading itself."""
    support = Support([], [], [], {})
    agree, disagree, labels = support.agree, support.disagree, support.labels
    if timex.empty:
        return support
    here = timex.loc[
        (timex["node"] == reading.node).to_numpy(dtype=bool)
        & timex["time"].between(reading.start, reading.end).to_numpy(dtype=bool)
    ]
    size = abs(reading.offset)
    offset = here.loc[here["metric"] == TIMEX[0], "value"]
    if len(offset):
        raw = float(offset.median())
        labels["timex_offset_seconds"] = f"{raw:.3f}"
        if reading.measure != TIMEX[0]:
            text, verdict = _timex_verdict(reading.offset, TIMEX_SIGN * raw)
            {True: agree, None: support.silent, False: disagree}[verdict].append(text)
    sync = here.loc[here["metric"] == TIMEX[1], "value"]
    maxerror = here.loc[here["metric"] == TIMEX[2], "value"]
    if len(sync):
        labels["sync_status"] = f"{sync.min():g}"
    if len(maxerror):
        labels["maxerror_seconds"] = f"{maxerror.max():g}"
    if len(sync) and sync.min() == 0:
        agree.append("node_timex_sync_status 0 (not synchronised)")
    if len(maxerror) and maxerror.max() >= size:
        agree.append(f"maxerror {maxerror.max():g} s ≥ the offset")
    elif len(maxerror) and len(sync) and sync.min() == 1:
        disagree.append(
            f"the kernel claims sync within maxerror {maxerror.max():g} s (sync_status 1)"
        )
    return support


def _timex_verdict(direct: float, kernel: float) -> tuple[str, bool | None]:
    """How the kernel's offset (already node − reference) relates to a direct offset."""
    said = f"node_timex_offset_seconds {TIMEX_SIGN * kernel:+.3f} s"
    if abs(kernel - direct) <= NODE_OFFSET_SECONDS:
        return f"{said} (agrees)", True
    if abs(direct) > TIMEX_CLAMP and kernel * direct > 0 and abs(kernel) >= 0.9 * TIMEX_CLAMP:
        return f"{said} (clamped at ±0.5 s, same direction)", True
    if abs(kernel) < NODE_OFFSET_SECONDS:
        return f"{said} (the kernel's loop is clamped, stepped or unused, as with chrony)", None
    return f"{said} (disagrees: {seconds_text(kernel)} {_side(kernel)})", False


def _side(offset: float) -> str:
    return "ahead" if offset > 0 else "behind"


def node_correction(
    reading: Reading,
    events: pd.DataFrame,
    lives: Mapping[str, PodLife],
    logged: Mapping[str, list[str]] | None = None,
) -> tuple[Correction, dict[str, str], str]:
    """The correction that removes ``reading`` from the rows on that node's clock (its pods'
    logs and its kubelet's events), labels counting them, and a text naming them.
    ``logged`` is `log_pods` of the events (read from ``events`` if not given)."""
    node = reading.node
    pods = pods_on(lives, node)
    by_pod = log_pods(events) if logged is None else logged
    streams = [s for pod, ss in by_pod.items() if pod in pods for s in ss]
    kubelet = kubelet_refs(events, node)
    shift = -reading.offset
    correction = Correction(
        id=f"node_clock:{node}",
        description=f"{node}'s clock was {seconds_text(reading.offset)} {_side(reading.offset)}",
        shift_ns=round(shift * 1e3) * 1_000_000,
        columns=("time", "embedded_time"),
        streams=tuple(sorted(streams)),
        refs=tuple(kubelet),
        since=None if reading.open_start else reading.start,
        until=None if reading.open_end else reading.end,
    )
    pods_logged = len({s.rsplit("/", 1)[0] for s in streams})
    labels = {
        "streams": str(len(streams)),
        "pods": str(len(pods)),
        "kubelet_events": str(len(kubelet)),
    }
    carried = (
        f"{len(streams)} log streams of {pods_logged} pods and {len(kubelet)} kubelet events "
        f"carry its time (pods: {', '.join(p.split('/', 1)[1] for p in pods) or 'none known'})"
    )
    return correction, labels, carried


def kubelet_refs(events: pd.DataFrame, node: str) -> list[str]:
    """Refs of the Kubernetes events the kubelet on ``node`` stamped."""
    k8s = events.loc[(events["kind"] == "k8s_event").to_numpy(dtype=bool)]
    mask = k8s["labels"].str.contains(f'"node": "{node}"', regex=False).to_numpy(dtype=bool)
    return sorted(k8s.loc[mask, "ref"].astype(str))

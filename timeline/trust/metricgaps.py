"""Gap checks on metric samples: missing steps inside a series, and ``up == 0``.

Samples are the bundle's tidy ``metrics/<name>.parquet`` frames (``time, series, labels,
value, pointer``). Inside a series (not before its first or after its last sample: pods come
and go), a spacing over `GAP_STEPS` steps means missing steps; series missing the very same
steps are reported together. ``ALERTS`` and ``ALERTS_FOR_STATE`` are skipped: they have no
samples while an alert is inactive, by design.

The gap rule is one rule (`sample_gaps`), also used by the Prometheus collector on raw
samples: a series' step is its most common spacing (the query's step for a range query, the
scrape interval for raw samples; the frame's most common spacing for a series too short to
have one), and a spacing over 1.5 steps is a gap. Why 1.5: Prometheus scrapes each target on a
fixed schedule (``scrape/scrape.go``: a ticker at the interval, phase set by a hash of the
target) and snaps a sample's timestamp to that schedule when it is within
``--scrape.timestamp-tolerance`` (2 ms), so a healthy series is spaced at its interval to the
millisecond, and one missed scrape doubles the spacing; 1.5 steps is half-way, tolerant of
jitter up to half an interval. A range query's steps are exact by construction.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from incident_timeline.timeline.timefmt import hms, iso, seconds_text
from incident_timeline.timeline.trust.evidence import common_step, metric_names, series_labels
from incident_timeline.timeline.trust.findings import Finding

SKIPPED = ("ALERTS", "ALERTS_FOR_STATE")
GAP_STEPS = 1.5  # a spacing over this many steps is a gap (why: the module docstring)
MIN_OWN_STEPS = 3  # spacings a series needs before its own most common one is its step


def series_steps(ordered: pd.DataFrame) -> pd.Series:
    """Each sample's series step (see the module docstring), for samples sorted by series
    and time; NaT where no step is known."""
    diffs = ordered["time"].groupby(ordered["series"]).diff()
    positive = diffs[diffs > pd.Timedelta(0)].dt.round("1ms")
    frame_step = common_step(ordered)
    if positive.empty or frame_step is None:
        return pd.Series(pd.NaT, index=ordered.index, dtype="timedelta64[ns]")
    counts = (
        pd.DataFrame({"series": ordered.loc[positive.index, "series"], "step": positive})
        .value_counts()
        .rename("n")
        .reset_index()
        .sort_values(["series", "n", "step"], ascending=[True, False, True], kind="stable")
    )
    best = counts.drop_duplicates("series").set_index("series")
    own = best.loc[best["n"] >= MIN_OWN_STEPS, "step"]
    steps = pd.Series(frame_step, index=ordered.index, dtype="timedelta64[ns]")
    mine = ordered["series"].isin(own.index).to_numpy(dtype=bool)
    if mine.any():
        steps[mine] = pd.to_timedelta(ordered.loc[mine, "series"].map(own.to_dict()))
    return steps


def sample_gaps(samples: pd.DataFrame) -> pd.DataFrame:
    """The one gap rule: for ``samples`` (any order), a row per hole with the positions in
    ``samples`` of the sample ``before`` and ``after`` it and the series' ``step``."""
    ordered = samples.sort_values(["series", "time"], kind="stable")
    steps = series_steps(ordered)
    spacing = ordered["time"].groupby(ordered["series"]).diff()
    hits = np.flatnonzero((spacing > steps * GAP_STEPS).to_numpy(dtype=bool, na_value=False))
    positions = samples.index.get_indexer(ordered.index)
    return pd.DataFrame(
        {
            "before": positions[hits - 1],
            "after": positions[hits],
            "step": steps.iloc[hits].to_numpy(),
        }
    )


def metric_gap_findings(metrics: Mapping[str, pd.DataFrame]) -> list[Finding]:
    """Missing steps and ``up == 0`` runs in every metrics frame, by frame name."""
    findings: list[Finding] = []
    for name, samples in sorted(metrics.items()):
        if samples.empty:
            continue
        names = metric_names(samples, name.removesuffix(".json"))
        keep = ~names.isin(list(SKIPPED)).to_numpy(dtype=bool)
        part = samples.loc[keep].assign(metric=names[keep])
        step = common_step(part)
        if step is None:
            continue
        part = part.sort_values(["series", "time"], kind="stable").reset_index(drop=True)
        findings += _missing_steps(name, part)
        up = part.loc[(part["metric"] == "up").to_numpy(dtype=bool)]
        findings += _down_runs(name, up.reset_index(drop=True), step)
    return findings


def _missing_steps(name: str, part: pd.DataFrame) -> list[Finding]:
    holes = sample_gaps(part)
    if holes.empty:
        return []
    before, after = part.iloc[holes["before"]], part.iloc[holes["after"]]
    steps = pd.to_timedelta(holes["step"].to_numpy())
    rows = pd.DataFrame(
        {
            "series": after["series"].to_numpy(),
            "start": (before["time"].reset_index(drop=True) + steps).to_numpy(),
            "end": after["time"].to_numpy(),
            "ref": _refs(name, before),
            "metric": after["metric"].to_numpy(),
            "step": steps,
        }
    )
    labels = series_labels(part)
    findings = []
    for (start, end, step), group in rows.groupby(["start", "end", "step"], sort=True):
        start, end, step = pd.Timestamp(start), pd.Timestamp(end), pd.Timedelta(step)
        missing = round((end - start) / step)
        findings.append(_gap_finding(name, group, labels, start, end, missing, step))
    return findings


def _gap_finding(
    name: str,
    group: pd.DataFrame,
    labels: Mapping[str, Mapping[str, str]],
    start: pd.Timestamp,
    end: pd.Timestamp,
    missing: int,
    step: pd.Timedelta,
) -> Finding:
    series = sorted(group["series"].astype(str))
    metric = str(group["metric"].iloc[0])
    who = describe(labels[series[0]]) if len(series) == 1 else f"{len(series)} series"
    first = labels[series[0]]
    return Finding(
        id=f"metric_gap:{name}:{who}@{hms(start)}",
        kind="gap",
        check="metric_gap",
        time=start,
        end=end,
        subject=f"metrics/{name}",
        summary=(
            f"{metric}: no samples for {who} from {hms(start)} to {hms(end)} "
            f"({missing} missing {seconds_text(step.total_seconds())} steps, "
            f"{seconds_text((end - start).total_seconds())})"
        ),
        detail=(
            f"Series {', '.join(series[:5])}{' …' if len(series) > 5 else ''} have no "
            f"sample from {iso(start)} up to (not including) {iso(end)}. Prometheus did "
            "not scrape or did not keep them: the target was unreachable, the scrape "
            "failed or Prometheus itself was down. Nothing is known there, not zero."
        ),
        ref=str(group["ref"].iloc[0]),
        labels={
            "metric": metric,
            "series": str(len(series)),
            "start": iso(start),
            "end": iso(end),
            "end_exclusive": "true",
            "missing_steps": str(missing),
            "step_seconds": f"{step.total_seconds():g}",
            **{k: first[k] for k in ("pod", "instance", "node") if k in first and len(series) == 1},
        },
    )


def _down_runs(name: str, up: pd.DataFrame, step: pd.Timedelta) -> list[Finding]:
    if up.empty:
        return []
    down = (up["value"] == 0).to_numpy(dtype=bool)
    new_series = (up["series"] != up["series"].shift()).to_numpy(dtype=bool, na_value=True)
    starts = np.flatnonzero(down & (new_series | ~np.roll(down, 1)))
    labels = series_labels(up)
    findings = []
    for begin in starts:
        stop = begin
        while stop + 1 < len(up) and down[stop + 1] and not new_series[stop + 1]:
            stop += 1
        same = stop + 1 < len(up) and not new_series[stop + 1]
        end = up["time"].iloc[stop + 1] if same else up["time"].iloc[stop] + step
        start = up["time"].iloc[begin]
        who = describe(labels[str(up["series"].iloc[begin])])
        findings.append(
            Finding(
                id=f"target_down:{name}:{who}@{hms(start)}",
                kind="gap",
                check="target_down",
                time=start,
                end=end,
                subject=f"metrics/{name}",
                summary=(
                    f"up == 0 for {who} from {hms(start)} to {hms(end)} "
                    f"({stop - begin + 1} samples): Prometheus could not scrape it"
                ),
                detail=(
                    "The target did not answer its scrapes: its own metrics are missing "
                    "there, and it may itself have been down."
                ),
                ref=_refs(name, up.iloc[[begin]])[0],
                labels={
                    "metric": "up",
                    "start": iso(start),
                    "end": iso(end),
                    "samples": str(stop - begin + 1),
                },
            )
        )
    return findings


def describe(labels: Mapping[str, str]) -> str:
    """A short name for a series: ``pod=…`` or ``instance=…`` or its labels."""
    for key in ("pod", "instance", "node", "job"):
        if labels.get(key):
            return f"{key}={labels[key]}"
    shown = [f"{k}={v}" for k, v in sorted(labels.items()) if k != "__name__"]
    return ",".join(shown) or labels.get("__name__", "series")


def _refs(name: str, rows: pd.DataFrame) -> list[str]:
    pointer = rows["pointer"].fillna("").astype(str) if "pointer" in rows else [""] * len(rows)
    return [f"metrics/{name}.parquet" + (f"#{p}" if p else "") for p in pointer]

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

import dataclasses
from collections.abc import Mapping

import numpy as np
import pandas as pd

from incident_timeline.timeline.timefmt import hms, iso, seconds_text
from incident_timeline.timeline.trust.evidence import metric_names_of, series_labels
from incident_timeline.timeline.trust.findings import Finding

SKIPPED = ("ALERTS", "ALERTS_FOR_STATE")
GAP_STEPS = 1.5  # a spacing over this many steps is a gap (why: the module docstring)
MIN_OWN_STEPS = 3  # spacings a series needs before its own most common one is its step


@dataclasses.dataclass(frozen=True)
class Ordered:
    """Samples in series-then-time order without copying the frame: ``rows`` are positions in
    the frame (a stable sort, as ``sort_values(["series", "time"], kind="stable")``),
    ``series`` each row's series as a code into ``names`` (sorted, so code order is the
    series' order), ``times`` its time in ns. Rows with no series are left out."""

    rows: np.ndarray
    series: np.ndarray
    times: np.ndarray
    names: pd.Index

    @classmethod
    def of(cls, samples: pd.DataFrame, rows: np.ndarray | None = None) -> Ordered:
        """``samples`` ordered (only its positions ``rows``, if given)."""
        codes, names = pd.factorize(samples["series"], sort=True)
        stamps = samples["time"].to_numpy(dtype="datetime64[ns]")
        # a sample without a series or a time is no evidence of a spacing (sort_values puts
        # it last, and groupby().diff() skips it)
        known = (codes >= 0) & ~np.isnat(stamps)
        times = stamps.view(np.int64)
        picked = np.flatnonzero(known) if rows is None else rows[known[rows]]
        order = picked[np.lexsort((times[picked], codes[picked]))]
        return cls(order, codes[order], times[order], names)

    def spacings(self) -> Spacings:
        """Each row's spacing from the row before in its series."""
        spacing = np.full(len(self.rows), -1, dtype=np.int64)
        same = self.series[1:] == self.series[:-1]
        spacing[1:][same] = (self.times[1:] - self.times[:-1])[same]
        positive = np.flatnonzero(spacing > 0)
        rounded = pd.to_timedelta(spacing[positive], unit="ns").round("1ms").to_numpy()
        return Spacings(spacing, positive, rounded.view(np.int64))


@dataclasses.dataclass(frozen=True)
class Spacings:
    """``spacing``: each ordered row's spacing from the row before in its series (ns; -1 for
    a series' first row); ``positive``: the places of the positive ones, and ``rounded``
    those rounded to the millisecond (as ``dt.round("1ms")``), what steps are counted in."""

    spacing: np.ndarray
    positive: np.ndarray
    rounded: np.ndarray


def _most_common(values: np.ndarray) -> int:
    """The most common of ``values`` (ties: the smallest)."""
    found, counts = np.unique(values, return_counts=True)
    return int(found[counts == counts.max()].min())


def series_steps(ordered: Ordered, spaced: Spacings) -> np.ndarray:
    """Each ordered row's series step in ns (see the module docstring), -1 where none is
    known."""
    steps = np.full(len(ordered.rows), -1, dtype=np.int64)
    if not len(spaced.rounded):
        return steps
    steps[:] = _most_common(spaced.rounded)
    # a series' own step: its most common spacing (ties: the smallest), when seen MIN_OWN_STEPS
    # times or more
    values, which = np.unique(spaced.rounded, return_inverse=True)
    pairs, counts = np.unique(
        ordered.series[spaced.positive] * len(values) + which, return_counts=True
    )
    series, value = np.divmod(pairs, len(values))
    best = np.lexsort((value, -counts, series))
    first = best[np.r_[True, series[best][1:] != series[best][:-1]]]
    own = first[counts[first] >= MIN_OWN_STEPS]
    step_of = np.full(len(ordered.names), -1, dtype=np.int64)
    step_of[series[own]] = values[value[own]]
    mine = step_of[ordered.series] >= 0
    steps[mine] = step_of[ordered.series[mine]]
    return steps


def _holes(ordered: Ordered, spaced: Spacings) -> tuple[np.ndarray, np.ndarray]:
    """Places in ``ordered`` right after a hole (a spacing over GAP_STEPS series steps), and
    those steps (ns)."""
    steps = series_steps(ordered, spaced)
    limit = (steps.astype(np.float64) * GAP_STEPS).astype(np.int64)
    hits = np.flatnonzero((steps >= 0) & (spaced.spacing > limit))
    return hits, steps[hits]


def sample_gaps(samples: pd.DataFrame) -> pd.DataFrame:
    """The one gap rule: for ``samples`` (any order), a row per hole with the positions in
    ``samples`` of the sample ``before`` and ``after`` it and the series' ``step``."""
    ordered = Ordered.of(samples)
    hits, steps = _holes(ordered, ordered.spacings())
    return pd.DataFrame(
        {
            "before": ordered.rows[hits - 1],
            "after": ordered.rows[hits],
            "step": pd.to_timedelta(steps, unit="ns"),
        }
    )


def metric_gap_findings(metrics: Mapping[str, pd.DataFrame]) -> list[Finding]:
    """Missing steps and ``up == 0`` runs in every metrics frame, by frame name. The frame is
    read in place (positions in series and time order): a 30-day query holds millions of
    samples, and copies of it sorted cost gigabytes."""
    findings: list[Finding] = []
    for name, samples in sorted(metrics.items()):
        if samples.empty:
            continue
        names = metric_names_of(samples, name.removesuffix(".json"))
        skipped = [s for s, metric in names.items() if metric in SKIPPED]
        keep = np.flatnonzero(~samples["series"].isin(skipped).to_numpy(dtype=bool))
        ordered = Ordered.of(samples, keep)
        spaced = ordered.spacings()
        if not len(spaced.rounded):
            continue  # no spacing: no step is known
        findings += _missing_steps(name, samples, names, ordered, *_holes(ordered, spaced))
        up = [s for s, metric in names.items() if metric == "up"]
        rows = ordered.rows[np.isin(ordered.series, ordered.names.get_indexer(up))]
        step = pd.Timedelta(_most_common(spaced.rounded), unit="ns")
        findings += _down_runs(name, samples.iloc[rows].reset_index(drop=True), step)
    return findings


def _missing_steps(
    name: str,
    samples: pd.DataFrame,
    names: Mapping[str, str],
    ordered: Ordered,
    hits: np.ndarray,
    step_ns: np.ndarray,
) -> list[Finding]:
    if not len(hits):
        return []
    before, after = samples.iloc[ordered.rows[hits - 1]], samples.iloc[ordered.rows[hits]]
    steps = pd.to_timedelta(step_ns, unit="ns")
    rows = pd.DataFrame(
        {
            "series": after["series"].to_numpy(),
            "start": (before["time"].reset_index(drop=True) + steps).to_numpy(),
            "end": after["time"].to_numpy(),
            "ref": _refs(name, before),
            "metric": after["series"].map(names).to_numpy(),
            "step": steps,
        }
    )
    # each series' labels from its first sample (in order), as `series_labels` of them all
    held = np.unique(ordered.series[hits])
    labels = series_labels(samples.iloc[ordered.rows[np.searchsorted(ordered.series, held)]])
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

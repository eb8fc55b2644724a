#!/usr/bin/env python3
"""Merge, de-duplicate and condense a million synthetic events; print time, rate and memory.

The synthetic window is two hours of a 100-pod service (two containers each): request logs
with a few percent of errors from 40 error templates (ids and numbers vary), Kubernetes events
with warnings repeated across pods, three rollouts, alerts firing per pod, a PagerDuty log
exported twice, notes with their "Note added" entries, and 5 % of the log lines saved twice
(overlapping ``kubectl logs`` saves). Each phase is timed on its own:

    python bench/merge_bench.py                 # 1,000,000 events
    python bench/merge_bench.py --events 200000 --seed 7

Memory is the process' resident set size after each phase, and its peak so far (the peak
only grows, so a phase's own peak shows where it rises).
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from incident_timeline.timeline.keyevents import key_events
from incident_timeline.timeline.merge import deduplicate, merge_events
from incident_timeline.timeline.schema import COLUMNS, validate
from incident_timeline.timeline.trust.checks import check_integrity

T0 = pd.Timestamp("2026-02-17 14:00:00", tz="UTC")
WINDOW_S = 2 * 3600
_SUFFIX = "bcdfghjklmnpqrstvwxz2456789"  # what Kubernetes uses for generated names
PODS = [
    "shop-api-6d8f7b9c5d-" + "".join(_SUFFIX[(i * 7 + k * 11) % 27] for k in range(5))
    for i in range(100)
]


def frame(n: int, **columns: Any) -> pd.DataFrame:
    """An event frame of ``n`` rows from columns (scalars broadcast)."""
    data = {
        name: columns.get(name, default)
        for name, default in (
            ("actor", None),
            ("message", ""),
            ("labels", "{}"),
            ("time_raw", ""),
            ("time_quality", "exact"),
            ("embedded_time", pd.NaT),
            ("severity", "info"),
        )
    }
    data |= columns
    out = pd.DataFrame(
        {
            c: data[c]
            if not np.isscalar(data[c]) and data[c] is not None and data[c] is not pd.NaT
            else [data[c]] * n
            for c in COLUMNS
        }
    )
    return validate(out)


def logs(rng: np.random.Generator, n: int) -> pd.DataFrame:
    stream_ids = rng.integers(0, 200, n)
    seconds = np.sort(rng.uniform(0, WINDOW_S, n))
    time = T0 + pd.to_timedelta(seconds, unit="s")
    pods = np.array(PODS)[stream_ids // 2]
    containers = np.where(stream_ids % 2 == 0, "app", "proxy")
    streams = pd.Series("shop/" + pods + "/" + containers)
    roll = rng.random(n)
    severity = np.where(roll < 0.02, "error", np.where(roll < 0.05, "warning", "info"))
    template = rng.integers(0, 40, n)
    number = rng.integers(1, 10**6, n).astype(str)
    trace = pd.Series(rng.integers(0, 2**62, n)).map("{:016x}".format).to_numpy()
    info = 'level=info msg="request served" status=200 duration_ms=' + number + " trace_id=" + trace
    error = (
        'level=error msg="failure kind '
        + pd.Series(template).map(_word).to_numpy()
        + '" wait_ms='
        + number
        + " trace_id="
        + trace
    )
    summary = np.where(severity == "error", error, info)
    labels = '{"container": "' + containers + '", "namespace": "shop", "pod": "' + pods + '"}'
    lines = np.arange(1, n + 1).astype(str)
    return frame(
        n,
        time=time,
        source="kubernetes",
        stream=streams,
        kind="log",
        severity=severity,
        summary=summary,
        message=summary,
        labels=labels,
        embedded_time=time - pd.to_timedelta(rng.uniform(0, 0.004, n), unit="s"),
        ref="raw/kubernetes/logs-1.txt#L" + lines,
    )


def _word(i: int) -> str:
    return "".join("abcdefghij"[int(d)] for d in f"{i:02d}")


def k8s(rng: np.random.Generator, n: int) -> pd.DataFrame:
    pods = np.array(PODS)[rng.integers(0, 100, n)]
    warn = rng.random(n) < 0.2
    reason = np.where(warn, np.where(rng.random(n) < 0.5, "Unhealthy", "BackOff"), "Pulled")
    summary = (
        "Pod "
        + pods
        + ": "
        + reason
        + ": "
        + np.where(
            reason == "Unhealthy",
            "Readiness probe failed: 503",
            np.where(reason == "BackOff", "Back-off restarting failed container", "Pulled image"),
        )
    )
    labels = (
        '{"kind": "Pod", "name": "'
        + pods
        + '", "namespace": "shop", "node": "node-'
        + (rng.integers(0, 10, n)).astype(str)
        + '", "reason": "'
        + reason
        + '"}'
    )
    time = T0 + pd.to_timedelta(np.sort(rng.integers(0, WINDOW_S, n)), unit="s")
    return frame(
        n,
        time=time,
        source="kubernetes",
        stream="shop/pod/" + pods,
        kind="k8s_event",
        severity=np.where(warn, "warning", "info"),
        actor="kubelet",
        summary=summary,
        labels=labels,
        ref=[f"raw/kubernetes/events.json#/items/{i}" for i in range(n)],
    )


def deploys() -> pd.DataFrame:
    starts = [600, 3000, 5400]
    seconds = [s + 7 * i for s in starts for i in range(100)]
    n = len(seconds)
    return frame(
        n,
        time=T0 + pd.to_timedelta(seconds, unit="s"),
        source="kubernetes",
        stream="shop/deployment/shop-api",
        kind="deploy",
        actor="deployment-controller",
        summary=[f"Scaled step {i}" for i in range(n)],
        ref=[f"raw/kubernetes/events.json#/deploys/{i}" for i in range(n)],
    )


def alerts(rng: np.random.Generator) -> pd.DataFrame:
    rows = []
    for name in ("KubePodCrashLooping", "HighErrorRate", "HighLatency"):
        for start in (1200, 4000):
            for pod in PODS:
                t = start + rng.uniform(0, 120)
                rows.append((t, name, pod))
    rows.sort()
    n = len(rows)
    return frame(
        n,
        time=T0 + pd.to_timedelta([r[0] for r in rows], unit="s"),
        source="alertmanager",
        stream="alerts.json",
        kind="alert_firing",
        severity="error",
        summary=[f"{a} firing (pod={p})" for _, a, p in rows],
        labels=[
            f'{{"alertname": "{a}", "fingerprint": "{i:016x}"}}' for i, (_, a, _) in enumerate(rows)
        ],
        ref=[f"raw/alertmanager/alerts.json#/{i}" for i in range(n)],
    )


def pagerduty(copy: int) -> pd.DataFrame:
    """One incident's log, as exported by hand (``copy`` 1 and 2 hold the same entries)."""
    kinds = [
        "page_trigger",
        "page_notify",
        "page_escalate",
        "page_notify",
        "page_ack",
        "page_resolve",
    ]
    seconds = [1300, 1301, 1600, 1601, 1700, 6000]
    notes = [1800 + 900 * i for i in range(4)]
    n = len(kinds) + len(notes)
    return frame(
        n,
        time=T0 + pd.to_timedelta(seconds + notes, unit="s"),
        source="pagerduty",
        stream="Q1",
        kind=kinds + ["note"] * len(notes),
        actor="Alice Chen",
        summary=[k for k in kinds] + ["Note added"] * len(notes),
        labels=[f'{{"log_entry": "R{i:06d}"}}' for i in range(n)],
        ref=[f"raw/pagerduty/log_entries-{copy}.json#/log_entries/{i}" for i in range(n)],
    )


def notes() -> pd.DataFrame:
    seconds = [1800 + 900 * i for i in range(4)]
    return frame(
        4,
        time=T0 + pd.to_timedelta(seconds, unit="s"),
        source="pagerduty",
        stream="Q1",
        kind="note",
        actor="Alice Chen",
        summary=[f"Note by Alice Chen: step {i}" for i in range(4)],
        labels=[f'{{"note": "P{i}"}}' for i in range(4)],
        ref=[f"raw/pagerduty/notes.json#/notes/{i}" for i in range(4)],
    )


def build(total: int, seed: int) -> list[pd.DataFrame]:
    """Frames as read_events would give them: one per source, plus a second log save."""
    rng = np.random.default_rng(seed)
    small = [k8s(rng, 5000), deploys(), alerts(rng), pagerduty(1), pagerduty(2), notes()]
    n_logs = total - sum(len(f) for f in small)
    main = logs(rng, int(n_logs / 1.05))
    again = main.sample(frac=0.05, random_state=seed).sort_index()  # an overlapping save
    again["ref"] = again["ref"].str.replace("logs-1.txt", "logs-2.txt", regex=False)
    return [main, again, *small]


SECONDS: dict[str, float] = {}  # phase name -> seconds, for the ratios


def phase(name: str, fn: Callable[[], Any], rows: int, report: list[str]) -> Any:
    start = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - start
    SECONDS[name] = seconds
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB -> MiB (Linux)
    report.append(
        f"{name:<18} {seconds:7.2f} s {rows / seconds:12,.0f} rows/s   RSS now "
        f"{_rss_mib():7,.0f} MiB, peak {peak:7,.0f} MiB"
    )
    return result


def _rss_mib() -> float:
    """Current resident set size (Linux /proc; 0 elsewhere)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        return 0.0
    return pages * resource.getpagesize() / 2**20


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=20260217)
    args = parser.parse_args(argv)
    report: list[str] = []
    frames = phase("build (synthetic)", lambda: build(args.events, args.seed), args.events, report)
    n = sum(len(f) for f in frames)
    # Baseline, in the same run: what one writes first, concat and a sort on the columns
    # (ties then fall back to the ref text, so L10 sorts before L9).
    phase(
        "baseline: sort",
        lambda: pd.concat(frames, ignore_index=True).sort_values(
            ["time", "source", "stream", "ref"], kind="stable"
        ),
        n,
        report,
    )
    merged = phase("merge", lambda: merge_events(frames), n, report)
    ratio = SECONDS["baseline: sort"] / SECONDS["merge"]
    unique = phase("deduplicate", lambda: deduplicate(merged), n, report)
    key = phase("key events", lambda: key_events(unique), len(unique), report)
    found = phase("integrity checks", lambda: check_integrity(unique, {}, {}), len(unique), report)
    print(
        f"events in: {n:,}   after de-duplication: {len(unique):,} "
        f"({n - len(unique):,} dropped)   key-table rows: {len(key):,}   "
        f"findings: {len(found.findings)}"
    )
    print("\n".join(report))
    print(
        f"merge vs baseline sort: {ratio:.2f}x the baseline's speed (with a total order "
        "that keeps each file's line order)"
    )
    print(
        "key-table rows by kind: "
        + ", ".join(f"{k} {v}" for k, v in key["kind"].value_counts().sort_index().items())
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

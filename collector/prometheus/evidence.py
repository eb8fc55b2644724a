"""Built-in evidence queries, run when their series exist: clock health from node_exporter's
``node_timex_*``, scrape health from ``up`` (and gaps in its raw samples), and container
restarts and pod phases from kube-state-metrics.

Each finder reads tidy samples (``time, series, labels, value, pointer``, see
`collector.promjson`) and returns event rows; crossings reuse `timeline.metrics`.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any

import pandas as pd

from incident_timeline.collector.prometheus.queryrange import series_key
from incident_timeline.timeline.metrics import threshold_crossings
from incident_timeline.timeline.timefmt import human_duration, iso_z
from incident_timeline.timeline.trust.metricgaps import sample_gaps
from incident_timeline.timeline.trust.nodeclock import NODE_OFFSET_SECONDS, TIMEX_SIGN

Rows = list[dict[str, Any]]
OFFSET_LIMIT = NODE_OFFSET_SECONDS  # the one node-clock threshold (reason: where it is defined)
MAXERROR_LIMIT = 1.0  # seconds; the kernel's own bound on its error
BAD_PHASES = ("Failed", "Unknown")


@dataclasses.dataclass(frozen=True)
class Evidence:
    """A built-in query: run when metric ``name`` exists; ``name`` is also its stream, raw
    folder and metrics file. ``threshold``/``label`` give ``metric_threshold`` events the same
    way a named query does; ``finder`` makes other events from the samples."""

    name: str
    expr: str
    threshold: str | None = None
    label: str | None = None
    finder: Callable[[pd.DataFrame], Rows] | None = None


def _who(labels: dict[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(labels.items()) if k != "__name__")


def _crossings(
    samples: pd.DataFrame,
    op: str,
    limit: float,
    texts: tuple[str, str],
    *,
    magnitude: bool = False,
    ahead_sign: float = TIMEX_SIGN,
) -> Rows:
    """Clock findings at each crossing of ``value op limit`` (of ``|value|`` if magnitude);
    ``ahead_sign`` × value > 0 means the node's clock is ahead (texts' ``{side}``)."""
    data = samples.assign(value=samples["value"].abs()) if magnitude else samples
    where = samples.set_index(["series", "time"])
    rows = []
    for c in threshold_crossings(data, op, limit).itertuples():
        sample = where.loc[(c.series, c.time)]
        labels = {k: v for k, v in json.loads(sample["labels"]).items() if k != "__name__"}
        above = c.state == "above"
        value = float(sample["value"])
        side = "ahead" if ahead_sign * value > 0 else "behind"  # for the offset texts
        text = texts[0 if above else 1].format(
            value=value, size=abs(value), side=side, who=_who(labels), limit=OFFSET_LIMIT
        )
        rows.append(
            {
                "time_raw": iso_z(c.time.to_pydatetime()),
                "kind": "clock",
                "severity": "warning" if above else "info",
                "summary": text,
                "pointer": sample["pointer"],
                "labels": {**labels, "state": c.state},
            }
        )
    return rows


def clock_offset(samples: pd.DataFrame) -> Rows:
    """``node_timex_offset_seconds`` beyond the limit, and back.

    The value is adjtimex(2)'s ``offset``: the phase correction the kernel is still slewing in
    (Linux ``kernel/time/ntp.c``, ``second_overflow``: a positive offset lengthens each tick).
    **Positive means the node's clock is behind** its NTP reference; the texts say so.
    """
    rows = _crossings(
        samples,
        ">",
        OFFSET_LIMIT,
        (
            "clock {side} by {size:.3g} s (node_timex_offset_seconds {value:+.3g} s, "
            "beyond ±{limit:g} s) on {who}",
            "clock offset back within ±{limit:g} s "
            "(node_timex_offset_seconds {value:+.3g} s) on {who}",
        ),
        magnitude=True,
    )
    return rows


def direct_offsets(samples: pd.DataFrame) -> pd.DataFrame:
    """Raw ``node_time_seconds`` samples as offsets: value − scrape time (seconds; positive:
    the node's clock is ahead of Prometheus'). See `timeline.trust.nodeclock`."""
    seconds = samples["time"].dt.as_unit("ns").astype("int64").to_numpy() / 1e9
    return samples.assign(value=samples["value"] - seconds)


def clock_direct(samples: pd.DataFrame) -> Rows:
    """A node's clock off Prometheus' by the limit or more, and back, from raw
    ``node_time_seconds`` samples (scrape latency included: milliseconds)."""
    return _crossings(
        direct_offsets(samples),
        ">=",
        OFFSET_LIMIT,
        (
            "clock {side} of Prometheus by {size:.3g} s (node_time_seconds − scrape time "
            "{value:+.3g} s, beyond ±{limit:g} s) on {who}",
            "clock back within ±{limit:g} s of Prometheus (node_time_seconds − scrape time "
            "{value:+.3g} s) on {who}",
        ),
        magnitude=True,
        ahead_sign=1.0,
    )


def clock_sync(samples: pd.DataFrame) -> Rows:
    """A node's clock not synchronised by NTP (``node_timex_sync_status`` 0), and back."""
    return _crossings(
        samples,
        "<",
        1,
        (
            "clock not NTP-synchronised (node_timex_sync_status {value:g}) on {who}",
            "clock NTP-synchronised again on {who}",
        ),
    )


def clock_maxerror(samples: pd.DataFrame) -> Rows:
    """The kernel's maximum clock error above 1 s, and back."""
    return _crossings(
        samples,
        ">",
        MAXERROR_LIMIT,
        (
            "clock maximum error {value:g} s, above 1 s, on {who}",
            "clock maximum error back to {value:g} s on {who}",
        ),
    )


def restarts(samples: pd.DataFrame) -> Rows:
    """Each rise of ``kube_pod_container_status_restarts_total``: a container restarted, at
    the first step that shows it (so up to one step after the restart itself)."""
    rows = []
    data = samples.dropna(subset=["value"]).sort_values(["series", "time"], kind="stable")
    rise = data["value"].groupby(data["series"]).diff()
    before = data["value"].groupby(data["series"]).shift(1)
    for index in data.index[rise > 0]:
        sample = data.loc[index]
        labels = {k: v for k, v in json.loads(sample["labels"]).items() if k != "__name__"}
        ns, pod, container = (labels.get(k, "?") for k in ("namespace", "pod", "container"))
        rows.append(
            {
                "time_raw": iso_z(sample["time"].to_pydatetime()),
                "kind": "k8s_event",
                "severity": "warning",
                "stream": f"{ns}/{pod}/{container}",
                "summary": f"container {container} of {ns}/{pod} restarted "
                f"(restarts {before[index]:g} → {sample['value']:g})",
                "pointer": sample["pointer"],
                "labels": {**labels, "reason": "Restarted"},
            }
        )
    return rows


def phases(samples: pd.DataFrame) -> Rows:
    """Pod phase changes from ``kube_pod_status_phase == 1`` (one series per phase)."""
    meta = pd.Series(
        [json.loads(text) for text in samples["labels"]], index=samples.index, dtype=object
    )  # not .map(json.loads): it would align the dicts' keys
    data = samples.assign(meta=meta)
    data = data.assign(
        pod=data["meta"].map(lambda m: (m.get("namespace", "?"), m.get("pod", "?"))),
        phase=data["meta"].map(lambda m: m.get("phase", "?")),
    )
    data = data.sort_values(["time", "phase"], kind="stable")
    rows = []
    for (ns, pod), group in data.groupby("pod", sort=True):
        previous = None
        for sample in group.drop_duplicates("time").itertuples():
            if previous is not None and sample.phase != previous:
                labels = {k: v for k, v in sample.meta.items() if k not in ("__name__", "phase")}
                rows.append(
                    {
                        "time_raw": iso_z(sample.time.to_pydatetime()),
                        "kind": "k8s_event",
                        "severity": "warning" if sample.phase in BAD_PHASES else "info",
                        "stream": f"{ns}/{pod}",
                        "summary": f"pod {ns}/{pod} phase {previous} → {sample.phase}",
                        "pointer": sample.pointer,
                        "labels": {**labels, "phase": sample.phase, "previous_phase": previous},
                    }
                )
            previous = sample.phase
    return rows


def gaps(samples: pd.DataFrame) -> Rows:
    """Holes in raw samples, with their exact bounds, by the one gap rule the timeline's
    checks use (`timeline.trust.metricgaps.sample_gaps`: a spacing over 1.5 times the
    series' own scrape interval)."""
    data = samples.reset_index(drop=True)
    holes = sample_gaps(data)
    return [
        _gap_row(data.iloc[int(b)], data.iloc[int(a)])
        for b, a in zip(holes["before"], holes["after"], strict=True)
    ]


def _gap_row(before: pd.Series, after: pd.Series) -> dict[str, Any]:
    start, end = before["time"].to_pydatetime(), after["time"].to_pydatetime()
    fmt = "%H:%M:%S" if start.date() == end.date() else "%Y-%m-%d %H:%M:%S"
    metric = json.loads(before["labels"])
    labels = {k: v for k, v in metric.items() if k != "__name__"}
    return {
        "time_raw": iso_z(start),
        "kind": "gap",
        "severity": "warning",
        "summary": f"no samples of {series_key(metric)} from {start:{fmt}} to {end:{fmt}} "
        f"({human_duration(end - start)})",
        "pointer": before["pointer"],
        "labels": {
            **labels,
            "gap_start": iso_z(start),
            "gap_end": iso_z(end),
            "gap_seconds": f"{(end - start).total_seconds():g}",
        },
    }


BUILTINS: tuple[Evidence, ...] = (
    Evidence("node_timex_offset_seconds", "node_timex_offset_seconds", finder=clock_offset),
    Evidence("node_timex_sync_status", "node_timex_sync_status", finder=clock_sync),
    Evidence("node_timex_maxerror_seconds", "node_timex_maxerror_seconds", finder=clock_maxerror),
    Evidence("up", "up", threshold="< 1", label="up"),
    Evidence(
        "kube_pod_container_status_restarts_total",
        "kube_pod_container_status_restarts_total",
        finder=restarts,
    ),
    Evidence("kube_pod_status_phase", "kube_pod_status_phase == 1", finder=phases),
)
# Read as raw samples (exact scrape times), not as range queries: see `timeline.trust.nodeclock`.
NODE_TIME = "node_time_seconds"
SCRAPE_DURATION = "scrape_duration_seconds"
BUILTIN_NAMES = frozenset(
    {b.name for b in BUILTINS} | {"ALERTS", "ALERTS_FOR_STATE", NODE_TIME, SCRAPE_DURATION}
)

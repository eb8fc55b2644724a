"""Gap checks on events: silent streams, lost logs, time running backwards or ahead, event TTL.

- **Silence**: a log stream quiet for longer than ``silence_factor`` times its usual interval
  (the 90th percentile of its gaps) and at least ``silence_floor``; `checks` keeps the silences
  that overlap the incident window.
- **Lost logs**: a pod seen in Kubernetes events, of a workload whose logs were collected, with
  no log lines at all (deleted before anyone saved them); or whose logs end well before the pod
  stopped (or before the window ends, for a pod never seen stopped).
- **Backwards**: inside one stream of one raw file, a line stamped over ``backwards`` seconds
  before the line above it (a clock stepped back).
- **Future**: events stamped after the bundle was collected.
- **Event TTL**: a window that starts longer ago than the API server keeps events (1 h by
  default), when no older event shows the cluster keeps them longer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from incident_timeline.timeline.timefmt import hms, iso, seconds_text
from incident_timeline.timeline.trust.evidence import (
    PodLife,
    log_pods,
    ref_line_numbers,
    ref_lines,
    workload,
)
from incident_timeline.timeline.trust.findings import Finding
from incident_timeline.timeline.window import Window


@dataclass(frozen=True)
class GapLimits:
    """When a gap is worth a finding. The defaults and why:

    - ``min_lines`` 20: fewer lines say nothing about a stream's usual interval.
    - ``silence_factor`` 10 × the p90 interval, ``silence_floor`` 60 s: ten times the gaps a
      stream nearly always keeps is not chance; under a minute is not worth a reader's time.
    - ``backwards`` 1 s: threads and pipes reorder lines by milliseconds, not by a second.
    - ``future`` 1 s: the collection time itself is only known to the second here and there.
    - ``event_ttl`` 3600 s: kube-apiserver ``--event-ttl`` default.
    """

    min_lines: int = 20
    silence_factor: float = 10.0
    silence_floor: float = 60.0
    backwards: float = 1.0
    future: float = 1.0
    event_ttl: float = 3600.0


def stream_stats(
    events: pd.DataFrame, limits: GapLimits = GapLimits(), logs: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Per log stream: lines ``n``, ``p90`` interval (s), silence ``threshold`` (s), ``last``
    time and ``last_ref``. Streams with fewer than ``min_lines`` lines have no threshold.
    ``logs`` may give the log rows already sorted by stream and time."""
    logs = sorted_logs(events) if logs is None else logs
    gaps = logs["time"].groupby(logs["stream"]).diff().dt.total_seconds()
    stats = pd.DataFrame(
        {
            "n": logs.groupby("stream").size(),
            "p90": gaps.groupby(logs["stream"]).quantile(0.9),
            "last": logs.groupby("stream")["time"].max(),
            "last_ref": logs.groupby("stream")["ref"].last(),
        }
    )
    thr = np.maximum(limits.silence_factor * stats["p90"].fillna(0), limits.silence_floor)
    stats["threshold"] = thr.where(stats["n"] >= limits.min_lines)
    return stats


def silence_findings(events: pd.DataFrame, limits: GapLimits = GapLimits()) -> list[Finding]:
    """Gaps inside a log stream much longer than its usual interval."""
    logs = sorted_logs(events)
    if logs.empty:
        return []
    return stream_silences(logs, stream_stats(events, limits, logs))


def stream_silences(logs: pd.DataFrame, stats: pd.DataFrame) -> list[Finding]:
    """The silences in ``logs`` (as `sorted_logs` gives them) past `stream_stats` thresholds."""
    gap = logs["time"].groupby(logs["stream"]).diff().dt.total_seconds()
    threshold = logs["stream"].map(stats["threshold"]).astype("float64")
    hits = np.flatnonzero((gap > threshold).to_numpy(dtype=bool, na_value=False))
    findings = []
    for i in hits:
        before, after = logs.iloc[i - 1], logs.iloc[i]
        stream, size = str(after["stream"]), float(gap.iloc[i])
        usual = float(stats.at[stream, "p90"])
        findings.append(
            Finding(
                id=f"silence:{stream}@{hms(before['time'])}",
                kind="gap",
                check="silence",
                time=before["time"],
                end=after["time"],
                subject=stream,
                summary=(
                    f"{stream} silent for {seconds_text(size)} ({hms(before['time'])}–"
                    f"{hms(after['time'])}); it usually logs every {seconds_text(usual)} "
                    "or less"
                ),
                detail=(
                    f"No log line for {size:.1f} s, while 90 % of this stream's gaps are "
                    f"{usual:.1f} s or shorter. The process may have hung, or its output was "
                    "lost; events from it in this span are missing, not absent."
                ),
                ref=str(before["ref"]),
                labels={
                    "silence_seconds": f"{size:.3f}",
                    "p90_seconds": f"{usual:.3f}",
                    "start": iso(before["time"]),
                    "end": iso(after["time"]),
                },
            )
        )
    return findings


def pod_log_findings(
    events: pd.DataFrame,
    lives: Mapping[str, PodLife],
    until: pd.Timestamp | None,
    limits: GapLimits = GapLimits(),
) -> list[Finding]:
    """Pods of logged workloads with no logs, and pods whose logs end too early."""
    logged = log_pods(events)
    if not logged:
        return []
    return pod_log_gaps(logged, stream_stats(events, limits), lives, until)


def pod_log_gaps(
    logged: Mapping[str, list[str]],
    stats: pd.DataFrame,
    lives: Mapping[str, PodLife],
    until: pd.Timestamp | None,
) -> list[Finding]:
    """`pod_log_findings` from the pods' log streams (`log_pods`) and their `stream_stats`."""
    if not logged:
        return []
    workloads = {(k.split("/", 1)[0], workload(k.split("/", 1)[1])) for k in logged}
    findings = []
    for key, life in sorted(lives.items()):
        if key in logged:
            cut = _cut_logs(life, stats.loc[logged[key]], until)
            findings += [cut] if cut else []
        elif (life.namespace, workload(life.name)) in workloads:
            findings.append(_no_logs(life))
    return findings


def _no_logs(life: PodLife) -> Finding:
    node = f" on {life.node}" if life.node else ""
    stopped = f", stopped {hms(life.killed)}" if life.killed is not None else ""
    seen = hms(life.first) + (f"–{hms(life.last)}" if life.last != life.first else "")
    why = (
        "it was deleted before its logs were saved"
        if life.killed is not None
        else "its logs are not in the bundle"
    )
    return Finding(
        id=f"missing_logs:{life.namespace}/{life.name}",
        kind="gap",
        check="missing_logs",
        time=life.first,
        end=life.last,
        subject=f"pod/{life.namespace}/{life.name}",
        summary=(
            f"No logs for pod {life.name}{node}: seen in {life.events} Kubernetes events "
            f"{seen}{stopped}; {why}"
        ),
        detail=(
            f"Pod {life.namespace}/{life.name} appears in Kubernetes events but none of "
            "its log lines are in the bundle, although logs of its workload are. kubectl "
            "logs only reaches pods that still exist: what it logged is lost unless a log "
            "pipeline (Loki, ...) kept it."
        ),
        ref=life.first_ref,
        labels={
            "pod": life.name,
            "namespace": life.namespace,
            "node": life.node or "",
            "events": str(life.events),
            "first_seen": iso(life.first),
            "last_seen": iso(life.last),
            **({"stopped": iso(life.killed)} if life.killed is not None else {}),
        },
    )


def _cut_logs(life: PodLife, stats: pd.DataFrame, until: pd.Timestamp | None) -> Finding | None:
    threshold = stats["threshold"].min()
    if pd.isna(threshold):
        return None
    last, ref = stats["last"].max(), str(stats.loc[stats["last"].idxmax(), "last_ref"])
    end = life.killed if life.killed is not None else until
    if end is None or (end - last).total_seconds() <= threshold:
        return None
    lost = (end - last).total_seconds()
    why = (
        f"it was stopped at {hms(end)} (Killing)"
        if life.killed is not None
        else f"the window ends at {hms(end)} and the pod was not seen stopped"
    )
    return Finding(
        id=f"logs_cut:{life.namespace}/{life.name}",
        kind="gap",
        check="logs_cut",
        time=last,
        end=end,
        subject=f"pod/{life.namespace}/{life.name}",
        summary=(f"Logs of pod {life.name} end at {hms(last)}, {seconds_text(lost)} early: {why}"),
        detail=(
            f"The last saved line of {life.namespace}/{life.name} is at {iso(last)}; "
            f"{why}. Its logs for those {seconds_text(lost)} are not in the bundle "
            "(saved too early, or the stream was cut)."
        ),
        ref=ref,
        labels={
            "pod": life.name,
            "namespace": life.namespace,
            "node": life.node or "",
            "last_line": iso(last),
            "until": iso(end),
            "lost_seconds": f"{lost:.3f}",
        },
    )


def backwards_findings(events: pd.DataFrame, limits: GapLimits = GapLimits()) -> list[Finding]:
    """Streams where, in file order, a line is stamped over ``backwards`` s before the last."""
    log = (events["kind"] == "log").to_numpy(dtype=bool)
    every = bool(log.all())  # a batch of log lines: no copy
    refs = _text(events["ref"]) if every else _text(events["ref"]).filter(log)
    parsed = ref_line_numbers(refs)
    if parsed is None:  # a line number too long to read exactly here
        return _backwards_slow(events, limits)
    file, line = parsed
    stream = _text(events["stream"]) if every else _text(events["stream"]).filter(log)
    ok = (line >= 0) & stream.is_valid().to_numpy(zero_copy_only=False)  # groupby drops NA
    if not ok.any():
        return []
    rows = np.flatnonzero(log & ok) if every else np.flatnonzero(log)[ok]
    if not ok.all():
        where = pa.array(ok)
        stream, file, line = stream.filter(where), file.filter(where), line[ok]
    streams, files = _ranks(stream), _ranks(file)
    # "file order": stream, file (as strings), line; a stable sort, as pandas' sort_values.
    # A collector writes each file's lines in order, so the sort is mostly skipped.
    ds, df, dl = np.diff(streams), np.diff(files), np.diff(line)
    if not ((ds > 0) | ((ds == 0) & ((df > 0) | ((df == 0) & (dl >= 0))))).all():
        order = np.lexsort((line, files, streams))
        rows, streams, files = rows[order], streams[order], files[order]
    times = events["time"].array[rows]
    ticks = times.asi8
    gap = np.where(times.isna()[1:] | times.isna()[:-1], NAT, ticks[1:] - ticks[:-1])
    # pandas' own seconds of a timedelta, as the groupby diff's .dt.total_seconds() gives them
    step = pd.Series(gap.view(f"m8[{times.unit}]")).dt.total_seconds().to_numpy()
    same = (streams[1:] == streams[:-1]) & (files[1:] == files[:-1])
    back = np.flatnonzero(same & (step < -limits.backwards))
    findings = []
    for part in np.split(back, np.flatnonzero(np.diff(streams[back + 1])) + 1) if len(back) else []:
        jumps = -step[part]
        worst = int(rows[part[int(np.argmax(jumps))] + 1])  # the first of the largest
        findings.append(
            _backwards(
                str(events["stream"].iloc[worst]),
                events["time"].iloc[worst],
                str(events["ref"].iloc[worst]),
                len(part),
                float(jumps.max()),
            )
        )
    return findings


NAT = np.iinfo(np.int64).min  # numpy's NaT as an int64


def _text(column: pd.Series) -> pa.Array:
    values = pa.array(column, type=pa.large_string(), from_pandas=True)
    return values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values


def _ranks(values: pa.Array) -> np.ndarray:
    """Each value's rank among the distinct ``values`` in string (code point) order."""
    coded = pc.dictionary_encode(values)
    rank = pc.rank(coded.dictionary, sort_keys="ascending").to_numpy(zero_copy_only=False)
    out: np.ndarray = rank.astype(np.int64)[coded.indices.to_numpy(zero_copy_only=False)]
    return out  # int64: differences of ranks may be negative


def _backwards(stream: str, time: pd.Timestamp, ref: str, times: int, most: float) -> Finding:
    return Finding(
        id=f"backwards:{stream}",
        kind="clock",
        check="backwards",
        time=time,
        end=None,
        subject=stream,
        summary=(
            f"Time runs backwards in {stream}: {times} time(s), by up to "
            f"{seconds_text(most)} (at {hms(time)})"
        ),
        detail=(
            "In file order a line is stamped earlier than the line before it. The "
            "clock that stamped them was stepped back (or two sources were mixed into "
            "one stream); order within this stream is not to be trusted there."
        ),
        ref=ref,
        labels={"times": str(times), "max_seconds": f"{most:.3f}"},
    )


def _backwards_slow(events: pd.DataFrame, limits: GapLimits) -> list[Finding]:
    """`backwards_findings` through `ref_lines` (regex and pandas numbers), for refs whose
    line numbers `ref_line_numbers` does not read."""
    logs = events.loc[(events["kind"] == "log").to_numpy(dtype=bool), ["time", "stream", "ref"]]
    parts = ref_lines(logs["ref"])
    logs = logs.assign(file=parts["file"], line=parts["line"]).dropna(subset=["line"])
    if logs.empty:
        return []
    logs = logs.sort_values(["stream", "file", "line"], kind="stable")
    step = logs["time"].groupby([logs["stream"], logs["file"]]).diff().dt.total_seconds()
    back = logs.loc[(step < -limits.backwards).to_numpy(dtype=bool, na_value=False)]
    findings = []
    for stream, rows in back.groupby("stream", sort=True):
        jumps = -step.loc[rows.index]
        worst = jumps.idxmax()
        time, ref = logs.at[worst, "time"], str(logs.at[worst, "ref"])
        findings.append(_backwards(str(stream), time, ref, len(rows), float(jumps.max())))
    return findings


def future_findings(
    events: pd.DataFrame, collected_at: pd.Timestamp | None, limits: GapLimits = GapLimits()
) -> list[Finding]:
    """Streams with events stamped after the bundle was collected."""
    if collected_at is None or events.empty:
        return []
    limit = collected_at + pd.Timedelta(seconds=limits.future)
    ahead = events.loc[(events["time"] > limit).to_numpy(dtype=bool)]
    findings = []
    for stream, rows in ahead.groupby("stream", sort=True):
        most = float((rows["time"].max() - collected_at).total_seconds())
        findings.append(
            Finding(
                id=f"future:{stream}",
                kind="clock",
                check="future",
                time=rows["time"].min(),
                end=rows["time"].max(),
                subject=str(stream),
                summary=(
                    f"{len(rows)} event(s) of {stream} stamped after the bundle was collected "
                    f"({iso(collected_at)}), up to {seconds_text(most)} ahead: a clock ahead "
                    "or a wrong zone"
                ),
                detail="Nothing can happen after it was collected; these stamps are wrong.",
                ref=str(rows["ref"].iloc[0]),
                labels={
                    "events": str(len(rows)),
                    "max_ahead_seconds": f"{most:.3f}",
                    "collected_at": iso(collected_at),
                },
            )
        )
    return findings


def ttl_findings(
    events: pd.DataFrame,
    window: Window | None,
    collected_at: pd.Timestamp | None,
    live_events: bool,
    limits: GapLimits = GapLimits(),
) -> list[Finding]:
    """Kubernetes events older than the API server's event TTL are likely gone."""
    if not live_events or window is None or collected_at is None:
        return []
    horizon = collected_at - pd.Timedelta(seconds=limits.event_ttl)
    since, until = pd.Timestamp(window.since), pd.Timestamp(window.until)
    if since >= horizon:
        return []
    k8s = events.loc[
        (events["source"] == "kubernetes").to_numpy(dtype=bool)
        & events["kind"].isin(["k8s_event", "deploy"]).to_numpy(dtype=bool)
    ]
    if len(k8s) and k8s["time"].min() < horizon - pd.Timedelta(minutes=1):
        return []  # older events survived: this cluster keeps them longer
    age = (collected_at - since).total_seconds()
    ttl = seconds_text(limits.event_ttl)
    return [
        Finding(
            id="event_ttl",
            kind="gap",
            check="event_ttl",
            time=since,
            end=min(horizon, until),
            subject="kubernetes/events",
            summary=(
                f"Kubernetes events before {hms(horizon)} are likely missing: collected "
                f"{seconds_text(age)} after the window began; the API server keeps events "
                f"{ttl} by default (--event-ttl)"
            ),
            detail=(
                f"The bundle was collected at {iso(collected_at)}; events older than "
                f"{iso(horizon)} had likely expired and no older event is in the bundle. "
                "Deploys, restarts and scheduling in that span may be missing; check the "
                "Deployment's ReplicaSet history and the pods' status instead."
            ),
            ref="manifest.json#/collected_at",
            labels={
                "horizon": iso(horizon),
                "ttl_seconds": f"{limits.event_ttl:g}",
                "collected_at": iso(collected_at),
            },
        )
    ]


def sorted_logs(events: pd.DataFrame) -> pd.DataFrame:
    """Time, stream and ref of the log rows, by stream, then time (timeline order on ties)."""
    logs = events.loc[(events["kind"] == "log").to_numpy(dtype=bool), ["time", "stream", "ref"]]
    return logs.sort_values(["stream", "time"], kind="stable").reset_index(drop=True)

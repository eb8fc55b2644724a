"""Facts the integrity checks share: stream labels, pods and their nodes, metric names.

All functions are pure and read only the columns they name, so they stay cheap on a
million-row timeline (labels JSON is parsed once per stream or per selected row, never for
every log line).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

_SCHEDULED = re.compile(r"Successfully assigned (?P<ns>[^/\s]+)/(?P<pod>\S+) to (?P<node>\S+)")
# Deployment pods: <deployment>-<pod-template-hash>-<5 chars>; StatefulSet pods: <name>-<n>
_K8S_SUFFIX = "bcdfghjklmnpqrstvwxz2456789"
_POD_OF_RS = re.compile(rf"^(?P<w>.+?)(?:-[{_K8S_SUFFIX}]{{6,10}})?-[{_K8S_SUFFIX}]{{5}}$")
_POD_OF_STS = re.compile(r"^(?P<w>.+)-\d+$")


@dataclass(frozen=True)
class PodLife:
    """What the Kubernetes events say about one pod (times on the reporters' clocks)."""

    namespace: str
    name: str
    node: str | None
    first: pd.Timestamp
    last: pd.Timestamp
    events: int
    killed: pd.Timestamp | None
    scheduled: pd.Timestamp | None
    first_ref: str


def parse_labels(text: object) -> dict[str, str]:
    """A labels JSON string as a dict; anything unreadable gives ``{}``."""
    if not isinstance(text, str) or not text:
        return {}
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def stream_labels(events: pd.DataFrame) -> dict[str, dict[str, str]]:
    """Labels of the first row of each stream (streams share labels like pod and container)."""
    firsts = events.drop_duplicates("stream", keep="first")
    return {
        str(s): parse_labels(lab) for s, lab in zip(firsts["stream"], firsts["labels"], strict=True)
    }


def log_pods(events: pd.DataFrame) -> dict[str, list[str]]:
    """``ns/pod`` -> its log streams, for log rows whose labels name a pod."""
    logs = events.loc[(events["kind"] == "log").to_numpy(dtype=bool), ["stream", "labels"]]
    return pods_of(stream_labels(logs))


def pods_of(streams: Mapping[str, Mapping[str, str]]) -> dict[str, list[str]]:
    """``ns/pod`` -> its log streams, from each log stream's labels (`stream_labels`)."""
    pods: dict[str, list[str]] = {}
    for stream, labels in sorted(streams.items()):
        if labels.get("pod"):
            key = f"{labels.get('namespace', '')}/{labels['pod']}"
            pods.setdefault(key, []).append(stream)
    return pods


def pod_lives(events: pd.DataFrame) -> dict[str, PodLife]:
    """``ns/pod`` -> `PodLife` from Kubernetes events about Pods (labels kind=Pod)."""
    rows = events.loc[(events["kind"] == "k8s_event").to_numpy(dtype=bool)]
    rows = rows.loc[rows["labels"].str.contains('"kind": "Pod"', regex=False).to_numpy(dtype=bool)]
    out: dict[str, PodLife] = {}
    if rows.empty:
        return out
    parsed = [parse_labels(x) for x in rows["labels"]]
    frame = pd.DataFrame(
        {
            "key": [f"{p.get('namespace', '')}/{p.get('name', '')}" for p in parsed],
            "reason": [p.get("reason", "") for p in parsed],
            "node": [
                p.get("node") or _scheduled_node(m)
                for p, m in zip(parsed, rows["message"], strict=True)
            ],
            "time": rows["time"].to_numpy(),
            "ref": rows["ref"].to_numpy(),
        }
    ).sort_values(["key", "time", "ref"], kind="stable")
    for key, group in frame.groupby("key", sort=True):
        nodes = group["node"].dropna()
        killed = group.loc[group["reason"] == "Killing", "time"]
        sched = group.loc[group["reason"] == "Scheduled", "time"]
        ns, _, name = str(key).partition("/")
        out[str(key)] = PodLife(
            namespace=ns,
            name=name,
            node=str(nodes.iloc[0]) if len(nodes) else None,
            first=group["time"].iloc[0],
            last=group["time"].iloc[-1],
            events=len(group),
            killed=killed.max() if len(killed) else None,
            scheduled=sched.min() if len(sched) else None,
            first_ref=str(group["ref"].iloc[0]),
        )
    return out


def workload(pod: str) -> str:
    """The workload a pod name belongs to: ``checkout-api-6d8f7b9c5d-ms2ds`` -> ``checkout-api``."""
    for pattern in (_POD_OF_RS, _POD_OF_STS):
        match = pattern.match(pod)
        if match:
            return match.group("w")
    return pod


def metric_names_of(samples: pd.DataFrame, fallback: str) -> dict[str, str]:
    """Each series' metric name: its ``__name__`` label, else ``fallback`` (the file's name)."""
    firsts = samples.drop_duplicates("series")
    return {
        s: parse_labels(lab).get("__name__", fallback)
        for s, lab in zip(firsts["series"], firsts["labels"], strict=True)
    }


def of_metrics(samples: pd.DataFrame, fallback: str, wanted: Sequence[str]) -> np.ndarray:
    """Which samples are of the metrics named ``wanted`` (no name per sample is made: a
    30-day query holds millions of samples of a few series)."""
    series = [s for s, name in metric_names_of(samples, fallback).items() if name in wanted]
    found: np.ndarray = samples["series"].isin(series).to_numpy(dtype=bool)
    return found


def series_labels(samples: pd.DataFrame) -> dict[str, dict[str, str]]:
    """``series`` -> its labels (parsed once per series)."""
    firsts = samples.drop_duplicates("series")
    return {
        str(s): parse_labels(lab) for s, lab in zip(firsts["series"], firsts["labels"], strict=True)
    }


def common_step(samples: pd.DataFrame) -> pd.Timedelta | None:
    """The most common positive spacing of samples within a series (ties: the smallest)."""
    ordered = samples.sort_values(["series", "time"], kind="stable")
    diffs = ordered["time"].groupby(ordered["series"]).diff().dropna()
    diffs = diffs[diffs > pd.Timedelta(0)].dt.round("1ms")
    if diffs.empty:
        return None
    counts = diffs.value_counts()
    best = counts[counts == counts.max()].index.min()
    return pd.Timedelta(best)


def resolution(times: pd.Series) -> np.ndarray:
    """Seconds of precision of each stamp: 1.0 for whole seconds, else 0.001."""
    ns = times.astype("int64").to_numpy() % 1_000_000_000
    return np.where(ns == 0, 1.0, 0.001)


def pods_on(lives: Mapping[str, PodLife], node: str) -> list[str]:
    """``ns/pod`` keys of the pods that ran on ``node``, sorted."""
    return sorted(k for k, life in lives.items() if life.node == node)


def ref_lines(refs: pd.Series) -> pd.DataFrame:
    """``file`` and ``line`` of ``raw/<path>#L<line>`` refs (NA for other refs); vectorized."""
    parts = pc.extract_regex(
        pa.array(refs.astype("string"), type=pa.string()), r"^(?P<file>[^#]*)#L(?P<line>\d+)$"
    )
    if isinstance(parts, pa.ChunkedArray):
        parts = parts.combine_chunks()
    file = pd.Series(parts.field("file"), dtype="string", index=refs.index)
    line = pd.to_numeric(pd.Series(parts.field("line"), dtype="string", index=refs.index))
    return pd.DataFrame({"file": file, "line": line})


_LONGEST = 15  # digits of a line number read here: below 2**53, exact as int64 and float64


def ref_line_numbers(refs: pa.Array) -> tuple[pa.Array, np.ndarray] | None:
    """`ref_lines` at byte level: the ``file`` (null where the ref is not ``<file>#L<digits>``
    with one ``#``) and the ``line`` (-1 there) of each ref. None when a ref ends in more than
    `_LONGEST` digits (`ref_lines`, which reads them as pandas numbers, decides those).

    The regex's ``\\d`` is RE2's, ASCII digits only, and its ``$`` the end of the text (RE2
    without the multi-line flag), so a ref matches when it ends in 1 to 15 ASCII digits after
    ``#L`` and holds no other ``#``. Only the last 16 bytes of each ref are read."""
    if isinstance(refs, pa.ChunkedArray):
        refs = refs.combine_chunks()
    refs = refs.cast(pa.large_string())
    n = len(refs)
    _, offsets, data = refs.buffers()
    bounds = np.frombuffer(offsets, np.int64, n + 1, refs.offset * 8) if n else np.zeros(1, int)
    text = np.frombuffer(data, np.uint8) if data is not None else np.zeros(0, np.uint8)
    starts, ends = bounds[:-1], bounds[1:]
    digits = np.zeros(n, np.int64)  # trailing ASCII digits of each ref
    line = np.zeros(n, np.int64)
    going = ends > starts
    if not len(text):
        going[:] = False
    for back in range(1, _LONGEST + 2):
        going &= ends - back >= starts
        if not going.any():
            break
        byte = text[np.where(going, ends - back, 0)].astype(np.int64) - 48
        going &= (byte >= 0) & (byte <= 9)
        if back > _LONGEST and going.any():
            return None
        digits += going
        line += np.where(going, byte, 0) * 10 ** (back - 1)
    mark = ends - digits - 1  # where the "L" must be, after the one "#"
    ok = (digits > 0) & (mark - 1 >= starts) & refs.is_valid().to_numpy(zero_copy_only=False)
    if len(text):
        safe = np.where(ok, mark, 0)
        ok &= (text[safe] == ord("L")) & (text[np.maximum(safe - 1, 0)] == ord("#"))
    file = pc.list_element(pc.split_pattern(refs, "#", max_splits=1), 0)  # up to the first #
    ok &= pc.binary_length(file).to_numpy(zero_copy_only=False) == mark - 1 - starts
    file = pc.if_else(pa.array(~ok), pa.scalar(None, pa.large_string()), file)
    return file, np.where(ok, line, -1)


def _scheduled_node(message: object) -> str | None:
    match = _SCHEDULED.search(str(message)) if isinstance(message, str) else None
    return match.group("node") if match else None

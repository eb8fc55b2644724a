"""Kubernetes' formats, shared by the live collector and the ``[[file]]`` import:
``kubectl logs [--prefix] [--timestamps]`` output, container-runtime (CRI) log files and
``kubectl get events -o json``. Every event's ``source`` is ``kubernetes``."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from incident_timeline.collector.formats import (
    Context,
    Format,
    Parsed,
    Sample,
    expect_list,
    json_parser,
    objects,
    row,
    rows_to_events,
    text_parser,
)
from incident_timeline.collector.lines import (
    flagged,
    split_lines,
    strip_leading,
    summarize,
    window_of,
)
from incident_timeline.timeline import schema
from incident_timeline.timeline.columns import extract
from incident_timeline.timeline.normalize import detect_severity
from incident_timeline.timeline.schema import EventRow
from incident_timeline.timeline.timestamps import (
    fill_inferred,
    parse_iso,
    parse_timestamps,
    read_runtime_log,
)

# kubectl logs --prefix: "[pod/<pod>/<container>] "
_PREFIX = r"^\[(?P<kind>[a-z]+)/(?P<pod>[^/\]]+)/(?P<container>[^\]]+)\] "
# kubectl logs --timestamps: RFC3339 with fixed nanoseconds and one space, at the line's start.
_RUNTIME = r"^(?P<ts>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})) ?"
# A container runtime's own log line: "<RFC 3339> stdout|stderr F|P <text>".
_CRI = _RUNTIME + r"(?:stdout|stderr) [FP](?: |$)"


def looks_like_kubectl(sample: Sample) -> bool:
    """Whether the first lines carry kubectl's ``--prefix`` or ``--timestamps`` prefix."""
    lines = split_lines(sample.head).head(20)
    if lines.empty:
        return False
    prefixed = lines.str.replace(_PREFIX, "", regex=True)
    return bool(prefixed.str.match(_RUNTIME).mean() > 0.8 or lines.str.match(_PREFIX).mean() > 0.8)


def looks_like_cri(sample: Sample) -> bool:
    """Whether the first lines are a container runtime's own log (``<ts> stdout F <text>``)."""
    lines = split_lines(sample.head).head(20)
    return not lines.empty and bool(lines.str.match(_CRI).mean() > 0.8)


def parse_kubectl_logs(text: str, ctx: Context) -> Parsed:
    """``kubectl logs [--prefix] [--timestamps]``: the runtime stamp is ``time``, the app's
    own timestamp (if any) is ``embedded_time``; the prefix names the stream."""
    # Arrow-backed strings: the regex replaces below run in Arrow's kernels, not per line.
    lines = split_lines(text).astype("string[pyarrow]")
    prefixed = bool(lines.str.startswith("[").any())
    prefix = extract(lines, _PREFIX) if prefixed else _no_prefix(lines)
    rest = lines.str.replace(_PREFIX, "", regex=True) if prefixed else lines
    runtime = extract(rest, _RUNTIME)["ts"]
    body = rest.str.replace(_RUNTIME, "", regex=True)
    app = parse_timestamps(body, ctx.timezone, window_of(ctx))
    has_runtime = runtime.notna()
    stamped = parse_iso(runtime)
    time = stamped["time"].where(has_runtime, app["time"])
    quality = stamped["quality"].where(has_runtime, app["quality"])
    time_raw = runtime.where(has_runtime, app["time_raw"]).fillna("")
    time, quality = fill_inferred(time, quality, ctx.fallback_time)
    stream, labels = _kube_streams(prefix, ctx)
    labels = flagged(labels, app["dst"], has_runtime)
    summary = _strip_stamp(body, app["time_raw"])
    events = schema.make_events(
        time=time,
        source="kubernetes",
        stream=stream,
        kind="log",
        severity=detect_severity(body),
        message=body.fillna(""),
        summary=summarize(summary),
        labels=labels,
        time_raw=time_raw,
        time_quality=quality,
        embedded_time=app["time"].where(has_runtime),
        ref=ctx.ref + "#L" + lines.index.astype(str),
    )
    return Parsed(events, None, {"log_lines": len(events)})


def _no_prefix(lines: pd.Series) -> pd.DataFrame:
    empty = pd.Series(pd.NA, index=lines.index, dtype="string")
    return pd.DataFrame({"kind": empty, "pod": empty, "container": empty})


# What `strip_leading` drops after a leading stamp, with \s spelt out so that Arrow's RE2
# runs it (pandas falls back to Python's re, line by line, for \s).
_AFTER_STAMP = r"^[\]\"]?[ \t\n\r\f\v:|,-]*"


def _strip_stamp(body: pd.Series, raw: pd.Series) -> pd.Series:
    """`strip_leading`, vectorized for the common case (the line opens with the stamp
    itself): rows grouped by the stamp's length are compared and cut in Arrow; the rest
    (``time=``, brackets, quotes) go through `strip_leading` one by one."""
    out = body.astype("string[pyarrow]").copy()
    lengths = raw.str.len()
    done = pd.Series(False, index=body.index)
    for n in lengths.dropna().unique():
        rows = (lengths == n).fillna(False).to_numpy(dtype=bool)
        head = out[rows].str.slice(0, int(n))
        same = (head == raw[rows].astype("string[pyarrow]")).fillna(False).to_numpy(dtype=bool)
        picked = np.flatnonzero(rows)[same]
        if len(picked):
            cut = out.iloc[picked].str.slice(int(n)).str.replace(_AFTER_STAMP, "", regex=True)
            out.iloc[picked] = cut
            done.iloc[picked] = True
    left = (~done & raw.notna()).to_numpy(dtype=bool)
    if left.any():
        out[left] = strip_leading(body[left], raw[left])
    return out


def parse_cri(data: bytes, ctx: Context) -> Parsed:
    """A container runtime's log file (``/var/log/pods/.../0.log``): ``time`` is the runtime's
    stamp, the app's own is ``embedded_time``; partial (``P``) lines are joined into the record
    of their first line, which ``ref`` points at. Lines not in the runtime's shape are kept."""
    records = read_runtime_log(data, ctx.timezone)
    records.index = pd.RangeIndex(len(records))
    app = parse_timestamps(records["message"], ctx.timezone, window_of(ctx))
    has_runtime = records["time"].notna()
    time = records["time"].where(has_runtime, app["time"])
    quality = records["quality"].where(has_runtime, app["quality"])
    time_raw = records["time_raw"].where(has_runtime, app["time_raw"]).fillna("")
    time, quality = fill_inferred(time, quality, ctx.fallback_time)
    base = {"namespace": ctx.namespace, "file": ctx.ref.removeprefix("raw/file/")}
    labels = (
        records["stream"]
        .fillna("")
        .map(
            {s: schema.labels_json({**base, "stream": s or None}) for s in ("", "stdout", "stderr")}
        )
    )
    labels = flagged(labels, app["dst"], has_runtime)
    message = records["message"]
    events = schema.make_events(
        time=time,
        source="kubernetes",
        stream=ctx.stream,
        kind="log",
        severity=detect_severity(message),
        message=message,
        summary=summarize(strip_leading(message, app["time_raw"])),
        labels=labels,
        time_raw=time_raw,
        time_quality=quality,
        embedded_time=app["time"].where(has_runtime),
        ref=ctx.ref + "#L" + records["line"].astype(str),
    )
    joined = int((records["partial"] > 0).sum())
    return Parsed(events, None, {"log_lines": len(events), "joined_partial_lines": joined})


def _kube_streams(prefix: pd.DataFrame, ctx: Context) -> tuple[pd.Series, pd.Series]:
    has = prefix["pod"].notna()
    ns = f"{ctx.namespace}/" if ctx.namespace else ""
    stream = (ns + prefix["pod"] + "/" + prefix["container"]).where(has, ctx.stream)
    keys = prefix["pod"].fillna("") + "\0" + prefix["container"].fillna("")
    labels = {
        key: schema.labels_json(
            {"namespace": ctx.namespace, "pod": pod or None, "container": container or None}
        )
        for key, pod, container in _unique(keys)
    }
    return stream, keys.map(labels)


def _unique(keys: pd.Series) -> list[tuple[str, str, str]]:
    return [(k, *k.split("\0")) for k in keys.unique()]


def parse_kubectl_events(data: Any, ctx: Context) -> Parsed:
    """``kubectl get events -o json`` (core/v1 or events.k8s.io/v1 items)."""
    items = objects(
        expect_list(data, "items", "kubectl get events -o json output"), "an event list"
    )
    rows = [event_row(i, item, ctx) for i, item in enumerate(items)]
    events = rows_to_events(rows, ctx)
    return Parsed(events, None, {"k8s_events": len(events)})


def event_row(i: int, item: dict[str, Any], ctx: Context) -> EventRow:
    """One event row of item ``i`` of an event list, at its first occurrence."""
    meta = item.get("metadata") or {}
    obj = item.get("involvedObject") or item.get("regarding") or {}
    source = item.get("source") or {}
    reason = item.get("reason") or ""
    text = item.get("message") or item.get("note") or ""
    count = (
        item.get("count")
        or item.get("deprecatedCount")
        or (item.get("series") or {}).get("count")
        or 1
    )
    first = (
        item.get("firstTimestamp")
        or item.get("eventTime")
        or item.get("deprecatedFirstTimestamp")
        or meta.get("creationTimestamp")
    )
    last = item.get("lastTimestamp") or item.get("deprecatedLastTimestamp")
    okind, name = obj.get("kind", "Object"), obj.get("name", "?")
    ns = obj.get("namespace") or meta.get("namespace") or ctx.namespace or ""
    summary = f"{okind} {name}: {reason}: {text}"
    if count > 1:
        summary += f" (×{count}, last {last})"
    deploy = okind == "Deployment" and reason in ("ScalingReplicaSet", "DeploymentRollback")
    return row(
        ctx,
        time_raw=first,
        source="kubernetes",
        stream=f"{ns}/{okind.lower()}/{name}",
        kind="deploy" if deploy else "k8s_event",
        severity="warning" if item.get("type") == "Warning" else "info",
        actor=source.get("component")
        or item.get("reportingComponent")
        or item.get("reportingController"),
        summary=summary,
        message=text,
        pointer=f"/items/{i}",
        labels={
            "namespace": ns,
            "kind": okind,
            "name": name,
            "reason": reason,
            "node": source.get("host"),
            # the API server's stamp beside the reporter's (``time``): a second clock per
            # event, which timeline.trust.eventclock compares per node
            "created": meta.get("creationTimestamp"),
            "count": count,
            "type": item.get("type"),
        },
    )


def _is_event_list(sample: Sample) -> bool:
    return isinstance(sample.document, dict) and isinstance(sample.document.get("items"), list)


from incident_timeline.collector.kubernetes import exports  # noqa: E402 (uses event_row)

FORMATS = (
    Format(
        name="kubectl-logs",
        parse=text_parser(parse_kubectl_logs),
        detect=looks_like_kubectl,
        priority=20,
        source="kubernetes",
        description="kubectl logs [--prefix] [--timestamps] output",
    ),
    Format(
        name="cri",
        parse=parse_cri,
        detect=looks_like_cri,
        priority=10,
        source="kubernetes",
        description="a container runtime's log file (<ts> stdout F ...)",
    ),
    Format(
        name="kubectl-events",
        parse=json_parser(parse_kubectl_events),
        detect=_is_event_list,
        layout="json",
        priority=40,
        source="kubernetes",
        description="kubectl get events -o json",
    ),
    Format(
        name="kubectl-workloads",
        parse=json_parser(exports.parse_workloads),
        detect=exports.looks_like_workloads,
        layout="json",
        priority=30,
        source="kubernetes",
        description="kubectl get deploy,rs,sts,ds,controllerrevisions -o json",
    ),
    Format(
        name="kubectl-pods",
        parse=json_parser(exports.parse_pods),
        detect=exports.looks_like_pods,
        layout="json",
        priority=30,
        source="kubernetes",
        description="kubectl get pods -o json",
    ),
)

"""Kubernetes' formats, shared by the live collector and the ``[[file]]`` import:
``kubectl logs [--prefix] [--timestamps]`` output, container-runtime (CRI) log files and
``kubectl get events -o json``. Every event's ``source`` is ``kubernetes``."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

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
)
from incident_timeline.collector.kubernetes import shapes
from incident_timeline.collector.lines import (
    flagged,
    line_refs,
    split_lines,
    strip_leading,
    summarize,
    window_of,
)
from incident_timeline.timeline import schema
from incident_timeline.timeline.columns import arrow_strings, extract, labels, strings, utc_times
from incident_timeline.timeline.normalize import detect_severity
from incident_timeline.timeline.schema import EventRow
from incident_timeline.timeline.timestamps import (
    fill_inferred,
    open_records,
    parse_iso,
    parse_timestamps,
    read_runtime_log,
)
from incident_timeline.timeline.timestamps.extract import string_parts, window
from incident_timeline.timeline.timestamps.runtime import runtime_prefix, string_views

# kubectl logs --prefix: "[pod/<pod>/<container>] "
_PREFIX = r"^\[(?P<kind>[a-z]+)/(?P<pod>[^/\]]+)/(?P<container>[^\]]+)\] "
# kubectl logs --timestamps: RFC3339 with fixed nanoseconds and one space, at the line's start.
_RUNTIME = r"^(?P<ts>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})) ?"
# A container runtime's own log line: "<RFC 3339> stdout|stderr F|P <text>".
_CRI = _RUNTIME + r"(?:stdout|stderr) [FP](?: |$)"
_EXACT = ("exact",)
_PREFIX_WHOLE = f"^(?P<whole>{_PREFIX[1:]})"
_RUNTIME_WHOLE = f"^(?P<whole>{_RUNTIME[1:]})"


def looks_like_kubectl(sample: Sample) -> bool:
    """Whether the first lines carry kubectl's ``--prefix`` or ``--timestamps`` prefix."""
    lines = _head_lines(sample)
    if not len(lines):
        return False
    prefixed = pc.replace_substring_regex(lines, _PREFIX, "")
    return bool(_share(prefixed, _RUNTIME) > 0.8 or _share(lines, _PREFIX) > 0.8)


def looks_like_cri(sample: Sample) -> bool:
    """Whether the first lines are a container runtime's own log (``<ts> stdout F <text>``)."""
    lines = _head_lines(sample)
    return bool(len(lines)) and bool(_share(lines, _CRI) > 0.8)


def _head_lines(sample: Sample) -> pa.Array:
    """The first 20 non-blank lines of the sample (Arrow strings: detection runs on every
    file, so no pandas string methods, which parse each pattern again in Python)."""
    return arrow_strings(split_lines(sample.head)).slice(0, 20)


def _share(lines: pa.Array, pattern: str) -> float:
    """The share of ``lines`` that ``pattern`` (anchored with ``^``) matches."""
    hits = pc.match_substring_regex(lines, pattern).to_numpy(zero_copy_only=False)
    return float(hits.mean())


def parse_kubectl_logs(data: bytes | str, ctx: Context) -> Parsed:
    """``kubectl logs [--prefix] [--timestamps]``: the runtime stamp is ``time``, the app's
    own timestamp (if any) is ``embedded_time``; the prefix names the stream."""
    events = kubectl_log_events(data, ctx)[0]
    return Parsed(events, None, {"log_lines": len(events)})


def kubectl_log_events(
    data: bytes | str, ctx: Context, refs: bool = True
) -> tuple[pd.DataFrame, np.ndarray]:
    """`parse_kubectl_logs`' events and each one's line number; without ``refs`` every
    ``ref`` is empty (for a caller that points them at its own files by those numbers)."""
    lines = split_lines(data, ctx.first_line)
    prefix, rest = _cut(lines, _PREFIX_WHOLE, "[")
    runtime, stamped, body = _runtime(rest)
    app = parse_timestamps(body, ctx.timezone, window_of(ctx), families=ctx.time_layout)
    has_runtime = runtime.notna()
    embedded = app["time"]
    time, quality, time_raw = stamped["time"], stamped["quality"], runtime
    if not has_runtime.all():  # (else the runtime's stamps are all there is to take)
        time = time.where(has_runtime, app["time"])
        quality = quality.where(has_runtime, app["quality"])
        time_raw = time_raw.where(has_runtime, app["time_raw"]).fillna("")
        embedded = embedded.where(has_runtime)
    time, quality = fill_inferred(time, quality, ctx.fallback_time, ctx.previous_time)
    stream, labels = _kube_streams(prefix, ctx)
    labels = flagged(labels, app["dst"], has_runtime)
    summary = strip_leading(body, app["time_raw"])
    numbers = lines.index.to_numpy()
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
        embedded_time=embedded,
        ref=line_refs(ctx.ref, numbers) if refs else "",
    )
    return events, numbers


def app_text(data: bytes, fmt: str) -> pd.Series:
    """What follows the runtime's part of each line of a ``kubectl-logs`` or ``cri`` file (the
    prefix and stamp, or the stamp, stream and tag): the app's own line, where its timestamp
    is (what a table's ``time_format`` reads)."""
    if fmt == "cri":
        return read_runtime_log(data)["message"]
    return _runtime(_cut(split_lines(data), _PREFIX_WHOLE, "[")[1])[2]


def _runtime(lines: pd.Series) -> tuple[pd.Series, pd.DataFrame, pd.Series]:
    """The ``--timestamps`` stamp of each line (NA where none), its time and quality, and the
    lines without it. Stamps in the usual shape are read in place; the rest by the regex."""
    column = arrow_strings(lines)
    fast, token, utc = runtime_prefix(column)
    data, starts, lengths = string_parts(column)
    stamp = string_views(data, starts, token).cast(pa.large_string())
    raw = pd.Series(strings(stamp, fast), index=lines.index, copy=False)
    stamped = pd.DataFrame(
        {"time": utc_times(utc), "quality": labels(np.zeros(len(fast), np.int64), fast, _EXACT)},
        index=lines.index,
    )
    skip = np.minimum(token + 1, lengths) * fast
    # Not the usual shape but maybe a stamp still (the regex is the definition): cheap
    # checks first, as a valid one opens with "dddd-dd-ddT".
    head = window(data, starts, 11)
    maybe = ~fast & (lengths >= 20) & (head[:, 4] == 45) & (head[:, 7] == 45) & (head[:, 10] == 84)
    if maybe.any():
        rows = np.flatnonzero(maybe)
        found, _ = _cut(lines.iloc[rows], _RUNTIME_WHOLE)
        raw.iloc[rows] = found["ts"].to_numpy()
        parsed = parse_iso(found["ts"])
        stamped.iloc[rows, 0] = parsed["time"].to_numpy()
        stamped.iloc[rows, 1] = parsed["quality"].to_numpy()
        skip[rows] = string_parts(arrow_strings(found["whole"]))[2]
    body = string_views(data, starts + skip, lengths - skip).cast(pa.large_string())
    return raw, stamped, pd.Series(strings(body), index=lines.index, copy=False)


def _cut(lines: pd.Series, pattern: str, opens: str = "") -> tuple[pd.DataFrame, pd.Series]:
    """The named groups of ``pattern`` (anchored, its whole match as group ``whole``) at the
    start of each line, and the lines with that match cut off (as views, no regex replace).
    ``opens``: a first character every match has (a column without one skips the search)."""
    column = arrow_strings(lines)
    if opens and not pc.any(pc.starts_with(column, opens)).as_py():
        none = pd.Series(strings(pa.nulls(len(lines), pa.large_string())), index=lines.index)
        return pd.DataFrame({n: none for n in re.compile(pattern).groupindex}), lines
    found = extract(lines, pattern)
    data, starts, lengths = string_parts(column)
    _, _, skip = string_parts(arrow_strings(found["whole"]))
    rest = string_views(data, starts + skip, lengths - skip).cast(pa.large_string())
    return found, pd.Series(strings(rest), index=lines.index, copy=False)


def parse_cri(data: bytes, ctx: Context) -> Parsed:
    """A container runtime's log file (``/var/log/pods/.../0.log``): ``time`` is the runtime's
    stamp, the app's own is ``embedded_time``; partial (``P``) lines are joined into the record
    of their first line, which ``ref`` points at. Lines not in the runtime's shape are kept."""
    records = read_runtime_log(data, ctx.timezone)
    records.index = pd.RangeIndex(len(records))
    app = parse_timestamps(
        records["message"], ctx.timezone, window_of(ctx), families=ctx.time_layout
    )
    has_runtime = records["time"].notna()
    time = records["time"].where(has_runtime, app["time"])
    quality = records["quality"].where(has_runtime, app["quality"])
    time_raw = records["time_raw"].where(has_runtime, app["time_raw"]).fillna("")
    time, quality = fill_inferred(time, quality, ctx.fallback_time, ctx.previous_time)
    labels = _cri_labels(records["stream"], ctx)
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
        ref=line_refs(ctx.ref, records["line"].to_numpy() + (ctx.first_line - 1)),
    )
    joined = int((records["partial"] > 0).sum())
    return Parsed(events, None, {"log_lines": len(events), "joined_partial_lines": joined})


_CRI_STREAMS = pa.array(["", "stdout", "stderr"], pa.large_string())


def _cri_labels(stream: pd.Series, ctx: Context) -> pd.Series:
    """The labels of each record: the file's, with its stream (none for a line not in the
    runtime's shape), picked from the three there are by Arrow (no pandas ``map``)."""
    base = {"namespace": ctx.namespace, "file": ctx.ref.removeprefix("raw/file/")}
    names = [schema.labels_json({**base, "stream": s or None}) for s in _CRI_STREAMS.to_pylist()]
    codes = pc.index_in(arrow_strings(stream).fill_null(""), value_set=_CRI_STREAMS)
    picked = pa.array(names, pa.large_string()).take(codes)
    return pd.Series(strings(picked), index=stream.index, copy=False)


def _kube_streams(prefix: pd.DataFrame, ctx: Context) -> tuple[pd.Series, pd.Series]:
    has = prefix["pod"].notna()
    if not has.any():  # no --prefix: one stream, one set of labels
        plain = {"namespace": ctx.namespace, "pod": None, "container": None}
        return _repeated(ctx.stream, has.index), _repeated(schema.labels_json(plain), has.index)
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


def _repeated(value: str, index: pd.Index) -> pd.Series:
    """``value`` in every row (built by Arrow: a Python scalar broadcast by pandas costs a
    Python object per row)."""
    return pd.Series(strings(pa.repeat(pa.scalar(value, pa.large_string()), len(index))), index)


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
        parse=parse_kubectl_logs,
        detect=looks_like_kubectl,
        chunked=True,
        priority=20,
        source="kubernetes",
        description="kubectl logs [--prefix] [--timestamps] output",
    ),
    Format(
        name="cri",
        parse=parse_cri,
        detect=looks_like_cri,
        chunked=True,
        cut=open_records,
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
        shape=shapes.EVENT,
    ),
    Format(
        name="kubectl-workloads",
        parse=json_parser(exports.parse_workloads),
        detect=exports.looks_like_workloads,
        layout="json",
        priority=30,
        source="kubernetes",
        description="kubectl get deploy,rs,sts,ds,controllerrevisions -o json",
        shape=shapes.WORKLOAD,
    ),
    Format(
        name="kubectl-pods",
        parse=json_parser(exports.parse_pods),
        detect=exports.looks_like_pods,
        layout="json",
        priority=30,
        source="kubernetes",
        description="kubectl get pods -o json",
        shape=shapes.POD,
    ),
)

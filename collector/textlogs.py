"""Text log exports: ``kubectl logs`` output (with or without ``--timestamps`` and
``--prefix``), raw container-runtime (CRI) log files and plain log files, parsed a whole file
at a time. Timestamps come from ``timeline.timeparse`` (every family it knows, naive ones read
in the file's ``timezone``, year-less ones placed in the window); a line without one takes its
neighbour's time and is marked ``inferred``. A DST-ambiguous or non-existent local time is
resolved by the parser and flagged in the event's labels as ``time_flag`` (``embedded_time_flag``
when it is the app's own timestamp next to a runtime one)."""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np
import pandas as pd

from collector.exports import Context, Parsed
from timeline import schema
from timeline.columns import extract
from timeline.normalize import detect_severity
from timeline.runtime import read_runtime_log
from timeline.timeparse import fill_inferred, parse_iso, parse_timestamps

# kubectl logs --prefix: "[pod/<pod>/<container>] "
_PREFIX = r"^\[(?P<kind>[a-z]+)/(?P<pod>[^/\]]+)/(?P<container>[^\]]+)\] "
# kubectl logs --timestamps: RFC3339 with fixed nanoseconds and one space, at the line's start.
_RUNTIME = r"^(?P<ts>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})) ?"
# A container runtime's own log line: "<RFC 3339> stdout|stderr F|P <text>".
_CRI = _RUNTIME + r"(?:stdout|stderr) [FP](?: |$)"
# What may come before and after a leading timestamp that the summary need not repeat:
# logfmt time=/ts=, a bracket or quote, then separators.
_BEFORE_TS = re.compile(r"\s*(?:(?:time|ts|t|timestamp)=)?[\[\"]?")
_AFTER_TS = re.compile(r"[\]\"]?[\s:|,-]*")
SUMMARY_MAX = 240


def split_lines(text: str) -> pd.Series:
    """Lines of ``text`` indexed by 1-based line number; blank lines are left out."""
    lines = pd.Series(text.split("\n"), dtype="string")
    lines = lines.str.removesuffix("\r")
    lines.index = pd.RangeIndex(1, len(lines) + 1)
    return lines[lines.str.strip() != ""]


def looks_like_kubectl(text: str) -> bool:
    """Whether the first lines carry kubectl's ``--prefix`` or ``--timestamps`` prefix."""
    sample = split_lines(text[:20000]).head(20)
    if sample.empty:
        return False
    prefixed = sample.str.replace(_PREFIX, "", regex=True)
    return bool(prefixed.str.match(_RUNTIME).mean() > 0.8 or sample.str.match(_PREFIX).mean() > 0.8)


def looks_like_cri(text: str) -> bool:
    """Whether the first lines are a container runtime's own log (``<ts> stdout F <text>``)."""
    sample = split_lines(text[:20000]).head(20)
    return not sample.empty and bool(sample.str.match(_CRI).mean() > 0.8)


def looks_like_log(text: str) -> bool:
    """Whether the first line carries a timestamp the parser knows (the lines after it may be
    continuations: stack traces, config dumps)."""
    sample = split_lines(text[:20000]).head(1)
    return not sample.empty and bool(parse_timestamps(sample)["time_raw"].notna().all())


def window_of(ctx: Context) -> tuple[Any, Any] | None:
    """The incident window a parser gives year-less timestamps (None when unknown)."""
    if ctx.fallback_time is None:
        return None
    return ctx.fallback_time, ctx.window_end if ctx.window_end is not None else ctx.fallback_time


def parse_kubectl_logs(text: str, ctx: Context) -> Parsed:
    """``kubectl logs [--prefix] [--timestamps]``: the runtime stamp is ``time``, the app's
    own timestamp (if any) is ``embedded_time``; the prefix names the stream."""
    lines = split_lines(text)
    prefix = extract(lines, _PREFIX)
    rest = lines.str.replace(_PREFIX, "", regex=True)
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
    labels = _flagged(labels, app["dst"], has_runtime)
    summary = strip_leading(body, app["time_raw"])
    events = schema.make_events(
        time=time, source="kubernetes", stream=stream, kind="log",
        severity=detect_severity(body), message=body.fillna(""), summary=summarize(summary),
        labels=labels, time_raw=time_raw, time_quality=quality,
        embedded_time=app["time"].where(has_runtime), ref=ctx.ref + "#L" + lines.index.astype(str),
    )
    return Parsed(events, None, {"log_lines": len(events)})


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
    labels = records["stream"].fillna("").map(
        {s: schema.labels_json({**base, "stream": s or None}) for s in ("", "stdout", "stderr")})
    labels = _flagged(labels, app["dst"], has_runtime)
    message = records["message"]
    events = schema.make_events(
        time=time, source="kubernetes", stream=ctx.stream, kind="log",
        severity=detect_severity(message), message=message,
        summary=summarize(strip_leading(message, app["time_raw"])),
        labels=labels, time_raw=time_raw, time_quality=quality,
        embedded_time=app["time"].where(has_runtime),
        ref=ctx.ref + "#L" + records["line"].astype(str),
    )
    joined = int((records["partial"] > 0).sum())
    return Parsed(events, None, {"log_lines": len(events), "joined_partial_lines": joined})


def parse_log(text: str, ctx: Context) -> Parsed:
    """A plain log file: the first timestamp of each line (any family) is its time."""
    lines = split_lines(text)
    parsed = parse_timestamps(lines, ctx.timezone, window_of(ctx))
    time, quality = fill_inferred(parsed["time"], parsed["quality"], ctx.fallback_time)
    plain = schema.labels_json({"file": ctx.ref.removeprefix("raw/file/")})
    labels = _flagged(pd.Series(plain, index=lines.index), parsed["dst"], None)
    events = schema.make_events(
        time=time, source="file", stream=ctx.stream, kind="log",
        severity=detect_severity(lines), message=lines,
        summary=summarize(strip_leading(lines, parsed["time_raw"])), labels=labels,
        time_raw=parsed["time_raw"].fillna(""), time_quality=quality,
        ref=ctx.ref + "#L" + lines.index.astype(str),
    )
    return Parsed(events, None, {"log_lines": len(events)})


def strip_leading(text: pd.Series, raw: pd.Series) -> pd.Series:
    """``text`` without the timestamp ``raw`` where the line opens with it (bare, bracketed,
    quoted or as logfmt ``time=``), so that the summary does not repeat it."""
    out = [
        _without(line, stamp) if isinstance(stamp, str) and isinstance(line, str) else line
        for line, stamp in zip(text.tolist(), raw.tolist())
    ]
    return pd.Series(out, index=text.index, dtype="string")


def _without(line: str, stamp: str) -> str:
    opening = _BEFORE_TS.match(line)
    at = opening.end() if opening else 0
    if not line.startswith(stamp, at):
        return line
    rest = line[at + len(stamp):]
    closing = _AFTER_TS.match(rest)
    return rest[closing.end() if closing else 0:]


def _flagged(labels: pd.Series, dst: pd.Series, has_runtime: pd.Series | None) -> pd.Series:
    """Add ``time_flag`` (or ``embedded_time_flag`` next to a runtime stamp) to the labels of
    rows whose local time fell in a DST change."""
    flagged = dst.notna().to_numpy()
    if not flagged.any():
        return labels
    out = labels.astype(object).copy()
    embedded = np.zeros(len(dst), dtype=bool) if has_runtime is None else has_runtime.to_numpy()
    for i in np.flatnonzero(flagged):
        extra = json.loads(out.iloc[i])
        extra["embedded_time_flag" if embedded[i] else "time_flag"] = dst.iloc[i]
        out.iloc[i] = schema.labels_json(extra)
    return out


def summarize(text: pd.Series) -> pd.Series:
    """One table-friendly line: whitespace collapsed, cut at SUMMARY_MAX characters."""
    flat = text.fillna("").str.replace(r"\s+", " ", regex=True).str.strip()
    long = flat.str.len() > SUMMARY_MAX
    return flat.where(~long, flat.str.slice(0, SUMMARY_MAX - 1) + "…")


def _kube_streams(prefix: pd.DataFrame, ctx: Context) -> tuple[pd.Series, pd.Series]:
    has = prefix["pod"].notna()
    ns = f"{ctx.namespace}/" if ctx.namespace else ""
    stream = (ns + prefix["pod"] + "/" + prefix["container"]).where(has, ctx.stream)
    keys = prefix["pod"].fillna("") + "\0" + prefix["container"].fillna("")
    labels = {
        key: schema.labels_json({"namespace": ctx.namespace, "pod": pod or None,
                                 "container": container or None})
        for key, pod, container in _unique(keys)
    }
    return stream, keys.map(labels)


def _unique(keys: pd.Series) -> list[tuple[str, str, str]]:
    return [(k, *k.split("\0")) for k in keys.unique()]

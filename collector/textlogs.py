"""Text log exports: ``kubectl logs`` output (with or without ``--timestamps`` and
``--prefix``) and plain log files, parsed a whole file at a time."""

from __future__ import annotations

import pandas as pd

from collector.exports import Context, Parsed
from timeline import schema
from timeline.normalize import detect_severity
from timeline.timeparse import ISO_PATTERN, extract_iso, fill_inferred, parse_iso

# kubectl logs --prefix: "[pod/<pod>/<container>] "
_PREFIX = r"^\[(?P<kind>[a-z]+)/(?P<pod>[^/\]]+)/(?P<container>[^\]]+)\] "
# kubectl logs --timestamps: RFC3339 with fixed nanoseconds and one space, at the line's start.
_RUNTIME = r"^(?P<ts>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})) ?"
# A leading timestamp, bare, bracketed or as logfmt time=/ts=, which the summary need not repeat.
_LEADING_TS = rf"^\s*(?:(?:time|ts|t|timestamp)=)?\[?\"?{ISO_PATTERN}\"?\]?[\s:|-]*"
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


def parse_kubectl_logs(text: str, ctx: Context) -> Parsed:
    """``kubectl logs [--prefix] [--timestamps]``: the runtime stamp is ``time``, the app's
    own timestamp (if any) is ``embedded_time``; the prefix names the stream."""
    lines = split_lines(text)
    prefix = lines.str.extract(_PREFIX)
    rest = lines.str.replace(_PREFIX, "", regex=True)
    runtime = rest.str.extract(_RUNTIME)["ts"]
    body = rest.str.replace(_RUNTIME, "", regex=True)
    app_raw = extract_iso(body)
    app = parse_iso(app_raw, ctx.timezone)
    has_runtime = runtime.notna()
    stamped = parse_iso(runtime)
    time = stamped["time"].where(has_runtime, app["time"])
    quality = stamped["quality"].where(has_runtime, app["quality"])
    time_raw = runtime.where(has_runtime, app_raw).fillna("")
    time, quality = fill_inferred(time, quality, ctx.fallback_time)
    stream, labels = _kube_streams(prefix, ctx)
    events = schema.make_events(
        time=time, source="kubernetes", stream=stream, kind="log",
        severity=detect_severity(body), message=body.fillna(""),
        summary=summarize(body.str.replace(_LEADING_TS, "", regex=True)),
        labels=labels, time_raw=time_raw, time_quality=quality,
        embedded_time=app["time"].where(has_runtime), ref=ctx.ref + "#L" + lines.index.astype(str),
    )
    return Parsed(events, None, {"log_lines": len(events)})


def parse_log(text: str, ctx: Context) -> Parsed:
    """A plain log file: the first ISO 8601 timestamp of each line is its time."""
    lines = split_lines(text)
    raw = extract_iso(lines)
    parsed = parse_iso(raw, ctx.timezone)
    time, quality = fill_inferred(parsed["time"], parsed["quality"], ctx.fallback_time)
    body = lines.str.replace(_LEADING_TS, "", regex=True)
    events = schema.make_events(
        time=time, source="file", stream=ctx.stream, kind="log",
        severity=detect_severity(lines), summary=summarize(body), message=lines,
        labels=schema.labels_json({"file": ctx.ref.removeprefix("raw/file/")}),
        time_raw=raw.fillna(""), time_quality=quality,
        ref=ctx.ref + "#L" + lines.index.astype(str),
    )
    return Parsed(events, None, {"log_lines": len(events)})


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

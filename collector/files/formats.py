"""The plain ``log`` format: any text log, each line's first timestamp (any family the time
engine knows) is its time. It is also what detection falls back to."""

from __future__ import annotations

import pandas as pd

from incident_timeline.collector.formats import Context, Format, Parsed
from incident_timeline.collector.lines import (
    flagged,
    line_refs,
    split_lines,
    strip_leading,
    summarize,
    window_of,
)
from incident_timeline.timeline import schema
from incident_timeline.timeline.normalize import detect_severity
from incident_timeline.timeline.timestamps import fill_inferred, parse_timestamps


def parse_log(data: bytes, ctx: Context) -> Parsed:
    """A plain log file: the first timestamp of each line (any family) is its time."""
    lines = split_lines(data, ctx.first_line)
    parsed = parse_timestamps(lines, ctx.timezone, window_of(ctx), families=ctx.time_layout)
    time, quality = fill_inferred(
        parsed["time"], parsed["quality"], ctx.fallback_time, ctx.previous_time
    )
    plain = schema.labels_json({"file": ctx.ref.removeprefix("raw/file/")})
    labels = flagged(pd.Series(plain, index=lines.index), parsed["dst"], None)
    events = schema.make_events(
        time=time,
        source="file",
        stream=ctx.stream,
        kind="log",
        severity=detect_severity(lines),
        message=lines,
        summary=summarize(strip_leading(lines, parsed["time_raw"])),
        labels=labels,
        time_raw=parsed["time_raw"].fillna(""),
        time_quality=quality,
        ref=line_refs(ctx.ref, lines.index.to_numpy()),
    )
    # What the engine learnt of layouts no table lists, or could not settle, is said.
    notes = list(parsed.attrs.get("time_notes", []))
    return Parsed(events, None, {"log_lines": len(events)}, warnings=notes)


LOG = Format(
    name="log",
    parse=parse_log,
    priority=100,
    chunked=True,
    description="any text log: ISO 8601, klog, syslog, nginx/Apache, log4j, JSON, ...",
)
FORMATS = (LOG,)

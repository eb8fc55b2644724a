"""Which export format a file is in, judged from its content."""

from __future__ import annotations

from incident_timeline.collector import registry
from incident_timeline.collector.formats import Format, Sample


def detect_format(data: bytes, formats: dict[str, Format] | None = None) -> Format:
    """Guess an export's format from its content: a JSON document by the formats that judge
    JSON, text by those that judge lines, and the plain ``log`` format when none claims it
    (a line opening with ``[worker-3]`` is not JSON; JSON lines without a time key are an
    app's log, not a webhook log, unless the webhook format claims them)."""
    formats = registry.formats() if formats is None else formats
    sample = Sample(data)
    ordered = sorted((f for f in formats.values() if f.detect), key=lambda f: f.priority)
    log = formats["log"]
    if sample.opens_json:
        json_formats = [f for f in ordered if f.layout == "json"]
        if sample.is_json:
            for fmt in json_formats:
                if fmt.detect and fmt.detect(sample):
                    return fmt
            return log
        if sample.first_record is None:
            return log
        # JSON lines: a webhook log when its detector claims the first line; else a log.
        for fmt in json_formats:
            if fmt.detect and fmt.detect(sample):
                return fmt
        return log
    for fmt in ordered:
        if fmt.layout == "text" and fmt.detect and fmt.detect(sample):
            return fmt
    return log

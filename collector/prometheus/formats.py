"""Prometheus' format, shared by the live collector and the ``[[file]]`` import: the JSON of
``GET /api/v1/query_range`` (samples to metrics; threshold crossings and ``ALERTS`` to events)."""

from __future__ import annotations

from typing import Any

from incident_timeline.collector.formats import (
    Context,
    Format,
    Parsed,
    Sample,
    json_parser,
    row,
    rows_to_events,
)
from incident_timeline.collector.prometheus.queryrange import parse_query_range


def parse_prometheus(data: Any, ctx: Context) -> Parsed:
    """``/api/v1/query_range`` JSON: samples to metrics; crossings and ALERTS to events."""
    result = parse_query_range(data, ctx.threshold, ctx.label or ctx.stream)
    rows = [row(ctx, source="prometheus", **r) for r in result.rows]
    return Parsed(
        rows_to_events(rows, ctx),
        result.samples,
        {"series": result.series, "samples": len(result.samples)},
        result.warnings,
    )


def _is_query_range(sample: Sample) -> bool:
    document = sample.document
    if not isinstance(document, dict):
        return False
    data = document.get("data")
    return (isinstance(data, dict) and "resultType" in data) or document.get("status") == "error"


FORMATS = (
    Format(
        name="prometheus-query-range",
        parse=json_parser(parse_prometheus),
        detect=_is_query_range,
        layout="json",
        priority=10,
        source="prometheus",
        description="curl .../api/v1/query_range",
    ),
)

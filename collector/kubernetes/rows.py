"""Rows the Kubernetes modules build as plain dicts, each naming its own raw ``file`` and JSON
``pointer`` (one list of events can come from many raw pages), turned into events."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

import pandas as pd

from incident_timeline.collector.formats import Context, rows_to_events
from incident_timeline.timeline import schema
from incident_timeline.timeline.schema import EventRow


def as_rows(rows: Sequence[Mapping[str, Any]]) -> list[EventRow]:
    """Rows built as plain dicts (their ``file`` key removed) as EventRows."""
    return [cast(EventRow, {k: v for k, v in r.items() if k != "file"}) for r in rows]


def rows_frame(rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """Events from rows that carry their own raw ``file`` and ``pointer``."""
    if not rows:
        return schema.empty_events()
    frames = []
    for file, group in pd.DataFrame(list(rows)).groupby("file", sort=True):
        records = group.to_dict("records")
        frames.append(rows_to_events(as_rows(records), Context(ref=str(file), stream="")))
    return pd.concat(frames, ignore_index=True)

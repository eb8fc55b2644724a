"""The facts a postmortem tells, computed from a bundle's events (no I/O, no clock)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from incident_timeline.timeline.window import Window


def manifest_window(manifest: dict[str, Any]) -> Window | None:
    """The collection window a bundle's manifest records, or None if it has none."""
    window = manifest.get("window") or {}
    since, until = _ts(window.get("since")), _ts(window.get("until"))
    if since is None or until is None:
        return None
    return Window(since.to_pydatetime(), until.to_pydatetime())


def _ts(value: Any) -> pd.Timestamp | None:
    """Parse a manifest time; naive ones are UTC (the manifest writes UTC)."""
    if not value:
        return None
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError):
        return None
    if pd.isna(stamp):
        return None
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")

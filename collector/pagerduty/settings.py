"""The ``[pagerduty]`` table: an `Endpoint` (url, token_env/token_file, ca_file, headers,
timeout, retries) plus what to list. Checked strictly: filters take PagerDuty's own values."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path
from typing import Any

from incident_timeline.collector.errors import ConfigError
from incident_timeline.collector.http import Endpoint
from incident_timeline.collector.prometheus.collector import endpoint_from_table
from incident_timeline.timeline.window import parse_duration

URGENCIES = ("high", "low")
STATUSES = ("triggered", "acknowledged", "resolved")
DEFAULT_URL = "https://api.pagerduty.com"


@dataclasses.dataclass(frozen=True, kw_only=True)
class PagerDutySettings(Endpoint):
    """E.g. ``token_env = "PAGERDUTY_TOKEN"``, ``service_ids = ["PABC123"]``."""

    url: str = DEFAULT_URL
    service_ids: list[str] = dataclasses.field(default_factory=list)
    team_ids: list[str] = dataclasses.field(default_factory=list)
    urgencies: list[str] = dataclasses.field(default_factory=list)
    statuses: list[str] = dataclasses.field(default_factory=list)
    lookback: str = "1d"
    page_size: int = 100
    include_alerts: bool = True
    overview: bool = False

    @property
    def lookback_delta(self) -> timedelta:
        """``lookback`` as a timedelta."""
        return parse_duration(self.lookback)


def settings_from_table(table: Any, path: Path) -> PagerDutySettings:
    """The ``[pagerduty]`` table of ``path``, checked; a ConfigError naming the key."""
    settings: PagerDutySettings = endpoint_from_table(PagerDutySettings, table, "pagerduty", path)
    for key, allowed in (("urgencies", URGENCIES), ("statuses", STATUSES)):
        for value in getattr(settings, key):
            if value not in allowed:
                raise ConfigError(
                    f"{path}: pagerduty.{key} has {value!r}; PagerDuty knows {', '.join(allowed)}"
                )
    try:
        parse_duration(settings.lookback)
    except ValueError as exc:
        raise ConfigError(f"{path}: pagerduty.lookback: {exc}") from None
    if not 1 <= settings.page_size <= 100:
        raise ConfigError(f"{path}: pagerduty.page_size must be 1 to 100 (PagerDuty's maximum)")
    return settings

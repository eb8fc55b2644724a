"""Collectors are found through entry points, the same way for built-ins and third parties."""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any

from collector.errors import ConfigError

GROUP = "incident_timeline.collectors"
# Used only when the package's own metadata is missing (running from a bare source tree).
BUILTIN = {
    "file": "collector.files:FileCollector",
    "prometheus": "collector.prometheus:PrometheusCollector",
    "alertmanager": "collector.alertmanager:AlertmanagerCollector",
}


def available() -> dict[str, str]:
    """Collector name -> ``module:Class`` for everything installed."""
    found = {ep.name: ep.value for ep in entry_points(group=GROUP)}
    return {**BUILTIN, **found}


def load(name: str) -> Any:
    """Import collector ``name``'s class; a ConfigError if it is not installed."""
    targets = available()
    if name not in targets:
        raise ConfigError(f"no collector named {name!r}; installed: {', '.join(sorted(targets))}")
    module_name, _, attr = targets[name].partition(":")
    module = __import__(module_name, fromlist=[attr])
    return getattr(module, attr)


def load_all() -> dict[str, Any]:
    """Every installed collector class, by name."""
    return {name: load(name) for name in sorted(available())}

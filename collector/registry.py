"""Collectors and export formats are found through entry points, the same way for built-ins and
third parties: ``incident_timeline.collectors`` names a ``Collector`` class per config table,
``incident_timeline.formats`` names a tuple of ``Format`` objects per source. Nothing is imported
until it is asked for, so one broken plugin only fails the configs that use it."""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import entry_points
from typing import TYPE_CHECKING

from incident_timeline.collector.errors import ConfigError

if TYPE_CHECKING:
    from incident_timeline.collector.formats import Format
    from incident_timeline.collector.protocol import Collector

GROUP = "incident_timeline.collectors"
FORMAT_GROUP = "incident_timeline.formats"


def available() -> dict[str, str]:
    """Collector name -> ``module:Class`` for everything installed."""
    return {ep.name: ep.value for ep in entry_points(group=GROUP)}


def _target(value: str) -> object:
    module_name, _, attr = value.partition(":")
    return getattr(import_module(module_name), attr)


def load(name: str) -> type[Collector]:
    """Import collector ``name``'s class; a ConfigError if it is not installed or broken."""
    targets = available()
    if name not in targets:
        installed = ", ".join(sorted(targets)) or "none (is the package installed?)"
        raise ConfigError(f"no collector named {name!r}; installed: {installed}")
    try:
        cls = _target(targets[name])
    except Exception as exc:  # a plugin may fail at import in any way; say which one
        raise ConfigError(f"collector {name!r} ({targets[name]}) cannot be loaded: {exc}") from exc
    return cls  # type: ignore[return-value]


def formats() -> dict[str, Format]:
    """Every installed export format, by name (built-ins and plugins alike)."""
    found: dict[str, Format] = {}
    for ep in sorted(entry_points(group=FORMAT_GROUP), key=lambda ep: ep.name):
        try:
            declared = _target(ep.value)
        except Exception as exc:  # a plugin may fail at import in any way; say which one
            raise ConfigError(f"formats {ep.name!r} ({ep.value}) cannot be loaded: {exc}") from exc
        for fmt in declared:  # type: ignore[attr-defined]
            found.setdefault(fmt.name, fmt)
    return found

"""config.toml, read strictly into typed objects.

One top-level table per collector, named as its entry point, plus ``[incident]``. An unknown or
misspelt key, a wrong type or a missing value is a `ConfigError` naming the key and the file.
Secrets are never values in the file: ``*_env`` names an environment variable, ``*_file`` a file.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import tomllib
import types
import typing
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from incident_timeline.collector import registry
from incident_timeline.collector.errors import ConfigError
from incident_timeline.collector.secrets import is_secret_key
from incident_timeline.timeline.window import check_zone, parse_duration

if TYPE_CHECKING:
    from incident_timeline.collector.protocol import Collector

T = TypeVar("T")
_URL_CREDENTIALS = re.compile(r"://[^/@\s]+:[^/@\s]+@")


@dataclasses.dataclass(frozen=True, kw_only=True)
class IncidentSettings:
    """The ``[incident]`` table, e.g. ``title = "Checkout API errors"``, ``timezone = "UTC"``."""

    title: str | None = None
    timezone: str = "UTC"
    since: str | None = None
    until: str | None = None
    max_window: str = "7d"
    source_budget: str = "15m"
    grafana_url: str | None = None
    grafana_datasource: str | None = None

    @property
    def max_window_delta(self) -> timedelta:
        """``max_window`` as a timedelta."""
        return parse_duration(self.max_window)

    @property
    def source_budget_seconds(self) -> float:
        """``source_budget`` in seconds: how long a source without its own ``budget`` may run."""
        return parse_duration(self.source_budget).total_seconds()


@dataclasses.dataclass(frozen=True, kw_only=True)
class RedactSettings:
    """The ``[redact]`` table: extra regexes whose matches are masked in everything shared,
    e.g. ``patterns = ['customer-(?P<secret>[0-9]{6})']`` (group ``secret``, else group 1,
    else the whole match)."""

    patterns: list[str] = dataclasses.field(default_factory=list)


# Tables that configure the report, not a collector.
REPORT_TABLES = ("redact",)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Config:
    """A loaded configuration: settings, each present collector's table, and where it came from."""

    path: Path
    incident: IncidentSettings
    sources: dict[str, Collector]
    raw: dict[str, Any]
    redact: RedactSettings = dataclasses.field(default_factory=RedactSettings)

    @property
    def base_dir(self) -> Path:
        """Relative paths in the file are relative to the file's own directory."""
        return self.path.parent


def load_config(path: Path) -> Config:
    """Read ``path`` and build each table with its collector's ``from_config``; only the
    collectors whose tables are present are imported (see `registry`)."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: no such config file") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    check_no_secrets(raw, path)
    known = ["incident", *REPORT_TABLES, *registry.available()]
    for key in raw:
        if key not in known:
            raise ConfigError(
                f"{path}: unknown table [{key}]{_suggest(key, known)}; "
                f"known: {', '.join(sorted(known))}"
            )
    incident = build(IncidentSettings, raw.get("incident", {}), "incident", path)
    _check_incident(incident, path)
    if not [k for k in raw if k not in ("incident", *REPORT_TABLES)]:
        raise ConfigError(
            f"{path}: no sources configured; add a table per source, e.g. [prometheus] or "
            "[[file]] (see config.example.toml); installed: "
            + ", ".join(sorted(registry.available()))
        )
    redact = build(RedactSettings, raw.get("redact", {}), "redact", path)
    _check_patterns(redact, path)
    sources = {
        name: registry.load(name).from_config(value, path)
        for name, value in raw.items()
        if name not in ("incident", *REPORT_TABLES)
    }
    return Config(path=path, incident=incident, sources=sources, raw=raw, redact=redact)


def build(cls: type[T], table: Any, where: str, path: Path) -> T:
    """Build dataclass ``cls`` from a TOML table, strictly: unknown keys, wrong types and
    missing required keys are ConfigErrors naming ``where.key`` and ``path``."""
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [{where}] must be a table, not {_tname(table)}")
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    hints = typing.get_type_hints(cls)
    for key in table:
        if key not in fields:
            raise ConfigError(
                f"{path}: unknown key {where}.{key}{_suggest(key, list(fields))}; "
                f"allowed: {', '.join(fields)}"
            )
    for name, field in fields.items():
        required = (
            field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING
        )
        if name not in table and required:
            raise ConfigError(f"{path}: missing required key {where}.{name}")
        if name in table and not _type_ok(table[name], hints[name]):
            raise ConfigError(
                f"{path}: {where}.{name} must be {_describe(hints[name])}, "
                f"not {_tname(table[name])} {table[name]!r}"
            )
    return cls(**table)


def check_no_secrets(raw: dict[str, Any], path: Path, where: str = "") -> None:
    """Refuse secret values in the file; point to the ``*_env`` / ``*_file`` keys instead."""
    for key, value in raw.items():
        name = f"{where}.{key}" if where else key
        if isinstance(value, dict):
            check_no_secrets(value, path, name)
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, dict):
                    check_no_secrets(item, path, f"{name}[{i}]")
        elif is_secret_key(key):
            raise ConfigError(
                f"{path}: {name} holds a secret in the file; name an environment variable "
                f"with {key}_env or a file with {key}_file instead"
            )
        elif isinstance(value, str) and _URL_CREDENTIALS.search(value):
            raise ConfigError(
                f"{path}: {name} has a password in its URL; use username with password_env "
                "or password_file instead"
            )


def check_zone_key(zone: str | None, where: str, path: Path) -> None:
    """A ConfigError naming the key when ``zone`` is not an IANA time zone."""
    if zone is None:
        return
    try:
        check_zone(zone)
    except ValueError as exc:
        raise ConfigError(f"{path}: {where}: {exc}") from exc


def _check_incident(incident: IncidentSettings, path: Path) -> None:
    check_zone_key(incident.timezone, "incident.timezone", path)
    for key in ("max_window", "source_budget"):
        try:
            parse_duration(getattr(incident, key))
        except ValueError as exc:
            raise ConfigError(f"{path}: incident.{key}: {exc}") from exc


def _check_patterns(redact: RedactSettings, path: Path) -> None:
    for i, text in enumerate(redact.patterns):
        try:
            re.compile(text)
        except re.error as exc:
            raise ConfigError(
                f"{path}: redact.patterns[{i}]: {text!r} is not a regex: {exc}"
            ) from None


def _type_ok(value: Any, hint: Any) -> bool:
    origin = typing.get_origin(hint)
    if origin in (types.UnionType, typing.Union):
        return any(_type_ok(value, h) for h in typing.get_args(hint) if h is not type(None))
    if origin is list:
        (item,) = typing.get_args(hint)
        return isinstance(value, list) and all(_type_ok(v, item) for v in value)
    if origin is dict:
        key, item = typing.get_args(hint)
        return isinstance(value, dict) and all(
            _type_ok(k, key) and _type_ok(v, item) for k, v in value.items()
        )
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, hint)


def _describe(hint: Any) -> str:
    origin = typing.get_origin(hint)
    if origin in (types.UnionType, typing.Union):
        return " or ".join(_describe(h) for h in typing.get_args(hint) if h is not type(None))
    if origin is list:
        return f"a list of {_describe(typing.get_args(hint)[0])}s"
    if origin is dict:
        return f"a table of {_describe(typing.get_args(hint)[1])}s"
    return {str: "a string", int: "an integer", float: "a number", bool: "true or false"}.get(
        hint, getattr(hint, "__name__", str(hint))
    )


def _tname(value: Any) -> str:
    return {dict: "a table", list: "an array", str: "a string", bool: "a boolean"}.get(
        type(value), type(value).__name__
    )


def _suggest(key: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(key, choices, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""

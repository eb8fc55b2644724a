"""The ``chat`` collector: the incident channel's messages from a Slack export.

A Slack export is a folder or a zip of it (https://slack.com/help/articles/220556107):
``channels.json``, ``users.json``, and per channel a folder of ``YYYY-MM-DD.json`` files, each a
JSON array of that day's messages. The day files around the window (one day either side, as
a day file's date need not be UTC) are read; each message inside the window is a ``chat``
event (see `slack`). ``users.json``, ``channels.json`` and the day files read are kept under
``raw/chat/slack/`` byte for byte, and every event's ``ref`` points into them.

Settings (``[chat]``): ``slack_export`` (folder or .zip, relative to the config file) and
``channels`` (names; default every channel in ``channels.json``); or, live, ``channel_ids``
with ``token_env``/``token_file`` (a Slack token) read through the Web API (`live`).
"""

from __future__ import annotations

import dataclasses
import json
import os
import zipfile
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from incident_timeline.collector.bundle import SourceWriter
from incident_timeline.collector.chat.live import channel_events
from incident_timeline.collector.chat.slack import Names, channel_names, message_row, user_names
from incident_timeline.collector.chat.webapi import SlackAPI, SlackError
from incident_timeline.collector.errors import ConfigError, SourceError
from incident_timeline.collector.formats import Context, rows_to_events
from incident_timeline.collector.http import Endpoint, HttpCollector, make_client, secret
from incident_timeline.collector.prometheus.collector import endpoint_from_table
from incident_timeline.timeline.clock import Clock
from incident_timeline.timeline.schema import EventRow
from incident_timeline.timeline.window import Window


@dataclasses.dataclass(frozen=True, kw_only=True)
class ChatSettings(Endpoint):
    """E.g. ``slack_export = "exports/slack.zip"``, ``channels = ["inc-checkout"]``; or
    ``channel_ids = ["C01INC"]`` with ``token_env = "SLACK_TOKEN"`` (the Web API at ``url``)."""

    url: str = "https://slack.com/api"
    slack_export: str | None = None
    channels: list[str] = dataclasses.field(default_factory=list)
    channel_ids: list[str] = dataclasses.field(default_factory=list)


class Export:
    """A Slack export's files by their path inside it, from a folder or a zip."""

    def __init__(self, path: Path) -> None:
        self.path = path
        if path.is_dir():
            self._zip = None
            self.root = ""
        elif zipfile.is_zipfile(path):
            self._zip = zipfile.ZipFile(path)
            names = self._zip.namelist()
            top = [n for n in names if n.endswith("channels.json")]
            self.root = top[0].removesuffix("channels.json") if top else ""
        else:
            raise SourceError(
                f"slack_export {path}: not a folder or a zip file (unzip the export, or name it)"
            )

    def read(self, name: str) -> bytes | None:
        """The bytes of ``name`` (e.g. ``inc-checkout/2026-03-10.json``), None if absent."""
        if self._zip is None:
            file = self.path / name
            return file.read_bytes() if file.is_file() else None
        try:
            return self._zip.read(self.root + name)
        except KeyError:
            return None

    def close(self) -> None:
        """Close the zip, if one."""
        if self._zip is not None:
            self._zip.close()


class ChatCollector(HttpCollector):
    """Reads the incident channel(s) of a Slack export, or live, for the window."""

    name = "chat"
    settings: ChatSettings

    @classmethod
    def from_config(cls, table: Any, path: Path) -> ChatCollector:
        """Build from the ``[chat]`` table of config file ``path``."""
        settings = endpoint_from_table(ChatSettings, table, "chat", path)
        if not settings.slack_export and not settings.channel_ids:
            raise ConfigError(
                f"{path}: [chat] needs slack_export (a Slack export) or channel_ids with "
                "token_env (the Web API); see config.example.toml"
            )
        return cls(settings, path.parent)

    def collect(self, window: Window, out: SourceWriter, *, clock: Clock) -> dict[str, int]:
        """Read the export's day files around the window, and the live channels; returns
        counts for the manifest."""
        counts = {"channels": 0, "days": 0, "messages": 0, "outside_window": 0}
        if self.settings.slack_export:
            self._export(window, out, counts)
        if self.settings.channel_ids:
            self._live(window, out, counts)
        return counts

    def _live(self, window: Window, out: SourceWriter, counts: dict[str, int]) -> None:
        env = os.environ if self.env is None else self.env
        s = self.settings
        token = secret("token", s.token_env, s.token_file, env=env, base_dir=self.base_dir)
        if not token:
            raise ConfigError("[chat] channel_ids needs token_env or token_file (a Slack token)")
        users: dict[str, str] = {}
        with make_client(s, base_dir=self.base_dir, env=env, transport=self.transport) as client:
            api = SlackAPI(client, store=out.write_raw, policy=self.policy, token=token)
            try:
                for channel_id in s.channel_ids:
                    try:
                        events, threads = channel_events(api, channel_id, window, out, users)
                    except SlackError as exc:
                        if exc.code in ("invalid_auth", "not_authed", "401"):
                            raise
                        out.warn(str(exc), partial=True)
                        continue
                    inside = (events["time"] >= window.since) & (events["time"] < window.until)
                    counts["channels"] += 1
                    counts["messages"] += int(inside.sum())
                    counts["outside_window"] += int((~inside).sum())
                    counts["threads"] = counts.get("threads", 0) + threads
                    out.add_events(events[inside])
            finally:
                counts["requests"] = api.requests

    def _export(self, window: Window, out: SourceWriter, counts: dict[str, int]) -> None:
        path = Path(str(self.settings.slack_export)).expanduser()
        path = path if path.is_absolute() else self.base_dir / path
        if not path.exists():
            raise SourceError(f"slack_export {path}: no such file or folder")
        export = Export(path)
        try:
            self._read(export, window, out, counts)
        finally:
            export.close()

    def _read(
        self, export: Export, window: Window, out: SourceWriter, counts: dict[str, int]
    ) -> None:
        channels = _json(export, "channels.json", out)
        names = Names(user_names(_json(export, "users.json", out)), channel_names(channels))
        known = sorted(names.channels.values())
        wanted = self.settings.channels or known
        for channel in wanted:
            if channel not in known:
                out.warn(
                    f"channel {channel!r} is not in the export (has: {', '.join(known)})",
                    partial=True,
                )
                continue
            counts["channels"] += 1
            rows: list[EventRow] = []
            for day in _days(window):
                name = f"{channel}/{day.isoformat()}.json"
                data = export.read(name)
                if data is None:
                    continue  # no activity that day: Slack writes no file
                counts["days"] += 1
                ref = out.write_raw(f"slack/{name}", data)
                rows.extend(_day_rows(data, name, ref, channel, names, out))
            events = rows_to_events(rows, Context(ref="", stream=f"slack/#{channel}"))
            inside = (events["time"] >= window.since) & (events["time"] < window.until)
            counts["messages"] += int(inside.sum())
            counts["outside_window"] += int((~inside).sum())
            out.add_events(events[inside])


def _days(window: Window) -> list[date]:
    first = window.since.date() - timedelta(days=1)
    last = window.until.date() + timedelta(days=1)
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def _json(export: Export, name: str, out: SourceWriter) -> Any:
    data = export.read(name)
    if data is None:
        out.warn(f"the export has no {name}: ids are shown instead of names", partial=True)
        return []
    out.write_raw(f"slack/{name}", data)
    try:
        return json.loads(data)
    except ValueError as exc:
        out.warn(f"{name}: not valid JSON: {exc}", partial=True)
        return []


def _day_rows(
    data: bytes, name: str, ref: str, channel: str, names: Names, out: SourceWriter
) -> list[EventRow]:
    try:
        messages = json.loads(data)
    except ValueError as exc:
        out.warn(f"{name}: not valid JSON: {exc}", partial=True)
        return []
    if not isinstance(messages, list):
        out.warn(f"{name}: not a Slack day file (expected a JSON array)", partial=True)
        return []
    ctx = Context(ref=ref, stream=f"slack/#{channel}")
    rows: list[EventRow] = []
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            out.warn(f"{name}: item {i} is not a message object; kept in raw/", partial=True)
            continue
        record = message_row(message, "", channel, names, ctx)
        record["ref"] = f"{ref}#/{i}"
        rows.append(record)
    return rows

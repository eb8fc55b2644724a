"""Channels read through the Slack Web API (`webapi`): the window's messages, every reply of
the threads they start, and the names of everyone who wrote or was mentioned.

In ``raw/chat/slack-api/<channel id>/``: ``info.json``, ``history/<n>.json``,
``replies/<thread ts>/<n>.json``; ``raw/chat/slack-api/users/<id>.json``.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

from incident_timeline.collector.bundle import SourceWriter
from incident_timeline.collector.chat.slack import Names, message_row, user_names
from incident_timeline.collector.chat.webapi import SlackAPI, SlackError, slack_ts
from incident_timeline.collector.formats import Context, rows_to_events
from incident_timeline.timeline.schema import EventRow
from incident_timeline.timeline.window import Window

_MENTION = re.compile(r"<@([UW][A-Z0-9]+)")
Message = tuple[dict[str, Any], str]  # a message and the ref of where it is in raw/


def channel_events(
    api: SlackAPI, channel_id: str, window: Window, out: SourceWriter, users: dict[str, str]
) -> tuple[pd.DataFrame, int]:
    """One channel's messages in the window as events; (events, thread count).

    ``users`` is the cache of names already looked up (shared across channels)."""
    info, _ = api.call("conversations.info", {"channel": channel_id}, _raw(channel_id, "info.json"))
    channel = info.get("channel")
    name = str(channel.get("name") or channel_id) if isinstance(channel, dict) else channel_id
    params = {
        "channel": channel_id,
        "oldest": slack_ts(window.since),
        "latest": slack_ts(window.until),
        "inclusive": "true",
    }
    found: dict[str, Message] = {}
    threads: list[str] = []
    for page, ref in api.messages("conversations.history", params, _raw(channel_id, "history")):
        for i, message in enumerate(page.get("messages") or []):
            if isinstance(message, dict) and message.get("ts"):
                found.setdefault(str(message["ts"]), (message, f"{ref}#/messages/{i}"))
                if message.get("reply_count") and message.get("thread_ts") == message.get("ts"):
                    threads.append(str(message["ts"]))
    for thread in threads:
        raw = _raw(channel_id, f"replies/{thread}")
        for page, ref in api.messages("conversations.replies", {**params, "ts": thread}, raw):
            for i, message in enumerate(page.get("messages") or []):
                if isinstance(message, dict) and message.get("ts"):
                    found.setdefault(str(message["ts"]), (message, f"{ref}#/messages/{i}"))
    names = Names(_names(api, [m for m, _ in found.values()], users, out), {channel_id: name})
    ctx = Context(ref="", stream=f"slack/#{name}")
    rows: list[EventRow] = []
    for message, ref in found.values():
        record = message_row(message, "", name, names, ctx)
        record["ref"] = ref
        rows.append(record)
    return rows_to_events(rows, ctx), len(threads)


def _names(
    api: SlackAPI, messages: list[dict[str, Any]], users: dict[str, str], out: SourceWriter
) -> dict[str, str]:
    wanted = {str(m["user"]) for m in messages if m.get("user")}
    for message in messages:
        wanted.update(_MENTION.findall(str(message.get("text") or "")))
    for uid in sorted(wanted - set(users)):
        try:
            document, _ = api.call("users.info", {"user": uid}, f"slack-api/users/{uid}.json")
        except SlackError as exc:  # a deleted or foreign user: keep the id, say why
            out.warn(f"users.info {uid}: {exc}")
            users[uid] = uid
            continue
        users.update(user_names([document.get("user")]))
    return users


def _raw(channel_id: str, rest: str) -> str:
    return f"slack-api/{channel_id}/{rest}"

"""Slack messages as ``chat`` events: the author's display name as actor, threads kept, joins
and bot posts marked, Slack's markup turned into readable text.

A message (Slack export and ``conversations.history`` alike): ``{"type": "message", "user",
"text", "ts", "subtype", "thread_ts", "reply_count", "reactions", "edited": {"user", "ts"},
"bot_id", "username", "bot_profile"}``; ``ts`` is epoch seconds as a string and doubles as the
message's id (https://slack.com/help/articles/220556107, docs.slack.dev "Formatting text":
``<@U123>``, ``<#C123|name>``, ``<!here>``, ``<!subteam^S1|@team>``, ``<!date^…|fallback>``,
``<https://x|label>``; ``&amp; &lt; &gt;`` escaped).
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from incident_timeline.collector.formats import Context, row
from incident_timeline.timeline.schema import EventRow

NOISE = {"channel_join": "join", "channel_leave": "leave", "group_join": "join"}
_MARKUP = re.compile(r"<([^<>]+)>")
_ENTITIES = (("&lt;", "<"), ("&gt;", ">"), ("&amp;", "&"))
SUMMARY_CHARS = 200


@dataclasses.dataclass(frozen=True)
class Names:
    """Who and what ids are: user id -> display name, channel id -> name."""

    users: dict[str, str] = dataclasses.field(default_factory=dict)
    channels: dict[str, str] = dataclasses.field(default_factory=dict)


def user_names(users: Any) -> dict[str, str]:
    """``users.json`` (or ``users.list`` members): id -> the name Slack shows (display name,
    else real name, else the handle)."""
    names: dict[str, str] = {}
    for user in users if isinstance(users, list) else []:
        if not isinstance(user, dict) or not user.get("id"):
            continue
        profile = _obj(user.get("profile"))
        names[str(user["id"])] = str(
            profile.get("display_name")
            or profile.get("real_name")
            or user.get("real_name")
            or user.get("name")
            or user["id"]
        )
    return names


def channel_names(channels: Any) -> dict[str, str]:
    """``channels.json``: id -> name."""
    return {
        str(c["id"]): str(c.get("name") or c["id"])
        for c in (channels if isinstance(channels, list) else [])
        if isinstance(c, dict) and c.get("id")
    }


def readable(text: str, names: Names) -> str:
    """Slack markup as plain text: ``<@U1>`` -> ``@Jane Doe``, ``<#C1|inc>`` -> ``#inc``,
    ``<https://x|label>`` -> ``label (https://x)``, ``<!here>`` -> ``@here``."""

    def one(match: re.Match[str]) -> str:
        inner = match.group(1)
        target, _, label = inner.partition("|")
        if target.startswith("@"):
            return "@" + (label or names.users.get(target[1:], target[1:]))
        if target.startswith("#"):
            return "#" + (label or names.channels.get(target[1:], target[1:]))
        if target.startswith("!"):
            if label:  # <!subteam^S1|@oncall>, <!date^1700000000^{date}|Nov 14>
                return label
            return "@" + target[1:].split("^")[0]
        if label and label != target.removeprefix("mailto:"):
            return f"{label} ({target})"
        return target.removeprefix("mailto:")

    out = _MARKUP.sub(one, text)
    for entity, char in _ENTITIES:
        out = out.replace(entity, char)
    return out


def message_row(
    message: dict[str, Any], pointer: str, channel: str, names: Names, ctx: Context
) -> EventRow:
    """One message as an event row of stream ``slack/#<channel>``."""
    subtype = message.get("subtype")
    bot = bool(message.get("bot_id")) or subtype == "bot_message"
    actor = _author(message, names, bot)
    text = readable(str(message.get("text") or ""), names)
    original = str(message.get("text") or "")
    if not text and message.get("attachments"):
        text = readable(_attachments(message["attachments"]), names)
    ts, thread = str(message.get("ts") or ""), message.get("thread_ts")
    reply = bool(thread) and thread != ts
    first = text.splitlines()[0] if text else f"({subtype or 'message'})"
    if len(first) > SUMMARY_CHARS:
        first = first[: SUMMARY_CHARS - 1] + "…"
    edited = _obj(message.get("edited"))
    return row(
        ctx,
        time_raw=ts or None,
        source="chat",
        kind="chat",
        severity="debug" if subtype in NOISE else "info",
        actor=actor,
        stream=f"slack/#{channel}",
        summary=f"{actor}{' ↳' if reply else ''}: {first}",
        message=text,
        pointer=pointer,
        labels={
            "channel": channel,
            "ts": ts,
            "thread_ts": thread,
            "reply": "true" if reply else None,
            "reply_count": message.get("reply_count"),
            "subtype": subtype,
            "noise": NOISE.get(str(subtype)) or ("bot" if bot else None),
            "user_id": message.get("user"),
            "edited_ts": edited.get("ts"),
            "reactions": _reactions(message.get("reactions")),
            "text_raw": original if original != text else None,  # the markup as written
        },
    )


def _author(message: dict[str, Any], names: Names, bot: bool) -> str:
    user = message.get("user")
    if user and str(user) in names.users:
        return names.users[str(user)]
    profile = _obj(message.get("bot_profile"))
    if bot:
        return str(message.get("username") or profile.get("name") or message.get("bot_id") or "bot")
    return str(user or message.get("username") or "unknown")


def _attachments(attachments: Any) -> str:
    parts: list[str] = []
    for item in attachments if isinstance(attachments, list) else []:
        if isinstance(item, dict):
            parts.extend(str(item[k]) for k in ("title", "text") if item.get(k))
            if not parts and item.get("fallback"):
                parts.append(str(item["fallback"]))
    return "\n".join(parts)


def _reactions(reactions: Any) -> str | None:
    if not isinstance(reactions, list):
        return None
    pairs = [
        f"{r.get('name')}:{r.get('count', len(r.get('users') or []))}"
        for r in reactions
        if isinstance(r, dict)
    ]
    return ", ".join(pairs) or None


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}

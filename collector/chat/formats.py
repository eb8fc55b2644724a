"""The ``chat`` source's formats for the ``[[file]]`` import: one day file of a Slack export
(``<channel>/YYYY-MM-DD.json``, a JSON array of messages) read on its own. Without the export's
``users.json`` the authors are their user ids (``[chat] slack_export`` gives names); the channel
is the file's ``stream`` (default: the file name)."""

from __future__ import annotations

from typing import Any

from incident_timeline.collector.chat import shapes
from incident_timeline.collector.chat.slack import Names, message_row
from incident_timeline.collector.errors import ExportFormatError
from incident_timeline.collector.formats import (
    Context,
    Format,
    Parsed,
    Sample,
    json_parser,
    objects,
    rows_to_events,
)


def parse_slack_messages(data: Any, ctx: Context) -> Parsed:
    """A Slack export day file (or ``conversations.history``'s ``messages``) as chat events."""
    if isinstance(data, dict) and isinstance(data.get("messages"), list):
        data, prefix = data["messages"], "/messages"
    else:
        prefix = ""
    if not isinstance(data, list):
        raise ExportFormatError("not Slack messages: expected a JSON array of message objects")
    messages = objects(data, "Slack messages")
    channel = ctx.stream.removesuffix(".json")
    rows = [message_row(m, f"{prefix}/{i}", channel, Names(), ctx) for i, m in enumerate(messages)]
    return Parsed(rows_to_events(rows, ctx), None, {"messages": len(rows)})


def _is_slack(sample: Sample) -> bool:
    document = sample.document
    if isinstance(document, dict):
        document = document.get("messages")
    return (
        isinstance(document, list)
        and bool(document)
        and isinstance(document[0], dict)
        and document[0].get("type") == "message"
        and "ts" in document[0]
    )


FORMATS = (
    Format(
        name="slack-messages",
        parse=json_parser(parse_slack_messages),
        detect=_is_slack,
        layout="json",
        priority=45,
        source="chat",
        description="a Slack export's <channel>/YYYY-MM-DD.json, or conversations.history",
        shape=shapes.MESSAGE,
    ),
)

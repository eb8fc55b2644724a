"""The fields the Slack message format reads, typed as Slack documents its message object
(docs.slack.dev/reference/objects/message-object: ``ts``, ``thread_ts`` and ``edited.ts`` are
strings, ``reply_count`` an integer, ``reactions`` objects with ``name``, ``count`` and
``users``). See `collector.shapes`."""

from __future__ import annotations

from incident_timeline.collector.shapes import INTEGER, OBJECT, STRING, ArrayOf, Spec

MESSAGE: Spec = {
    "type": STRING,
    "subtype": STRING,
    "ts": STRING,
    "thread_ts": STRING,
    "user": STRING,
    "username": STRING,
    "bot_id": STRING,
    "text": STRING,
    "reply_count": INTEGER,
    "edited": {"user": STRING, "ts": STRING},
    "reactions": ArrayOf({"name": STRING, "count": INTEGER, "users": ArrayOf(STRING)}),
    "attachments": ArrayOf(OBJECT),
    "bot_profile": {"name": STRING},
}

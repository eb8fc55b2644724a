"""A Slack Web API double on loopback, serving a Slack export's data (tests/data/slack-export)
through the methods the chat collector calls. No official machine-readable spec of the Web API
is kept in ../shared/specs; the shapes follow docs.slack.dev's method pages:

- ``conversations.history``: ``channel``, ``oldest``, ``latest`` (exclusive unless
  ``inclusive=true``), ``limit`` (default 100, at most 999), ``cursor``; newest first; thread
  replies are not listed (only via ``conversations.replies``); ``{"ok", "messages", "has_more",
  "response_metadata": {"next_cursor"}}``.
- ``conversations.replies``: ``channel``, ``ts``; the parent first, then its replies, oldest first.
- ``conversations.info`` / ``users.info``: ``{"ok": true, "channel"|"user": {...}}``.
- Errors are HTTP 200 ``{"ok": false, "error": "invalid_auth" | "channel_not_found" |
  "not_in_channel" | "user_not_found"}``; rate limits HTTP 429 with ``Retry-After``.
"""

from __future__ import annotations

import base64
import dataclasses
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.doubles.loopback import serve


@dataclasses.dataclass
class SlackDouble:
    """A workspace: channels by id, their messages, users; and the switches tests flip."""

    token: str
    export: Path
    not_member: set[str] = dataclasses.field(default_factory=set)
    rate_limited: int = 0
    retry_after: int = 1
    url: str = ""
    calls: list[tuple[str, dict[str, str]]] = dataclasses.field(default_factory=list)

    def __post_init__(self) -> None:
        self.channels = {
            c["id"]: c for c in json.loads((self.export / "channels.json").read_text())
        }
        self.users = {u["id"]: u for u in json.loads((self.export / "users.json").read_text())}
        self.messages: dict[str, list[dict[str, Any]]] = {}
        for cid, channel in self.channels.items():
            found = []
            for day in sorted((self.export / channel["name"]).glob("*.json")):
                found.extend(json.loads(day.read_text()))
            self.messages[cid] = sorted(found, key=lambda m: float(m["ts"]))

    def handle(
        self, method: str, query: dict[str, str], auth: str
    ) -> tuple[int, Any, dict[str, str]]:
        """(status, body, headers) for one call."""
        self.calls.append((method, query))
        if self.rate_limited > 0:
            self.rate_limited -= 1
            return (
                429,
                {"ok": False, "error": "ratelimited"},
                {"Retry-After": str(self.retry_after)},
            )
        if auth != f"Bearer {self.token}":
            return 200, {"ok": False, "error": "invalid_auth"}, {}
        if method == "users.info":
            user = self.users.get(query.get("user", ""))
            return 200, ({"ok": True, "user": user} if user else _err("user_not_found")), {}
        channel = self.channels.get(query.get("channel", ""))
        if channel is None:
            return 200, _err("channel_not_found"), {}
        if method == "conversations.info":
            return 200, {"ok": True, "channel": channel}, {}
        if channel["id"] in self.not_member:
            return 200, _err("not_in_channel"), {}
        if method == "conversations.history":
            found = [m for m in self.messages[channel["id"]] if _top_level(m)]
            return 200, self._page(list(reversed(_between(found, query))), query), {}
        if method == "conversations.replies":
            ts = query.get("ts")
            thread = [m for m in self.messages[channel["id"]] if m.get("thread_ts", m["ts"]) == ts]
            return 200, self._page(_between(thread, query) if thread else [], query), {}
        return 200, _err("unknown_method"), {}

    def _page(self, messages: list[dict[str, Any]], query: dict[str, str]) -> dict[str, Any]:
        limit = min(int(query.get("limit", 100)), 999)
        start = (
            int(base64.b64decode(query["cursor"]).decode().split(":")[1])
            if query.get("cursor")
            else 0
        )
        chunk = messages[start : start + limit]
        more = start + limit < len(messages)
        cursor = base64.b64encode(f"next:{start + limit}".encode()).decode() if more else ""
        return {
            "ok": True,
            "messages": chunk,
            "has_more": more,
            "pin_count": 0,
            "response_metadata": {"next_cursor": cursor},
        }


def _err(code: str) -> dict[str, Any]:
    return {"ok": False, "error": code}


def _top_level(message: dict[str, Any]) -> bool:
    thread = message.get("thread_ts")
    return not thread or thread == message["ts"] or message.get("subtype") == "thread_broadcast"


def _between(messages: list[dict[str, Any]], query: dict[str, str]) -> list[dict[str, Any]]:
    inclusive = query.get("inclusive") in ("true", "1")
    oldest = float(query.get("oldest", 0))
    latest = float(query.get("latest", 1e12))

    def inside(m: dict[str, Any]) -> bool:
        ts = float(m["ts"])
        return (oldest <= ts <= latest) if inclusive else (oldest < ts < latest)

    return [m for m in messages if inside(m)]


@contextmanager
def serving(double: SlackDouble) -> Iterator[SlackDouble]:
    """Serve ``double`` on a free loopback port for the block."""

    def respond(path: str, query: dict[str, list[str]], headers: dict[str, str]) -> Any:
        flat = {k: v[0] for k, v in query.items()}
        return double.handle(path.strip("/"), flat, headers.get("authorization", ""))

    with serve(respond) as url:
        double.url = url
        yield double

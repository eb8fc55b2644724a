"""The Slack Web API, for channels read live rather than from an export.

Methods (docs.slack.dev/reference/methods): ``conversations.history`` and
``conversations.replies`` (``channel``, ``ts``, ``oldest``, ``latest``, ``inclusive``, ``limit``,
``cursor``; cursor pagination: ``response_metadata.next_cursor`` until empty),
``conversations.info`` (the channel's name) and ``users.info`` (names). The token is a bot or
user token sent as ``Authorization: Bearer``. Errors come as HTTP 200 with
``{"ok": false, "error": "not_in_channel"}``; rate limits as HTTP 429 with ``Retry-After``
(tiers 2-4), which the project's HTTP policy waits out.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import httpx

from incident_timeline.collector.errors import SourceError
from incident_timeline.collector.http import RetryPolicy, request

HINTS = {
    "invalid_auth": "the Slack token is not valid; check token_env / token_file",
    "not_authed": "no Slack token was sent; set token_env or token_file",
    "not_in_channel": "the app is not in the channel; invite it (/invite @app) or use an export",
    "channel_not_found": "no such channel for this token; check channel_ids",
    "missing_scope": "the token lacks a scope (channels:history, groups:history, users:read)",
}


class SlackError(SourceError):
    """Slack answered ``ok: false`` (``code`` is its ``error``) or an HTTP error."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


class SlackAPI:
    """GETs against one workspace; bodies are kept through ``store(relpath, body)``."""

    def __init__(
        self,
        client: httpx.Client,
        *,
        store: Callable[[str, bytes], str],
        policy: RetryPolicy,
        token: str,
        page_size: int = 200,
    ) -> None:
        self.client = client
        self.store = store
        self.policy = policy
        self.token = token
        self.page_size = page_size
        self.requests = 0

    def call(self, method: str, params: dict[str, Any], raw: str) -> tuple[dict[str, Any], str]:
        """One method call; (document, bundle path of the stored body)."""
        self.requests += 1
        response = request(
            self.client, "GET", f"/{method}", what="slack", policy=self.policy, params=params
        )
        body = response.content
        if len(self.token) >= 8:
            body = body.replace(self.token.encode(), b"***")
        ref = self.store(raw, body)
        try:
            document = json.loads(body)
        except ValueError:
            document = None
        if response.status_code != 200 or not isinstance(document, dict):
            raise SlackError(
                f"Slack {method}: HTTP {response.status_code}", str(response.status_code)
            )
        if document.get("ok") is not True:
            code = str(document.get("error") or "unknown_error")
            hint = HINTS.get(code, "see docs.slack.dev for this error")
            raise SlackError(f"Slack {method} {params.get('channel', '')}: {code}: {hint}", code)
        return document, ref

    def messages(
        self, method: str, params: dict[str, Any], raw: str
    ) -> Iterator[tuple[dict[str, Any], str]]:
        """Every page of ``conversations.history`` or ``.replies`` (cursor pagination)."""
        cursor, n = "", 0
        while True:
            page = {**params, "limit": self.page_size, **({"cursor": cursor} if cursor else {})}
            document, ref = self.call(method, page, f"{raw}/{n:04d}.json")
            yield document, ref
            metadata = document.get("response_metadata")
            cursor = str(metadata.get("next_cursor") or "") if isinstance(metadata, dict) else ""
            if not cursor:
                return
            n += 1


def slack_ts(moment: datetime) -> str:
    """A datetime as Slack's ``ts`` form (epoch seconds, 6 decimals)."""
    return f"{moment.timestamp():.6f}"

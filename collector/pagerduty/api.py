"""PagerDuty REST API v2 over the project's HTTP policy (`collector.http`): the token header,
one clear message per error status, raw pages kept, and listings that stay under the offset
ceiling by splitting their time range.

Why not the official ``pagerduty`` client: since 7.0 it depends on ``httpx2`` (a second HTTP
stack beside the ``httpx`` every other collector uses, with its own TLS and proxy settings),
it retries 429 without reading ``ratelimit-reset`` or ``Retry-After`` (fixed exponential
sleeps, unlimited), and its ``iter_all`` stops with a warning at the 10,000 ceiling, which for
evidence is silent loss. What it does well (offset paging, bisecting a time range) is a few
dozen lines here, on the policy that already honours ``ratelimit-reset``.

Facts (REST API v2 OpenAPI, PagerDuty docs, python-pagerduty): ``Authorization: Token
token=<key>``; ``Accept: application/vnd.pagerduty+json;version=2``; offset pagination with
``limit``/``offset``/``more`` and ``total`` only when ``total=true``; ``offset + limit`` may not
pass 10,000 (HTTP 400 beyond); error bodies ``{"error": {"message", "code", "errors"}}``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx

from incident_timeline.collector.errors import AuthError, SourceError
from incident_timeline.collector.http import RetryPolicy, request
from incident_timeline.timeline.timefmt import iso_z

ACCEPT = "application/vnd.pagerduty+json;version=2"
CEILING = 10_000
REDACTED = "***"
MIN_SLICE = timedelta(seconds=1)
# Shorter "tokens" (test values) would match ordinary text and corrupt the JSON kept in raw/;
# PagerDuty's REST API keys are 20 characters.
MIN_REDACT = 8


class PagerDutyError(SourceError):
    """PagerDuty answered with an error; ``status`` is the HTTP status."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class PagerDutyAPI:
    """GETs against one account; ``store(relpath, body)`` keeps each body in the bundle and
    returns its bundle path; ``hint`` names where the token comes from (for 401 messages)."""

    def __init__(
        self,
        client: httpx.Client,
        token: str,
        *,
        store: Callable[[str, bytes], str],
        policy: RetryPolicy,
        hint: str,
        page_size: int = 100,
    ) -> None:
        self.client = client
        self.token = token
        self.store = store
        self.policy = policy
        self.hint = hint
        self.page_size = page_size
        self.requests = 0
        self.cuts: list[str] = []  # listings history() could not read whole (see there)

    def redact(self, text: str) -> str:
        """``text`` with the token replaced (error texts, bodies that echo headers)."""
        return text.replace(self.token, REDACTED) if len(self.token) >= MIN_REDACT else text

    def get(self, path: str, params: dict[str, Any], raw: str) -> tuple[dict[str, Any], str]:
        """One GET; the body (redacted) is stored as ``raw``. Returns (document, bundle path);
        a PagerDutyError with a one-line message for any error status."""
        self.requests += 1
        try:
            response = request(
                self.client, "GET", path, what="pagerduty", policy=self.policy, params=params
            )
        except AuthError as exc:  # the HTTP policy stops at 401/403; say it PagerDuty's way
            status = 403 if str(exc).startswith("403") else 401
            raise PagerDutyError(self._auth_message(path, status), status) from None
        except SourceError as exc:
            raise SourceError(self.redact(str(exc))) from None
        body = response.content
        if len(self.token) >= MIN_REDACT:
            body = body.replace(self.token.encode(), REDACTED.encode())
        ref = self.store(raw, body)
        if response.status_code != 200:
            raise PagerDutyError(self._message(path, response), response.status_code)
        try:
            document = json.loads(body)
        except ValueError:
            raise PagerDutyError(f"{path}: not JSON: {body[:200]!r}", 200) from None
        if not isinstance(document, dict):
            raise PagerDutyError(f"{path}: expected a JSON object", 200)
        return document, ref

    def _auth_message(self, path: str, status: int, detail: str = "") -> str:
        detail = f": {detail}" if detail else ""
        if status == 401:
            return (
                f"PagerDuty rejected the API token (HTTP 401{detail}); check {self.hint} "
                "(a REST API key, sent as 'Token token=...')"
            )
        return f"the PagerDuty API token may not read {path} (HTTP 403{detail})"

    def _message(self, path: str, response: httpx.Response) -> str:
        status = response.status_code
        detail = self.redact(error_text(response))
        if status in (401, 403):
            return self._auth_message(path, status, detail)
        if status == 429:
            return (
                f"PagerDuty kept rate-limiting {path} (HTTP 429: {detail}) after "
                f"{self.policy.retries} retries; wait a minute and re-run with --resume"
            )
        if status >= 500:
            request_id = response.headers.get("x-request-id")
            rid = f", x-request-id {request_id}" if request_id else ""
            return f"PagerDuty failed on {path} (HTTP {status}{rid}: {detail}); try again later"
        return f"PagerDuty refused {path} (HTTP {status}: {detail})"

    def pages(
        self, path: str, key: str, params: dict[str, Any], raw: str, *, offset: int = 0
    ) -> Iterator[tuple[dict[str, Any], str]]:
        """Every page of a listing from ``offset`` (``raw`` is a prefix: ``<raw>/<n>.json``)."""
        n = offset // self.page_size
        while True:
            if offset + self.page_size > CEILING:
                raise PagerDutyError(
                    f"{path}: more than {CEILING:,} {key}; PagerDuty lists no further", 400
                )
            page = {**params, "limit": self.page_size, "offset": offset}
            document, ref = self.get(path, page, f"{raw}/{n:04d}.json")
            yield document, ref
            items = document.get(key) or []
            if document.get("more") is not True or not items:
                return
            offset, n = offset + len(items), n + 1

    def history(
        self,
        path: str,
        key: str,
        params: dict[str, Any],
        since: datetime,
        until: datetime,
        raw: str,
    ) -> Iterator[tuple[dict[str, Any], str]]:
        """Every page of a time-ranged listing, however long: a range whose ``total`` passes the
        ceiling (or that reaches it) is split in two, recursively, as python-pagerduty's
        ``iter_history`` does. Pages may repeat records across a split; callers dedupe by id."""
        ranged = {**params, "since": iso_z(since), "until": iso_z(until), "total": "true"}
        first, ref = self.get(
            path, {**ranged, "limit": self.page_size, "offset": 0}, f"{raw}/0000.json"
        )
        total = first.get("total")
        if isinstance(total, int) and total > CEILING and until - since > MIN_SLICE:
            yield from self._halves(path, key, params, since, until, raw)
            return
        yield first, ref
        if first.get("more") is not True:
            return
        try:
            yield from self.pages(path, key, ranged, raw, offset=len(first.get(key) or []))
        except PagerDutyError as exc:
            if exc.status != 400:
                raise
            if until - since > MIN_SLICE:
                yield from self._halves(path, key, params, since, until, raw)
                return
            # More than the ceiling within one second: what came is kept, the cut is said.
            self.cuts.append(f"{path}: more than {CEILING:,} {key} at {iso_z(since)}; {exc}")

    def _halves(
        self,
        path: str,
        key: str,
        params: dict[str, Any],
        since: datetime,
        until: datetime,
        raw: str,
    ) -> Iterator[tuple[dict[str, Any], str]]:
        half = timedelta(seconds=max(1, int((until - since).total_seconds() // 2)))
        middle = since + half
        yield from self.history(path, key, params, since, middle, f"{raw}/a")
        yield from self.history(path, key, params, middle, until, f"{raw}/b")


def error_text(response: httpx.Response) -> str:
    """PagerDuty's ``error.message`` and ``error.errors``, else the body's start."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:200] or response.reason_phrase
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return response.text[:200]
    errors = [str(e) for e in error.get("errors") or []]
    message = str(error.get("message") or response.reason_phrase)
    return f"{message}: {'; '.join(errors)}" if errors else message

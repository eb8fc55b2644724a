"""The Kubernetes collector's one I/O seam: `KubeAPI`, GET requests through the official
``kubernetes`` client (made from the kubeconfig or in-cluster config by `kubernetes.kubeconfig`),
so that every auth plugin the client supports stays the client's.

Requests go through ``ApiClient.param_serialize`` and ``ApiClient.call_api``: the generated
``read_namespaced_pod_log`` has no ``since_time`` (kubernetes-client/python#1351) and since
client 37.x ``call_api`` takes the serialized request (its CHANGELOG). Bodies are kept as bytes
(the bundle stores responses as received); a log body is streamed, never read whole.

The project's retry policy applies (``collector.http.RetryPolicy``: backoff with jitter,
``Retry-After`` honoured on 429); statuses that cannot succeed on a retry (400, 401, 403, 404,
410) are returned at once and turned into messages that say what to do.
"""

from __future__ import annotations

import dataclasses
import json
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import httpx

from incident_timeline.collector.errors import DeadlineError, SourceError
from incident_timeline.collector.http import RETRY_STATUS, RetryPolicy

Query = list[tuple[str, str]]
_FORBIDDEN = re.compile(
    r'cannot (?P<verb>\S+) resource "(?P<resource>[^"]+)"'
    r'(?: in API group "(?P<group>[^"]*)")?'
    r'(?: in the namespace "(?P<ns>[^"]+)"| at the cluster scope)?'
)


class KubeAPIError(SourceError):
    """The API server answered with an error Status; ``code`` and ``reason`` are its own."""

    def __init__(self, message: str, *, code: int, reason: str, path: str) -> None:
        super().__init__(message)
        self.code, self.reason, self.path = code, reason, path


@dataclasses.dataclass(frozen=True)
class Reply:
    """One answered request: status, headers and the body as received."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        """The body as JSON (a SourceError when it is not)."""
        try:
            return json.loads(self.body)
        except ValueError:
            raise SourceError(
                f"the API server sent a body that is not JSON: {self.body[:80]!r}"
            ) from None


class RateLimiter:
    """A token bucket like client-go's ``flowcontrol.NewTokenBucketRateLimiter(qps, burst)``:
    ``burst`` requests at once, then ``qps`` per second. Thread-safe; clock and sleep are
    injectable."""

    def __init__(
        self,
        qps: float,
        burst: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.qps, self.burst = qps, max(1, burst)
        self.clock, self.sleep = clock, sleep
        self.tokens = float(self.burst)
        self.stamp = clock()
        self.lock = threading.Lock()
        self.waited = 0.0

    def take(self) -> None:
        """Wait until a request may be sent."""
        if self.qps <= 0:
            return
        with self.lock:
            now = self.clock()
            self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.qps)
            self.stamp = now
            self.tokens -= 1
            wait = -self.tokens / self.qps if self.tokens < 0 else 0.0
            self.waited += wait
        if wait > 0:
            self.sleep(wait)


def status_message(reply: Reply, path: str, context: str | None) -> KubeAPIError:
    """A clear error from an error answer: its Status message, and what to do."""
    try:
        status = json.loads(reply.body)
    except ValueError:
        status = {}
    status = status if isinstance(status, dict) else {}
    reason = str(status.get("reason") or "")
    text = str(status.get("message") or reply.body[:200].decode("utf-8", "replace")).strip()
    where = f"context {context!r}" if context else "the current context"
    if reply.status == 401:
        message = (
            f"the API server refused the credentials of {where} (401 Unauthorized) for GET "
            f"{path}; renew them (kubectl --context {context or '...'} get pods shows the same)"
        )
    elif reply.status == 403:
        found = _FORBIDDEN.search(text)
        if found:
            scope = f"in namespace {found['ns']!r}" if found["ns"] else "at the cluster scope"
            message = (
                f"RBAC refused {found['verb']} {found['resource']} {scope} for {where} "
                f"(403 Forbidden: {text})"
            )
        else:
            message = f"403 Forbidden for GET {path} with {where}: {text}"
    else:
        message = f"GET {path}: {reply.status} {reason or 'error'}: {text}"
    return KubeAPIError(message, code=reply.status, reason=reason, path=path)


class KubeAPI:
    """GET requests to one API server through a ``kubernetes.client.ApiClient``."""

    def __init__(
        self,
        api_client: Any,
        *,
        context: str | None,
        policy: RetryPolicy,
        limiter: RateLimiter,
        stream_limiter: RateLimiter,
        timeout: float = 30.0,
        deadline: float | None = None,
        budget: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = api_client
        self.deadline, self.budget, self.clock = deadline, budget, clock
        self.context = context
        self.policy, self.limiter, self.stream_limiter = policy, limiter, stream_limiter
        self.timeout = timeout
        self.requests = 0
        self.retried = 0
        self.lock = threading.Lock()

    def _left(self, path: str, doing: str) -> float:
        """Seconds a request may still take: ``timeout``, never past the source's deadline
        (a DeadlineError once it has passed)."""
        if self.deadline is None:
            return self.timeout
        left = self.deadline - self.clock()
        if left <= 0:
            raise DeadlineError(self.gave_up(f"{doing} GET {path}"))
        return min(self.timeout, left)

    def gave_up(self, doing: str) -> str:
        """What the source's deadline cut, the way `collector.http` says it."""
        budget = f"{self.budget:g} s" if self.budget else "its budget"
        return f"kubernetes: gave up after {budget} (the source's budget), {doing}"

    def _send(self, path: str, query: Query, accept: str, limiter: RateLimiter) -> Any:
        """One request, retried per the policy; the client's raw response (body unread)."""
        for attempt in range(self.policy.retries + 1):
            limiter.take()
            left = self._left(path, "before")
            with self.lock:
                self.requests += 1
            method, url, headers, _, _ = self.client.param_serialize(
                method="GET",
                resource_path=path,
                query_params=query,
                header_params={"Accept": accept},
                auth_settings=["BearerToken"],
            )
            response = None
            try:
                # (connect, read): urllib3 waits at most this long for each; the whole
                # request is bounded by the caller reading blocks against the clock.
                response = self.client.call_api(
                    method, url, header_params=headers, _request_timeout=(left, left)
                )
            except Exception as exc:  # urllib3 errors come wrapped or raw; either way a retry
                self._left(path, "waiting for")
                if attempt == self.policy.retries:
                    raise SourceError(
                        f"cannot reach the API server of "
                        f"{f'context {self.context!r}' if self.context else 'the current context'}"
                        f" ({self.client.configuration.host}): {type(exc).__name__}: {exc}"
                    ) from None
            if response is not None and (
                response.status not in RETRY_STATUS or attempt == self.policy.retries
            ):
                return response
            wait = self.policy.delay(attempt, _as_httpx(response))
            if response is not None:
                response.read()  # drain, so the connection goes back to the pool
            with self.lock:
                self.retried += 1
            if self.deadline is not None and self.clock() + wait >= self.deadline:
                raise DeadlineError(
                    self.gave_up(f"before a retry of GET {path} due in {wait:.1f} s")
                )
            self.policy.sleep(wait)
        raise AssertionError("unreachable")

    def get(self, path: str, query: Query | None = None) -> Reply:
        """GET ``path`` as JSON; any status (the caller decides what an error means). The
        whole answer must come within ``timeout`` (and the source's deadline): a server
        trickling bytes is cut, as `collector.http` does."""
        for attempt in range(self.policy.retries + 1):
            started = self.clock()
            response = self._send(path, query or [], "application/json", self.limiter)
            end = started + self._left(path, "reading")
            body = bytearray()
            try:
                for block in response.response.stream(256 * 1024, decode_content=True):
                    body += block
                    if self.clock() > end:
                        break
                else:
                    return Reply(response.status, dict(response.headers), bytes(body))
            except Exception:  # a read timing out (urllib3's own error types vary)
                pass
            finally:
                _release(response.response)
            self._left(path, "reading the answer of")
            if attempt == self.policy.retries:
                raise SourceError(
                    f"GET {path}: gave up after {self.clock() - started:.0f} s reading the answer "
                    f"(timeout = {self.timeout:g} s for the whole request)"
                )
        raise AssertionError("unreachable")

    def get_json(self, path: str, query: Query | None = None) -> tuple[bytes, Any]:
        """GET ``path``; its body and JSON, or a `KubeAPIError` with a clear message."""
        reply = self.get(path, query)
        if reply.status != 200:
            raise status_message(reply, path, self.context)
        return reply.body, reply.json()

    @contextmanager
    def stream(self, path: str, query: Query) -> Iterator[Blocks]:
        """GET a text body (a pod log) and yield its blocks as they arrive (`Blocks`). A stream
        may take long (a big log); each read waits at most ``timeout``, and the blocks end
        early, saying why in ``cut``, at the source's deadline or when the stream breaks."""
        response = self._send(path, query, "text/plain", self.stream_limiter)
        raw = response.response
        try:
            if response.status != 200:
                raise status_message(
                    Reply(response.status, dict(response.headers), response.read()),
                    path,
                    self.context,
                )
            yield Blocks(self, path, raw.stream(256 * 1024, decode_content=True))
        finally:
            _release(raw)


class Blocks:
    """A log body's blocks as they arrive. They end early at the source's deadline, or when a
    read fails (timeout, reset): ``cut`` then says why, and what came before is the caller's
    to keep (the stages after it flush what they hold)."""

    def __init__(self, api: KubeAPI, path: str, blocks: Iterator[bytes]) -> None:
        self.api, self.path, self.blocks = api, path, blocks
        self.cut: SourceError | None = None

    def __iter__(self) -> Iterator[bytes]:
        api = self.api
        try:
            for block in self.blocks:
                yield block
                if api.deadline is not None and api.clock() >= api.deadline:
                    self.cut = DeadlineError(api.gave_up(f"while GET {self.path} streamed"))
                    return
        except Exception as exc:  # a read past its timeout, a reset connection
            if api.deadline is not None and api.clock() >= api.deadline:
                self.cut = DeadlineError(api.gave_up(f"while GET {self.path} streamed"))
            else:
                self.cut = SourceError(
                    f"GET {self.path}: the stream broke off: {type(exc).__name__}: {exc}"
                )


def _release(raw: Any) -> None:
    """Give the connection back to the pool; one whose body was not read to its end (a log
    cut at the window's end, an answer cut by the deadline) is closed instead, so no later
    request reads the rest of this one."""
    if not raw.isclosed():
        raw.close()
    raw.release_conn()


def _as_httpx(response: Any) -> httpx.Response | None:
    """The policy reads ``Retry-After`` from an httpx response; give it the headers."""
    if response is None:
        return None
    return httpx.Response(response.status, headers=dict(response.headers))

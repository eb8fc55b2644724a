"""One HTTP policy for every collector: deadlines, a size cap, TLS verification, credentials
from the environment or files, retries with backoff and jitter that honour ``Retry-After``,
and secret masking.

Deadlines: httpx's ``timeout`` bounds each *read*, so a server trickling a byte a second
never times out. Here every request has a total deadline (``timeout`` seconds from its start,
and never past its source's budget, see `collector.runner`): the body is streamed and the
clock checked after every block, and each read may wait only for the time left. A body over
``max_response_mb`` is cut and reported (a SourceError), never held or stored whole.

Credentials never appear in errors, logs or the bundle: `Endpoint` keeps only the *names* of
the variables and files that hold them, and reads them when a client is made. The values (and
the forms they travel in: ``Bearer``, Basic's base64) are handed to the source's `SourceWriter`
(`collector.bundle.active_writer`), which masks them in every warning, error, event and raw
file, so a server echoing the ``Authorization`` header leaks nothing. A 401 or 403 stops the
source at once (AuthError naming the credential's key); every exchange is counted on the
writer, so a source none of whose requests succeeded is ``failed``.
"""

from __future__ import annotations

import dataclasses
import email.utils
import os
import random
import ssl
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from incident_timeline.collector.bundle import SourceWriter, active_writer
from incident_timeline.collector.errors import (
    AuthError,
    ConfigError,
    DeadlineError,
    SourceError,
    TooLargeError,
)
from incident_timeline.collector.secrets import secret_forms

RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})
AUTH_STATUS = frozenset({401, 403})
_DROP_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding"})
MB = 1 << 20


@dataclasses.dataclass(frozen=True, kw_only=True)
class Endpoint:
    """Where a source is and how to authenticate, e.g.
    ``Endpoint(url="http://prometheus:9090", token_env="PROMETHEUS_TOKEN")``."""

    url: str
    token_env: str | None = None
    token_file: str | None = None
    username: str | None = None
    password_env: str | None = None
    password_file: str | None = None
    ca_file: str | None = None
    insecure_skip_verify: bool = False
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    timeout: float = 30.0  # seconds for one whole request, body included
    retries: int = 3
    budget: float = 300.0  # seconds for the whole source, every request and retry included
    max_response_mb: float = 256.0  # a bigger body is cut and reported, never stored

    def auth_hint(self) -> str:
        """Which key holds the credential, for a 401/403 message."""
        if self.token_env:
            return f"token_env {self.token_env}"
        if self.token_file:
            return f"token_file {self.token_file}"
        if self.username:
            where = self.password_env or self.password_file or "password_env"
            return f"username {self.username!r} and {where}"
        return "the credentials (none are configured: set token_env or token_file)"


@dataclasses.dataclass(frozen=True, kw_only=True)
class Limits:
    """What a client made by `make_client` carries for `request`: its total per-request
    ``timeout``, its ``max_bytes`` body cap, the ``auth_hint`` for 401/403, and the source's
    ``writer`` (deadline, secrets, request counts), when it runs under the runner."""

    timeout: float = 30.0
    retries: int = 3
    max_bytes: int = 256 * MB
    auth_hint: str = "the credentials"
    writer: SourceWriter | None = None


class Client(httpx.Client):
    """An httpx client with the policy's `Limits` attached (``retries`` is the endpoint's,
    used when `request` is given no policy)."""

    policy_limits: Limits = Limits()


@dataclasses.dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    """Exponential backoff with full jitter, capped; ``Retry-After`` wins when longer."""

    retries: int = 3
    base: float = 0.5
    cap: float = 30.0
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = dataclasses.field(default_factory=random.Random)

    def delay(self, attempt: int, response: httpx.Response | None) -> float:
        """Seconds to wait before retry number ``attempt`` (0-based)."""
        backoff = self.rng.uniform(0, min(self.cap, self.base * 2**attempt))
        after = retry_after(response) if response is not None else None
        return min(self.cap, max(backoff, after or 0.0))


def secret(
    name: str, env_key: str | None, file_key: str | None, *, env: Mapping[str, str], base_dir: Path
) -> str | None:
    """Read a secret named by ``<name>_env`` or ``<name>_file``; a clear error if it is absent."""
    if env_key:
        value = env.get(env_key)
        if not value:
            raise ConfigError(
                f"{env_key} is not set (named by {name}_env); export it or "
                f"use {name}_file, see config.example.toml"
            )
        return value.strip()
    if file_key:
        path = Path(file_key).expanduser()
        path = path if path.is_absolute() else base_dir / path
        try:
            return path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"cannot read {name}_file {path}: {exc.strerror or exc}") from None
    return None


def make_client(
    endpoint: Endpoint,
    *,
    base_dir: Path,
    env: Mapping[str, str] | None = None,
    transport: httpx.BaseTransport | None = None,
) -> httpx.Client:
    """An httpx client for ``endpoint`` (``transport`` is the test seam). Its credentials are
    handed to the current source's writer for masking (see the module docstring)."""
    env = os.environ if env is None else env
    headers = dict(endpoint.headers)
    token = secret("token", endpoint.token_env, endpoint.token_file, env=env, base_dir=base_dir)
    if token:
        headers["Authorization"] = f"Bearer {token}"
    auth = None
    password = None
    if endpoint.username:
        password = (
            secret(
                "password",
                endpoint.password_env,
                endpoint.password_file,
                env=env,
                base_dir=base_dir,
            )
            or ""
        )
        auth = httpx.BasicAuth(endpoint.username, password)
    writer = active_writer()
    if writer is not None:
        writer.add_secrets(secret_forms(token, endpoint.username, password))
    verify: bool | ssl.SSLContext = not endpoint.insecure_skip_verify
    if endpoint.ca_file and verify:
        ca = Path(endpoint.ca_file).expanduser()
        ca = ca if ca.is_absolute() else base_dir / ca
        try:
            verify = ssl.create_default_context(cafile=str(ca))
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"ca_file {ca}: cannot load: {exc}") from None
    client = Client(
        base_url=endpoint.url.rstrip("/"),
        headers=headers,
        auth=auth,
        verify=verify,
        timeout=endpoint.timeout,
        transport=transport,
        follow_redirects=True,
    )
    client.policy_limits = Limits(
        timeout=endpoint.timeout,
        retries=endpoint.retries,
        max_bytes=int(endpoint.max_response_mb * MB),
        auth_hint=endpoint.auth_hint(),
        writer=writer,
    )
    return client


def request(
    client: httpx.Client,
    method: str,
    path: str,
    *,
    what: str,
    policy: RetryPolicy | None = None,
    **kwargs: Any,
) -> httpx.Response:
    """Send with retries on connection errors, timeouts and retryable statuses, within the
    request's total deadline and the source's budget.

    Returns the last response (any status but 401/403; the caller reads API errors from the
    body). A 401/403 is an AuthError naming the credential's key; a connection that never
    succeeds is a SourceError naming ``what`` and the URL; the source's budget running out is
    a DeadlineError; a body over the size cap is a SourceError.
    """
    limits = getattr(client, "policy_limits", None) or Limits()
    policy = policy or RetryPolicy(retries=limits.retries)
    writer = limits.writer or active_writer()
    for attempt in range(policy.retries + 1):
        response = None
        try:
            response = _exchange(client, method, path, what, limits, writer, **kwargs)
        except _Retryable as exc:
            if attempt == policy.retries:
                _count(writer, False, str(exc))
                raise SourceError(str(exc)) from None
        if response is not None:
            _check_auth(response, limits, writer)
            if response.status_code not in RETRY_STATUS or attempt == policy.retries:
                _count(writer, response.status_code < 400, _status_text(response))
                return response
        _sleep(policy, policy.delay(attempt, response), writer, what)
    raise AssertionError("unreachable")


class _Retryable(Exception):
    """A connection error or a request past its own deadline: worth another try."""


def _exchange(
    client: httpx.Client,
    method: str,
    path: str,
    what: str,
    limits: Limits,
    writer: SourceWriter | None,
    **kwargs: Any,
) -> httpx.Response:
    """One request, its body streamed against the deadline and the size cap."""
    started = time.monotonic()
    end = started + limits.timeout
    budget_end = writer.deadline if writer is not None else None
    if budget_end is not None:
        if budget_end <= started:
            raise DeadlineError(_gave_up(writer, what))
        end = min(end, budget_end)
    url = _url(client, path)
    try:
        with client.stream(
            method, path, timeout=httpx.Timeout(max(0.01, end - started)), **kwargs
        ) as response:
            body = bytearray()
            for block in response.iter_bytes():
                body += block
                if len(body) > limits.max_bytes:
                    _count(writer, False, f"{method} {url}: body over the size cap")
                    raise TooLargeError(
                        f"{what}: {method} {url}: the answer is larger than "
                        f"{limits.max_bytes / MB:g} MB (max_response_mb); cut, not stored"
                    )
                if time.monotonic() > end:
                    raise httpx.ReadTimeout("deadline", request=response.request)
    except httpx.TransportError as exc:
        if budget_end is not None and time.monotonic() >= budget_end - 0.01:
            _count(writer, False, f"{method} {url}: no answer before the source's budget")
            raise DeadlineError(_gave_up(writer, what, f"waiting for {method} {url}")) from None
        if isinstance(exc, httpx.TimeoutException):
            seconds = time.monotonic() - started
            raise _Retryable(
                f"{what}: gave up after {seconds:.0f} s waiting for {method} {url} "
                f"(timeout = {limits.timeout:g} s for the whole request)"
            ) from None
        reason = f"{type(exc).__name__}: {exc}"
        raise _Retryable(f"{what}: cannot reach {client.base_url}: {reason}") from None
    headers = {k: v for k, v in response.headers.items() if k.lower() not in _DROP_HEADERS}
    return httpx.Response(
        response.status_code, headers=headers, content=bytes(body), request=response.request
    )


def _url(client: httpx.Client, path: str) -> str:
    """The request's URL without its query (queries can be long; they are named elsewhere)."""
    full = client.base_url.join(path) if not path.startswith(("http://", "https://")) else path
    return str(httpx.URL(str(full)).copy_with(query=None))


def _gave_up(writer: SourceWriter | None, what: str, doing: str = "") -> str:
    budget = writer.budget if writer is not None else None
    after = f"after {budget:g} s (budget = {budget:g})" if budget else "(the source's budget)"
    text = f"{what}: gave up {after}{', ' + doing if doing else ''}"
    if writer is not None and writer.first_failure:
        text += f"; first failure: {writer.first_failure}"
    return text


def _status_text(response: httpx.Response) -> str:
    url = str(response.request.url.copy_with(query=None))
    return f"{response.status_code} {response.reason_phrase} from {url}"


def _check_auth(response: httpx.Response, limits: Limits, writer: SourceWriter | None) -> None:
    """401/403: the credential is wrong; asking again, or for the next query, will not help."""
    if response.status_code in AUTH_STATUS:
        text = f"{_status_text(response)}: check {limits.auth_hint}"
        _count(writer, False, text)
        raise AuthError(text)


def _count(writer: SourceWriter | None, ok: bool, text: str) -> None:
    if writer is not None:
        writer.note_request(ok, None if ok else text)


def _sleep(policy: RetryPolicy, delay: float, writer: SourceWriter | None, what: str) -> None:
    """Wait before a retry, but never past the source's deadline."""
    if writer is not None and writer.deadline is not None:
        left = writer.deadline - time.monotonic()
        if delay >= left:
            raise DeadlineError(_gave_up(writer, what, f"before a retry due in {delay:.1f} s"))
    policy.sleep(delay)


def retry_after(response: httpx.Response) -> float | None:
    """``Retry-After`` (seconds or an HTTP date) or PagerDuty's ``ratelimit-reset``, in seconds."""
    value = response.headers.get("retry-after") or response.headers.get("ratelimit-reset")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


class HttpCollector:
    """What every HTTP collector keeps: its settings, the config file's directory (relative
    paths), and the test seams (``transport``, ``env``, ``policy``)."""

    def __init__(
        self,
        settings: Endpoint,
        base_dir: Path,
        *,
        transport: httpx.BaseTransport | None = None,
        env: Mapping[str, str] | None = None,
        policy: RetryPolicy | None = None,
    ) -> None:
        self.settings = settings
        self.base_dir = base_dir
        self.transport = transport
        self.env = env
        self.policy = policy or RetryPolicy(retries=settings.retries)

    @property
    def budget(self) -> float:
        """Seconds the runner gives this source (its ``budget`` key)."""
        return self.settings.budget

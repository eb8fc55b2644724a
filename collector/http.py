"""One HTTP policy for every collector: timeouts, TLS verification, credentials from the
environment or files, and retries with backoff and jitter that honour ``Retry-After``.

Credentials never appear in errors, logs or the bundle: `Endpoint` keeps only the *names* of
the variables and files that hold them, and reads them when a client is made.
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

from incident_timeline.collector.errors import ConfigError, SourceError

RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})


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
    timeout: float = 30.0
    retries: int = 3


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
    """An httpx client for ``endpoint`` (``transport`` is the test seam)."""
    env = os.environ if env is None else env
    headers = dict(endpoint.headers)
    token = secret("token", endpoint.token_env, endpoint.token_file, env=env, base_dir=base_dir)
    if token:
        headers["Authorization"] = f"Bearer {token}"
    auth = None
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
    verify: bool | ssl.SSLContext = not endpoint.insecure_skip_verify
    if endpoint.ca_file and verify:
        verify = ssl.create_default_context(cafile=str(base_dir / endpoint.ca_file))
    return httpx.Client(
        base_url=endpoint.url.rstrip("/"),
        headers=headers,
        auth=auth,
        verify=verify,
        timeout=endpoint.timeout,
        transport=transport,
        follow_redirects=True,
    )


def request(
    client: httpx.Client,
    method: str,
    path: str,
    *,
    what: str,
    policy: RetryPolicy | None = None,
    **kwargs: Any,
) -> httpx.Response:
    """Send with retries on connection errors and retryable statuses.

    Returns the last response (any status; the caller reads API errors from the body).
    A connection that never succeeds is a SourceError naming ``what`` and the URL.
    """
    policy = policy or RetryPolicy()
    for attempt in range(policy.retries + 1):
        response = None
        try:
            response = client.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            if attempt == policy.retries:
                raise SourceError(
                    f"{what}: cannot reach {client.base_url}: {type(exc).__name__}: {exc}"
                ) from None
        if response is not None and (
            response.status_code not in RETRY_STATUS or attempt == policy.retries
        ):
            return response
        policy.sleep(policy.delay(attempt, response))
    raise AssertionError("unreachable")


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

from __future__ import annotations

import random
from pathlib import Path

import httpx
import pytest

from incident_timeline.collector.errors import ConfigError, SourceError
from incident_timeline.collector.http import (
    Endpoint,
    RetryPolicy,
    make_client,
    request,
    retry_after,
)


def policy(slept: list[float]) -> RetryPolicy:
    return RetryPolicy(retries=3, sleep=slept.append, rng=random.Random(1))


def test_retries_honour_retry_after_then_succeed(tmp_path: Path) -> None:
    answers = [
        httpx.Response(429, headers={"Retry-After": "7"}),
        httpx.Response(503),
        httpx.Response(200, json={"ok": True}),
    ]
    seen: list[httpx.Request] = []

    def handler(req: httpx.Request) -> httpx.Response:
        seen.append(req)
        return answers[len(seen) - 1]

    client = make_client(
        Endpoint(url="http://prom:9090/", token_env="TOK"),
        base_dir=tmp_path,
        env={"TOK": "s3cret\n"},
        transport=httpx.MockTransport(handler),
    )
    slept: list[float] = []
    response = request(client, "GET", "/api/v1/rules", what="prometheus", policy=policy(slept))
    assert response.json() == {"ok": True}
    assert len(seen) == 3 and slept[0] == 7.0 and 0 <= slept[1] <= 1.0
    assert seen[0].headers["Authorization"] == "Bearer s3cret"
    assert str(seen[0].url) == "http://prom:9090/api/v1/rules"


def test_unreachable_is_a_source_error_without_secrets(tmp_path: Path) -> None:
    def handler(req: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=req)

    client = make_client(
        Endpoint(url="http://am:9093", token_env="TOK"),
        base_dir=tmp_path,
        env={"TOK": "s3cret"},
        transport=httpx.MockTransport(handler),
    )
    slept: list[float] = []
    with pytest.raises(SourceError) as err:
        request(client, "GET", "/api/v2/alerts", what="alertmanager", policy=policy(slept))
    assert str(err.value) == (
        "alertmanager: cannot reach http://am:9093: ConnectError: connection refused"
    )
    assert len(slept) == 3 and "s3cret" not in str(err.value)


def test_missing_secret_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="PROMETHEUS_TOKEN is not set"):
        make_client(
            Endpoint(url="http://p", token_env="PROMETHEUS_TOKEN"), base_dir=tmp_path, env={}
        )
    (tmp_path / "pw").write_text("hunter2\n")
    seen: list[httpx.Request] = []
    client = make_client(
        Endpoint(url="http://p", username="bob", password_file="pw"),
        base_dir=tmp_path,
        env={},
        transport=httpx.MockTransport(lambda r: seen.append(r) or httpx.Response(200)),
    )
    client.get("/")
    assert seen[0].headers["Authorization"] == "Basic Ym9iOmh1bnRlcjI="


def test_retry_after_forms() -> None:
    assert retry_after(httpx.Response(429, headers={"ratelimit-reset": "1"})) == 1.0
    assert (
        retry_after(httpx.Response(429, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}))
        == 0.0
    )
    assert retry_after(httpx.Response(429)) is None

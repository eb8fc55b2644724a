"""Issue 8 item 1: a source that never returns is given up on at its budget; the others are
collected and the bundle stays consistent."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from incident_timeline.collector.bundle import SourceWriter, read_manifest
from incident_timeline.collector.config import Config, IncidentSettings
from incident_timeline.collector.errors import AuthError, DeadlineError
from incident_timeline.collector.http import Endpoint, make_client, request
from incident_timeline.collector.runner import collect
from incident_timeline.timeline.window import Window

WINDOW = Window(datetime(2026, 2, 17, 14, tzinfo=UTC), datetime(2026, 2, 17, 15, tzinfo=UTC))
RELEASE = threading.Event()


class Stuck:
    """A collector blocked in something that is not HTTP (a hung NFS read, say)."""

    name = "stuck"
    budget = 0.3

    def collect(self, window: Window, out: SourceWriter, *, clock: Any) -> dict[str, int]:
        RELEASE.wait(10)
        out.warn("too late")  # after the runner gave up: refused, not recorded
        return {"late": 1}


class Quick:
    name = "quick"

    def collect(self, window: Window, out: SourceWriter, *, clock: Any) -> dict[str, int]:
        out.write_raw("a.txt", b"hello")
        return {"things": 1}


def run(tmp_path: Path, sources: dict[str, Any]) -> list[Any]:
    config = Config(path=tmp_path / "c.toml", incident=IncidentSettings(), sources=sources, raw={})
    return collect(config, WINDOW, tmp_path / "b", clock=lambda: WINDOW.until)


def test_a_stuck_source_is_given_up_on_and_the_others_collected(tmp_path: Path) -> None:
    started = time.monotonic()
    stuck, quick = run(tmp_path, {"stuck": Stuck(), "quick": Quick()})
    assert time.monotonic() - started < 4  # 0.3 s budget + 2 s grace
    RELEASE.set()
    assert (stuck.status, stuck.error) == (
        "failed",
        "gave up after 0.3 s: the source did not answer in time",
    )
    assert (quick.status, quick.counts) == ("ok", {"things": 1, "events": 0})
    manifest = read_manifest(tmp_path / "b")
    assert manifest["sources"]["stuck"]["warnings"] == [
        {
            "kind": "gap",
            "message": "gave up after 0.3 s: the source did not answer in time",
            "ref": None,
            "partial": True,
        }
    ]
    assert "raw/quick/a.txt" in manifest["files"]


def test_a_401_stops_the_source_after_one_request(tmp_path: Path) -> None:
    seen: list[httpx.Request] = []

    def handler(req: httpx.Request) -> httpx.Response:
        seen.append(req)
        return httpx.Response(401, text=f"no: {req.headers['Authorization']}")

    class Asker:
        name = "asker"

        def collect(self, window: Window, out: SourceWriter, *, clock: Any) -> dict[str, int]:
            endpoint = Endpoint(url="http://prom:9090", token_env="TOK", retries=3)
            client = make_client(
                endpoint,
                base_dir=tmp_path,
                env={"TOK": "tok-123456"},
                transport=httpx.MockTransport(handler),
            )
            for query in ("a", "b", "c"):
                request(client, "GET", f"/api/v1/query_range?query={query}", what="prometheus")
            return {}

    [outcome] = run(tmp_path, {"asker": Asker()})
    assert len(seen) == 1
    assert (outcome.status, outcome.error) == (
        "failed",
        "401 Unauthorized from http://prom:9090/api/v1/query_range: check token_env TOK",
    )
    assert read_manifest(tmp_path / "b")["sources"]["asker"]["requests"] == {"ok": 0, "failed": 1}


def test_a_trickling_body_is_cut_at_the_request_deadline(tmp_path: Path) -> None:
    class Trickle(httpx.SyncByteStream):
        def __iter__(self):  # type: ignore[no-untyped-def]
            for _ in range(100):
                time.sleep(0.05)
                yield b" "

    client = make_client(
        Endpoint(url="http://slow", timeout=0.3, retries=0),
        base_dir=tmp_path,
        transport=httpx.MockTransport(lambda r: httpx.Response(200, stream=Trickle())),
    )
    started = time.monotonic()
    with pytest.raises(Exception) as err:
        request(client, "GET", "/x", what="slow")
    assert time.monotonic() - started < 1.5
    assert str(err.value).startswith("slow: gave up after 0 s waiting for GET http://slow/x")
    assert not isinstance(err.value, (AuthError, DeadlineError))

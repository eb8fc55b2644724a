"""Hostile sources through the CLI: a local fault server (see `server`) behind the Prometheus
and Alertmanager collectors, next to a ``[[file]]`` source that must be collected whatever the
server does. Each case asserts the exit status, the manifest's status and message, that the
file was collected, and that no secret value (in any form) reached the bundle or the output."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from incident_timeline.report.cli import cli
from tests.faults.server import AM_SECRETS, FaultServer

TOKEN = "fault-s3cret-token-4242"
PASSWORD = "fault-pa55word-77"
WINDOW = ["--since", "2026-02-17T14:00:00Z", "--until", "2026-02-17T14:30:00Z"]
LOG = "2026-02-17T14:05:00Z app started\n2026-02-17T14:06:00Z pool exhausted\n"
LIMITS = "timeout = 0.3\nretries = 1\nbudget = 1\nmax_response_mb = 1\n"
SOURCES = {
    "prometheus": 'builtin_queries = false\n[[prometheus.queries]]\nname = "errors"\nexpr = "up"\n',
    "alertmanager": "",
}


@pytest.fixture(scope="module")
def server() -> Iterator[FaultServer]:
    fault = FaultServer()
    yield fault
    fault.stop()


def run(
    tmp_path: Path, source: str, url: str, auth: str, limits: str = LIMITS
) -> tuple[int, str, dict, Path]:
    (tmp_path / "app.log").write_text(LOG)
    config = tmp_path / "config.toml"
    config.write_text(
        f'[{source}]\nurl = "{url}"\n{auth}{limits}{SOURCES[source]}\n[[file]]\npath = "app.log"\n'
    )
    bundle = tmp_path / "bundle"
    env = {"FAULT_TOKEN": TOKEN, "FAULT_PASSWORD": PASSWORD}
    result = CliRunner().invoke(
        cli, ["collect", "-c", str(config), *WINDOW, "-o", str(bundle)], env=env
    )
    manifest = json.loads((bundle / "manifest.json").read_text())
    return result.exit_code, result.output, manifest, bundle


def leaked(bundle: Path, output: str) -> list[str]:
    """Every place a secret (or its Basic/base64 form) shows up."""
    forms = [
        TOKEN,
        PASSWORD,
        base64.b64encode(f"oncall:{PASSWORD}".encode()).decode(),
        AM_SECRETS["slack_api_url"],
    ]
    found = [f"output: {f}" for f in forms if f in output]
    for file in bundle.rglob("*"):
        if file.is_file():
            data = file.read_bytes()
            found += [f"{file.name}: {f}" for f in forms if f.encode() in data]
    return found


TOKEN_AUTH = 'token_env = "FAULT_TOKEN"\n'
BASIC_AUTH = 'username = "oncall"\npassword_env = "FAULT_PASSWORD"\n'
# (fault, source, exit code, status, words the source's message must hold)
CASES = [
    ("ok", "prometheus", 0, "ok", None),
    ("ok", "alertmanager", 0, "ok", None),
    ("trickle", "prometheus", 3, "failed", "gave up after"),
    ("trickle", "alertmanager", 3, "failed", "gave up after"),
    ("hang", "prometheus", 3, "failed", "gave up after"),
    ("hang", "alertmanager", 3, "failed", "gave up after"),
    ("echo", "prometheus", 3, "failed", "401 Unauthorized from http://127.0.0.1:{port}/echo/"),
    ("echo", "alertmanager", 3, "failed", ": check token_env FAULT_TOKEN"),
    ("echo500", "prometheus", 3, "failed", "500 Internal Server Error from"),
    ("echo500", "alertmanager", 3, "failed", "500 Internal Server Error from"),
    ("shape", "prometheus", 3, "partial", "resultType is 'vector', not 'matrix'"),
    ("shape", "alertmanager", 3, "partial", "expected a JSON array, got an object"),
    ("field", "alertmanager", 3, "partial", '(first at /1/labels: "x" is a string, not an object)'),
    ("big", "prometheus", 3, "failed", "larger than 1 MB (max_response_mb)"),
    ("big", "alertmanager", 3, "failed", "larger than 1 MB (max_response_mb)"),
    ("401", "prometheus", 3, "failed", "/api/v1/label/__name__/values: check token_env"),
    ("403", "alertmanager", 3, "failed", "403 Forbidden from"),
    ("404", "prometheus", 3, "failed", "404 Not Found from"),
    ("429", "alertmanager", 3, "failed", "429 Too Many Requests from"),
    ("500", "prometheus", 3, "failed", "500 Internal Server Error from"),
]


@pytest.mark.parametrize(("fault", "source", "code", "status", "words"), CASES)
def test_fault(
    server: FaultServer,
    tmp_path: Path,
    fault: str,
    source: str,
    code: int,
    status: str,
    words: str | None,
) -> None:
    started = time.monotonic()
    exit_code, output, manifest, bundle = run(tmp_path, source, server.url(fault), TOKEN_AUTH)
    seconds = time.monotonic() - started
    entry = manifest["sources"][source]
    assert (exit_code, entry["status"]) == (code, status), output
    if words is not None:
        port = server.url("").rsplit(":", 1)[1].strip("/")
        assert words.format(port=port) in entry["error"], entry["error"]
    assert manifest["sources"]["file"]["status"] == "ok"
    assert manifest["sources"]["file"]["counts"]["events"] == 2
    assert leaked(bundle, output) == []
    assert seconds < 6  # the budget (1 s) plus the runner's grace, with room for a busy CI


def test_basic_auth_echoed_in_a_500_is_masked(server: FaultServer, tmp_path: Path) -> None:
    exit_code, output, manifest, bundle = run(
        tmp_path, "alertmanager", server.url("echo500"), BASIC_AUTH, "retries = 0\n"
    )
    assert exit_code == 3
    assert leaked(bundle, output) == []
    messages = [w["message"] for w in manifest["sources"]["alertmanager"]["warnings"]]
    assert "/api/v2/status: HTTP 500: body not quoted: it may hold receiver secrets" in messages
    masked = [rel for rel, info in manifest["files"].items() if "masked" in info]
    assert masked == ["raw/alertmanager/api/alerts.json", "raw/alertmanager/api/silences.json"]


def test_a_hanging_source_does_not_delay_the_others(server: FaultServer, tmp_path: Path) -> None:
    (tmp_path / "app.log").write_text(LOG)
    config = tmp_path / "config.toml"
    config.write_text(
        f'[prometheus]\nurl = "{server.url("hang")}"\ntimeout = 30\nretries = 0\nbudget = 1\n'
        f'{SOURCES["prometheus"]}\n[alertmanager]\nurl = "{server.url("ok")}"\n'
        '[[file]]\npath = "app.log"\n'
    )
    started = time.monotonic()
    result = CliRunner().invoke(
        cli, ["collect", "-c", str(config), *WINDOW, "-o", str(tmp_path / "b")]
    )
    manifest = json.loads((tmp_path / "b" / "manifest.json").read_text())
    statuses = {name: s["status"] for name, s in manifest["sources"].items()}
    assert statuses == {"prometheus": "failed", "alertmanager": "ok", "file": "ok"}
    assert result.exit_code == 3
    assert manifest["sources"]["prometheus"]["error"].startswith(
        "prometheus: gave up after 1 s (budget = 1), waiting for GET http://127.0.0.1:"
    )
    assert time.monotonic() - started < 5

"""Real servers for integration tests: free loopback ports, temp dirs, readiness, stop by PID.

Each server is started at most once per test session (a module-level cache behind
session-scoped fixtures) and always stopped by its PID, in a finalizer and at interpreter exit.
A missing binary skips the test with the Debian package to install, except under ``CI=true``,
where it is a failure: CI must never go green by skipping the real parts.
"""

from __future__ import annotations

import atexit
import dataclasses
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

PACKAGES = {
    "prometheus": "prometheus",
    "promtool": "prometheus",
    "prometheus-alertmanager": "prometheus-alertmanager",
    "prometheus-node-exporter": "prometheus-node-exporter",
    "kubectl": "kubectl",  # the Kubernetes apt repository's (or Google Cloud CLI's) package
    "openssl": "openssl",
    "amtool": "prometheus-alertmanager",
    "zstd": "zstd",  # the reference zstd CLI, to make real zstd files in the file tests
    "bzip2": "bzip2",  # and the reference bzip2 and xz CLIs, for their files
    "xz": "xz-utils",
}
Sample = tuple[float, float]


@dataclasses.dataclass
class Server:
    """A running server: its process, loopback URL and working directory."""

    name: str
    process: subprocess.Popen[bytes]
    url: str
    workdir: Path

    @property
    def pid(self) -> int:
        """The server's process id."""
        return self.process.pid

    def log(self) -> str:
        """The server's combined output so far (for failure messages)."""
        path = self.workdir / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        """Stop this one process by PID (SIGTERM, then SIGKILL after 5 s) and remove its
        working directory. Idempotent."""
        if self.process.poll() is None:
            os.kill(self.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.process.wait(timeout=5)
        shutil.rmtree(self.workdir, ignore_errors=True)


def binary(name: str) -> str:
    """Path of ``name``; skip (or fail under CI=true) naming the Debian package when missing."""
    found = shutil.which(name)
    if found:
        return found
    message = (
        f"{name} is not installed; install the Debian package {PACKAGES[name]} "
        f"(apt-get install --no-install-recommends {PACKAGES[name]})"
    )
    if os.environ.get("CI") == "true":
        pytest.fail(message + " (CI=true: a missing server is a failure, not a skip)")
    pytest.skip(message)


def free_port() -> int:
    """A TCP port that was free on 127.0.0.1 a moment ago (never 9090/9093/9100)."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in (9090, 9093, 9100):
            return port


def temp_dir(name: str) -> Path:
    """A fresh temporary directory for one server."""
    return Path(tempfile.mkdtemp(prefix=f"it-{name}-"))


def start(
    name: str,
    argv: list[str],
    port: int,
    workdir: Path,
    *,
    ready: str = "/-/ready",
    timeout: float = 20.0,
) -> Server:
    """Start ``argv`` (listening on ``port``), wait until ``ready`` answers 200, return it."""
    with (workdir / "server.log").open("wb") as output:
        process = subprocess.Popen(
            argv, cwd=workdir, stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    server = Server(name, process, f"http://127.0.0.1:{port}", workdir)
    atexit.register(server.stop)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            if httpx.get(server.url + ready, timeout=1.0).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    log = server.log()[-3000:]
    server.stop()
    pytest.fail(f"{name} did not become ready on {server.url}:\n{log}")


def openmetrics(series: Iterable[tuple[str, dict[str, str], list[Sample]]]) -> str:
    """OpenMetrics text for promtool: gauges, samples ascending, unix seconds, ``# EOF``."""
    by_name: dict[str, list[tuple[dict[str, str], list[Sample]]]] = {}
    for name, labels, samples in series:
        by_name.setdefault(name, []).append((labels, samples))
    lines = []
    for name, members in by_name.items():
        lines.append(f"# TYPE {name} gauge")
        for labels, samples in members:
            inner = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
            lines += [f"{name}{{{inner}}} {v!r} {t:.3f}" for t, v in sorted(samples)]
    return "\n".join(lines) + "\n# EOF\n"


def backfill(text: str, workdir: Path) -> Path:
    """Write OpenMetrics ``text`` into a new TSDB under ``workdir`` with promtool."""
    source, data = workdir / "backfill.om", workdir / "data"
    source.write_text(text)
    done = subprocess.run(
        [binary("promtool"), "tsdb", "create-blocks-from", "openmetrics", str(source), str(data)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"promtool backfill failed: {done.stdout}{done.stderr}")
    return data


def start_prometheus(workdir: Path, config: str, data: Path | None = None) -> Server:
    """A Prometheus on a free loopback port with ``config`` (YAML) and its own TSDB."""
    exe = binary("prometheus")
    port = free_port()
    (workdir / "prometheus.yml").write_text(config)
    argv = [
        exe,
        f"--config.file={workdir / 'prometheus.yml'}",
        f"--storage.tsdb.path={data or workdir / 'data'}",
        "--storage.tsdb.retention.time=3650d",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    return start("prometheus", argv, port, workdir)


def start_alertmanager(workdir: Path, config: str) -> Server:
    """An Alertmanager on a free loopback port, no clustering, its own storage."""
    exe = binary("prometheus-alertmanager")
    port = free_port()
    (workdir / "alertmanager.yml").write_text(config)
    argv = [
        exe,
        f"--config.file={workdir / 'alertmanager.yml'}",
        f"--storage.path={workdir / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",
    ]
    return start("alertmanager", argv, port, workdir)


def start_node_exporter(workdir: Path) -> Server:
    """A node_exporter on a free loopback port (ready when /metrics answers)."""
    exe = binary("prometheus-node-exporter")
    port = free_port()
    argv = [exe, f"--web.listen-address=127.0.0.1:{port}"]
    return start("node_exporter", argv, port, workdir, ready="/metrics")


# ---------------------------------------------------------------- small HTTP helpers


class _Handler(BaseHTTPRequestHandler):
    """Serves ``server.metrics_text`` on GET; appends POSTed JSON to ``server.log_path``."""

    def do_GET(self) -> None:
        body = self.server.metrics_text().encode()  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        payload = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        received = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        line = json.dumps({"time": received, "payload": payload}) + "\n"
        with self.server.lock, self.server.log_path.open("a") as log:  # type: ignore[attr-defined]
            log.write(line)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


@dataclasses.dataclass
class LocalHTTP:
    """An in-process HTTP server on a free loopback port: a tiny exporter whose metric
    values the test sets (``values``), and a webhook logger writing JSON lines."""

    url: str
    values: dict[str, float]
    log_path: Path
    _server: ThreadingHTTPServer

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()

    def notifications(self) -> list[dict[str, Any]]:
        """The webhook payloads logged so far, with their receipt time."""
        if not self.log_path.exists():
            return []
        return [json.loads(line) for line in self.log_path.read_text().splitlines() if line]


def local_http(workdir: Path) -> LocalHTTP:
    """Start a `LocalHTTP` in a daemon thread."""
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), _Handler)
    values: dict[str, float] = {}
    server.metrics_text = lambda: "".join(  # type: ignore[attr-defined]
        f"# TYPE {k} gauge\n{k} {v!r}\n" for k, v in sorted(values.items())
    )
    server.log_path = workdir / "webhook.jsonl"  # type: ignore[attr-defined]
    server.lock = threading.Lock()  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    return LocalHTTP(f"http://127.0.0.1:{port}", values, workdir / "webhook.jsonl", server)


def shifted_clock_exporter(workdir: Path, shift: float) -> LocalHTTP:
    """A `LocalHTTP` exporter whose ``node_time_seconds`` is this machine's wall clock plus
    ``shift`` seconds, read at each scrape as node_exporter's time collector does (tests
    must never change the machine's own clock)."""
    exporter = local_http(workdir)
    exporter._server.metrics_text = lambda: (  # type: ignore[attr-defined]
        f"# TYPE node_time_seconds gauge\nnode_time_seconds {time.time() + shift!r}\n"
    )
    return exporter


def start_time_node_exporter(workdir: Path) -> Server:
    """A real node_exporter with only its clock collectors (time, timex): scrapes take
    milliseconds, so node_time_seconds − scrape time is this machine's own clock agreement."""
    exe = binary("prometheus-node-exporter")
    port = free_port()
    argv = [
        exe,
        f"--web.listen-address=127.0.0.1:{port}",
        "--collector.disable-defaults",
        "--collector.time",
        "--collector.timex",
    ]
    return start("node_exporter", argv, port, workdir, ready="/metrics")


def wait_for(what: str, check: Callable[[], Any], timeout: float = 30.0) -> Any:
    """Poll ``check`` until it returns something truthy; fail naming ``what`` on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    pytest.fail(f"timed out after {timeout:g} s waiting for {what}")


# ---------------------------------------------------------------- the backfilled incident

DAY = datetime(2026, 3, 4, tzinfo=UTC)
WINDOW = (DAY.replace(hour=14), DAY.replace(hour=15))  # 14:00-15:00Z, 15 s scrapes


def at(clock: str) -> float:
    """Unix seconds of ``HH:MM[:SS]`` on the incident's day."""
    hours, minutes, *seconds = (int(p) for p in clock.split(":"))
    return DAY.replace(hour=hours, minute=minutes, second=seconds[0] if seconds else 0).timestamp()


def incident_series() -> list[tuple[str, dict[str, str], list[Sample]]]:
    """The backfilled incident: a 5xx ratio above 5 % from 14:10 to 14:20, its alert (pending
    14:11, firing 14:12-14:19:45), node-b's clock 2.4 s off and unsynchronised, a 6-minute
    scrape gap of a:8080 (14:40-14:46), b:8080 down 14:05-14:07, a container restart at
    14:15, and pod p1 Pending -> Running at 14:01 -> Failed at 14:50."""
    grid = [at("14:00") + 15 * i for i in range(240)]

    def during(first: str, last: str, inside: float, outside: float | None) -> list[Sample]:
        values = [(t, inside if at(first) <= t < at(last) else outside) for t in grid]
        return [(t, v) for t, v in values if v is not None]

    def constant(value: float) -> list[Sample]:
        return [(t, value) for t in grid]

    alert = {"alertname": "HighErrorRate", "service": "checkout-api", "severity": "page"}
    node = {"job": "node"}
    pod = {"namespace": "checkout", "pod": "p1"}
    phases = {
        "Pending": ("14:00", "14:01"),
        "Running": ("14:01", "14:50"),
        "Failed": ("14:50", "15:00"),
        "Succeeded": ("15:00", "15:00"),
    }
    return [
        ("http_error_ratio", {"service": "checkout-api"}, during("14:10", "14:20", 0.073, 0.01)),
        ("ALERTS", {**alert, "alertstate": "pending"}, during("14:11", "14:12", 1, None)),
        ("ALERTS", {**alert, "alertstate": "firing"}, during("14:12", "14:20", 1, None)),
        ("ALERTS_FOR_STATE", alert, during("14:11", "14:20", at("14:11"), None)),
        ("node_timex_offset_seconds", {**node, "instance": "node-a:9100"}, constant(0.0003)),
        # node-b runs ahead: the kernel's pending correction is negative, clamped to 0.5 s
        ("node_timex_offset_seconds", {**node, "instance": "node-b:9100"}, constant(-0.5)),
        ("node_timex_sync_status", {**node, "instance": "node-a:9100"}, constant(1)),
        ("node_timex_sync_status", {**node, "instance": "node-b:9100"}, constant(0)),
        ("node_timex_maxerror_seconds", {**node, "instance": "node-a:9100"}, constant(0.05)),
        ("node_timex_maxerror_seconds", {**node, "instance": "node-b:9100"}, constant(16)),
        # raw scrapes (phase 0.604 s): node_exporter reads the clock 3 ms into a 6 ms scrape
        *[
            (metric, {**node, "instance": f"{name}:9100"}, scrapes)
            for name, ahead in (("node-a", 0.0), ("node-b", 2.4))
            for metric, scrapes in (
                ("node_time_seconds", [(t + 0.604, t + 0.607 + ahead) for t in grid]),
                ("scrape_duration_seconds", [(t + 0.604, 0.006) for t in grid]),
            )
        ],
        (
            "up",
            {"instance": "a:8080", "job": "app"},
            [(t, 1.0) for t in grid if not at("14:40") < t < at("14:46")],
        ),
        ("up", {"instance": "b:8080", "job": "app"}, during("14:05", "14:07", 0, 1)),
        (
            "kube_pod_container_status_restarts_total",
            {**pod, "container": "app"},
            during("14:15", "15:00", 1, 0),
        ),
        *[
            ("kube_pod_status_phase", {**pod, "phase": name}, during(first, last, 1, 0))
            for name, (first, last) in phases.items()
        ],
    ]


@dataclasses.dataclass
class Live:
    """The live Prometheus, the exporter whose values the test sets, and the node_exporter."""

    prometheus: Server
    exporter: LocalHTTP
    node: Server

    def stop(self) -> None:
        """Stop all three."""
        for thing in (self.prometheus, self.exporter, self.node):
            thing.stop()

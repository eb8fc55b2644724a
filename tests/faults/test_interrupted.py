"""Issue 8 item 8: a bundle whose collection was killed says so to every reader, and
``--resume`` cleans up after the kill and re-collects a source whose config changed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from incident_timeline.report.cli import cli
from tests.faults.server import FaultServer

WINDOW = ["--since", "2026-02-17T14:00:00Z", "--until", "2026-02-17T14:30:00Z"]
LOG = "2026-02-17T14:05:00Z app started\n2026-02-17T14:06:00Z pool exhausted\n"
INCIDENT = Path(sys.executable).parent / "incident"


@pytest.fixture(scope="module")
def server() -> Iterator[FaultServer]:
    fault = FaultServer()
    yield fault
    fault.stop()


def config(tmp_path: Path, url: str, stream: str = "app") -> Path:
    (tmp_path / "app.log").write_text(LOG)
    path = tmp_path / "config.toml"
    # The file first: a runner that took sources one by one would also finish it before
    # hanging on Prometheus, so the kill finds one source done and one not, either way.
    path.write_text(
        f'[[file]]\npath = "app.log"\nstream = "{stream}"\n'
        f'[prometheus]\nurl = "{url}"\ntimeout = 60\nbudget = 60\nbuiltin_queries = false\n'
    )
    return path


def killed_bundle(
    tmp_path: Path, server: FaultServer, signum: int = signal.SIGKILL
) -> tuple[Path, int]:
    """Run collect with a hanging Prometheus, and send it ``signum`` (kill -9 by default)
    once the file source is done; the bundle and the exit status."""
    bundle = tmp_path / "bundle"
    args = [str(INCIDENT), "collect", "-c", str(config(tmp_path, server.url("hang")))]
    log = (tmp_path / "collect.log").open("wb")
    process = subprocess.Popen([*args, *WINDOW, "-o", str(bundle)], stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            manifest = bundle / "manifest.json"
            if manifest.exists():
                sources = json.loads(manifest.read_text())["sources"]
                if sources.get("file", {}).get("status") == "ok":
                    break
            time.sleep(0.05)
        else:
            raise AssertionError(f"the file source never finished: {collect_log(tmp_path)}")
    finally:
        os.kill(process.pid, signum)
        try:
            status = process.wait(timeout=20)
        except subprocess.TimeoutExpired:  # the signal did not end it: that is the failure
            os.kill(process.pid, signal.SIGKILL)
            status = process.wait()
    log.close()
    return bundle, status


def collect_log(tmp_path: Path) -> str:
    return (tmp_path / "collect.log").read_text(errors="replace")


def test_a_killed_bundle_warns_every_reader_and_exits_3(
    tmp_path: Path, server: FaultServer
) -> None:
    bundle, _ = killed_bundle(tmp_path, server)
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["sources"]["prometheus"]["status"] == "running"
    warning = (
        f"Warning: {bundle}: bundle incomplete: source prometheus did not finish; run "
        "incident collect --resume (same config and window) to complete it"
    )
    timeline = CliRunner().invoke(cli, ["timeline", str(bundle)])
    assert timeline.exit_code == 3
    assert warning in timeline.output
    assert "source prometheus started and did not finish" in timeline.output  # a gap finding
    report = CliRunner().invoke(cli, ["report", str(bundle)])
    assert report.exit_code == 3 and warning in report.output
    text = (bundle / "postmortem.md").read_text()
    assert text.splitlines()[2].startswith(  # right under the title
        "> **Warning: bundle incomplete: source prometheus did not finish;"
    )
    clocks = CliRunner().invoke(cli, ["clocks", str(bundle)])
    assert clocks.exit_code == 0 and warning in clocks.output


def test_resume_removes_temp_files_and_recollects_a_changed_source(
    tmp_path: Path, server: FaultServer
) -> None:
    bundle, _ = killed_bundle(tmp_path, server)
    leftover = bundle / "events" / ".prometheus.parquet.x1y2.tmp"
    leftover.write_bytes(b"half a parquet file")
    changed = config(tmp_path, server.url("ok"), stream="renamed")
    args = ["collect", "-c", str(changed), *WINDOW, "-o", str(bundle), "--resume"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "removed 1 leftover temp file(s) of the interrupted run" in result.output
    assert "file: its config changed since it was collected; collecting it again" in result.output
    assert not leftover.exists()
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert {n: s["status"] for n, s in manifest["sources"].items()} == {
        "prometheus": "ok",
        "file": "ok",
    }
    import pandas as pd

    assert set(pd.read_parquet(bundle / "events" / "file.parquet")["stream"]) == {"renamed"}
    again = CliRunner().invoke(cli, args)
    assert again.exit_code == 0 and "collecting it again" not in again.output


@pytest.mark.parametrize(
    ("signum", "status"),
    [(signal.SIGTERM, 143), (signal.SIGINT, 130)],
    ids=["SIGTERM", "Ctrl-C"],
)
def test_a_terminated_or_interrupted_collect_marks_the_bundle(
    tmp_path: Path, server: FaultServer, signum: int, status: int
) -> None:
    bundle, code = killed_bundle(tmp_path, server, signum)
    name = signal.Signals(signum).name
    assert code == status, collect_log(tmp_path)  # 128 + the signal, as a shell reports it
    assert collect_log(tmp_path).splitlines()[-1] == (
        f"Error: interrupted by {name} before prometheus finished; the bundle is marked "
        "incomplete: run incident collect --resume (same config and window) to complete it"
    )
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["interrupted"]["signal"] == name
    assert manifest["sources"]["prometheus"] == {
        "status": "running",
        "error": f"interrupted by {name} before it finished",
        "config_sha256": manifest["sources"]["prometheus"]["config_sha256"],
    }
    assert manifest["sources"]["file"]["status"] == "ok"
    warning = (
        f"Warning: {bundle}: bundle incomplete: collection was interrupted by {name}; source "
        "prometheus did not finish; run incident collect --resume (same config and window) "
        "to complete it"
    )
    for command in ("timeline", "report"):
        result = CliRunner().invoke(cli, [command, str(bundle)])
        assert result.exit_code == 3, result.output
        assert warning in result.output
    resumed = config(tmp_path, server.url("ok"))
    args = ["collect", "-c", str(resumed), *WINDOW, "-o", str(bundle), "--resume"]
    assert CliRunner().invoke(cli, args).exit_code == 0
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert "interrupted" not in manifest  # completed: readers no longer warn
    assert CliRunner().invoke(cli, ["timeline", str(bundle)]).exit_code == 0

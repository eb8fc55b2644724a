"""The source's deadline (``budget``) on the Kubernetes requests: a stuck API server or a
trickling log stream ends the source ``partial`` or ``failed`` with "gave up after N s", what
came before is kept, and the other sources are still collected."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from incident_timeline.collector.bundle import read_manifest
from incident_timeline.collector.runner import GRACE
from tests.doubles.kubernetes import Cluster, Running, ns_of, pod, serve
from tests.support import cli, events_of

NS = "shop"
SINCE = datetime(2026, 2, 17, 14, 0, tzinfo=UTC)
WINDOW = ["--since", "2026-02-17T14:00:00Z", "--until", "2026-02-17T15:00:00Z"]
BUDGET = 3


def lines(pod_name: str, n: int) -> list[tuple[int, str]]:
    """``n`` lines a minute apart from 14:00."""
    return [(ns_of(SINCE + timedelta(minutes=i)), f"INFO {pod_name} line {i}") for i in range(n)]


@pytest.fixture
def double() -> Iterator[Running]:
    """Two pods; the test makes the server stall or one pod's log trickle."""
    cluster = Cluster()
    for name in ("web-1", "web-2"):
        cluster.add("pods", pod(name, NS, "node-a", SINCE, [("app", "shop:v1")]))
        cluster.logs[(NS, name, "app", False)] = lines(name, 30)
    running = serve(cluster)
    yield running
    running.stop()


def collect(tmp: Path, double: Running) -> Path:
    """``incident collect`` with a [kubernetes] budget and a [[file]] source beside it."""
    kubeconfig = double.kubeconfig(tmp / "kubeconfig.json", namespace=NS)
    (tmp / "app.log").write_text("2026-02-17T14:05:00Z ERROR payment timeout\n")
    config = tmp / "config.toml"
    config.write_text(
        f'[kubernetes]\nkubeconfig = "{kubeconfig}"\nqps = 0\nevents = false\n'
        f'rollouts = false\nbudget = {BUDGET}\n\n[[file]]\npath = "app.log"\n'
    )
    cli(["collect", "-c", str(config), *WINDOW, "-o", str(tmp / "b")], exit_code=3)
    return tmp / "b"


def test_a_trickling_log_is_cut_at_the_budget_and_kept(tmp_path: Path, double: Running) -> None:
    double.cluster.trickle.add((NS, "web-2"))
    bundle = collect(tmp_path, double)
    manifest = read_manifest(bundle)
    source = manifest["sources"]["kubernetes"]
    assert source["seconds"] < BUDGET + GRACE  # it ended itself: the runner did not give up
    assert source["status"] == "partial"
    assert f"gave up after {BUDGET} s" in source["error"]
    assert "/pods/web-2/log" in source["error"]
    [gap] = [w for w in source["warnings"] if w["kind"] == "gap"]
    assert gap["ref"] == f"raw/kubernetes/logs/{NS}/web-2/app.log.gz"
    assert gap["partial"] is True
    events = events_of(bundle, "kubernetes")
    logs = events.loc[events["kind"] == "log"]
    assert (logs["stream"] == f"{NS}/web-1/app").sum() == 30
    # a line every 0.5 s came before the deadline: the stored part is parsed, in order
    cut = logs.loc[logs["stream"] == f"{NS}/web-2/app", "message"].tolist()
    assert 1 <= len(cut) <= 2 * BUDGET + 1
    assert cut == [f"INFO web-2 line {i}" for i in range(len(cut))]
    with gzip.open(bundle / gap["ref"], "rt") as stored:
        assert len(stored.read().splitlines()) == len(cut)
    assert manifest["sources"]["file"]["status"] == "ok"
    assert len(events_of(bundle, "file")) == 1


def test_a_stalled_api_server_fails_the_source_not_the_others(
    tmp_path: Path, double: Running
) -> None:
    double.cluster.stall.add(r"^/api/v1/namespaces/shop/pods$")
    bundle = collect(tmp_path, double)
    manifest = read_manifest(bundle)
    source = manifest["sources"]["kubernetes"]
    assert source["seconds"] < BUDGET + GRACE
    assert source["status"] == "failed"
    assert source["error"].startswith(f"kubernetes: gave up after {BUDGET} s")
    assert "GET /api/v1/namespaces/shop/pods" in source["error"]
    assert manifest["sources"]["file"]["status"] == "ok"
    assert events_of(bundle, "file")["summary"].str.contains("payment timeout").all()

"""Real ``kubectl`` against the Kubernetes API double, with the same kubeconfig the collector
used, gives the same answers the collector stored: the logs of a container up to the window's
end (current and previous instance), the events, the rollout history and the pods. Over HTTPS
with a self-signed CA and a bearer token as well (kubectl sends no token over plain HTTP)."""

from __future__ import annotations

import gzip
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from incident_timeline.collector.bundle import read_manifest
from tests.collector import kubernetes_scenario as sc
from tests.doubles.kubernetes import Running, serve
from tests.integration.servers import binary
from tests.support import cli

SINCE, UNTIL = "2026-02-17T14:00:00Z", "2026-02-17T15:30:00Z"


@pytest.fixture(scope="module", params=["http", "https+token"])
def run(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Running, Path, Path]]:
    """The scenario served (plain, or TLS with a bearer token), collected once."""
    tmp = tmp_path_factory.mktemp("kubectl")
    cluster = sc.cluster()
    tls = request.param == "https+token"
    binary("kubectl")  # skip (or fail under CI=true) before any work when it is missing
    if tls:
        binary("openssl")
        cluster.token = "s3cret-token"
    double = serve(cluster, tls_dir=tmp / "tls" if tls else None)
    kubeconfig = double.kubeconfig(tmp / "kubeconfig", token=cluster.token)
    config = tmp / "config.toml"
    config.write_text(f'[kubernetes]\nkubeconfig = "{kubeconfig}"\nqps = 0\n')
    bundle = tmp / "bundle"
    cli(["collect", "-c", str(config), "--since", SINCE, "--until", UNTIL, "-n", sc.NS,
         "-l", "app=checkout-api", "-o", str(bundle)])  # fmt: skip
    yield double, kubeconfig, bundle
    double.stop()


def kubectl(kubeconfig: Path, *args: str) -> str:
    """Run real kubectl; its stdout (a failure shows its stderr)."""
    done = subprocess.run(
        [binary("kubectl"), "--kubeconfig", str(kubeconfig), "-n", sc.NS, *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def stored(bundle: Path, pod: str, name: str) -> list[str]:
    raw = bundle / "raw/kubernetes/logs" / sc.NS / pod / name
    return gzip.decompress(raw.read_bytes()).decode().splitlines()


@pytest.mark.parametrize(
    ("pod", "container", "previous"),
    [(sc.POD_B, "app", False), (sc.POD_A, "envoy", False), (sc.POD_A, "app", True)],
)
def test_kubectl_logs_print_what_the_collector_stored(
    run: tuple[Running, Path, Path], pod: str, container: str, previous: bool
) -> None:
    _, kubeconfig, bundle = run
    args = ["logs", pod, "-c", container, "--timestamps", f"--since-time={SINCE}"]
    printed = kubectl(kubeconfig, *args, *(["--previous"] if previous else [])).splitlines()
    up_to_end = [line for line in printed if line[:30] < "2026-02-17T15:30:00.000000000Z"]
    name = f"{container}.previous.log.gz" if previous else f"{container}.log.gz"
    assert stored(bundle, pod, name) == up_to_end
    assert len(up_to_end) == len(sc.served_in_window((sc.NS, pod, container, previous)))


def test_kubectl_get_events_lists_the_events_the_collector_kept(
    run: tuple[Running, Path, Path],
) -> None:
    _, kubeconfig, bundle = run
    items = json.loads(kubectl(kubeconfig, "get", "events", "-o", "json"))["items"]
    pages = sorted((bundle / "raw/kubernetes/events").glob(f"{sc.NS}.*.json"))
    ours = [i for p in pages for i in json.loads(p.read_text())["items"]]
    assert [i["metadata"]["uid"] for i in items] == [i["metadata"]["uid"] for i in ours]
    assert len(items) == len(sc.core_events())
    assert {(i["reason"], i.get("count")) for i in items} >= {("Unhealthy", 5), ("Killing", 1)}


def test_kubectl_rollout_history_names_the_revisions_the_collector_found(
    run: tuple[Running, Path, Path],
) -> None:
    _, kubeconfig, bundle = run
    printed = kubectl(kubeconfig, "rollout", "history", "deployment/checkout-api")
    table = [line.split(None, 1) for line in printed.splitlines()[2:] if line.strip()]
    events = pd.read_parquet(bundle / "events/kubernetes.parquet")
    deploys = events.loc[events["kind"] == "deploy", "labels"].map(json.loads)
    starts = {d["revision"]: d.get("change_cause") for d in deploys if d.get("step") == "start"}
    assert (
        {rev: cause for rev, cause in table}
        == starts
        == {
            "12": "deploy v2.3.4 (CHG-1234)",
            "13": "rollback: v2.3.4 returns 5xx",
        }
    )


def test_kubectl_get_pods_shows_the_pods_whose_lives_were_stored(
    run: tuple[Running, Path, Path],
) -> None:
    _, kubeconfig, bundle = run
    pods = json.loads(kubectl(kubeconfig, "get", "pods", "-l", "app=checkout-api", "-o", "json"))
    theirs = {p["metadata"]["name"]: p["spec"]["nodeName"] for p in pods["items"]}
    events = pd.read_parquet(bundle / "events/kubernetes.parquet")
    started = events.loc[events["summary"].str.contains(" started on "), "labels"].map(json.loads)
    assert (
        {d["name"]: d["node"] for d in started}
        == theirs
        == {
            sc.POD_A: "node-a",
            sc.POD_B: "node-b",
        }
    )
    assert read_manifest(bundle)["sources"]["kubernetes"]["counts"]["pods"] == len(theirs)


def test_kubectl_exports_imported_as_files_give_the_live_rollouts_and_pod_lives(
    run: tuple[Running, Path, Path], tmp_path: Path
) -> None:
    _, kubeconfig, bundle = run
    (tmp_path / "workloads.json").write_text(
        kubectl(kubeconfig, "get", "deploy,rs,sts,controllerrevisions", "-o", "json")
    )
    (tmp_path / "pods.json").write_text(
        kubectl(kubeconfig, "get", "pods", "-l", "app=checkout-api", "-o", "json")
    )
    config = tmp_path / "config.toml"
    config.write_text('[[file]]\npath = "workloads.json"\n\n[[file]]\npath = "pods.json"\n')
    cli(["collect", "-c", str(config), "--since", SINCE, "--until", UNTIL,
         "-o", str(tmp_path / "b")])  # fmt: skip
    imported = pd.read_parquet(tmp_path / "b/events/file.parquet")
    live = pd.read_parquet(bundle / "events/kubernetes.parquet")

    def rollouts(frame: pd.DataFrame) -> list[tuple[str, str]]:
        rows = frame.loc[frame["actor"].isin(["deployment-controller"])]
        rows = rows.loc[~rows["summary"].str.startswith("Deployment ")]
        return sorted(zip(rows["summary"], rows["time_quality"], strict=True))

    # an export has no ScalingReplicaSet events: no completions, and the rollback is placed
    # at the Deployment's Progressing update, marked inferred
    assert rollouts(imported) == [
        (s, "inferred" if "rolled back" in s else "exact")
        for s, _ in rollouts(live)
        if " rolled " in s
    ]
    back = imported.loc[imported["summary"].str.contains("rolled back"), "time"]
    assert list(back) == [pd.Timestamp("2026-02-17T14:43:30Z")]
    lives = imported.loc[imported["summary"].str.contains("started on|terminated")]
    ours = live.loc[live["summary"].str.contains("started on|terminated")]
    assert sorted(lives["summary"]) == sorted(ours["summary"])
    assert sorted(json.loads(x)["kind"] for x in lives["labels"]) == ["Pod"] * len(ours)

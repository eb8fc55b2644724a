"""`incident collect` against the Kubernetes API double (a real kubeconfig, real HTTP), every
value asserted known from what the double serves (`tests.collector.kubernetes_scenario`)."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from incident_timeline.collector.bundle import read_manifest, warning_text
from tests.collector import kubernetes_scenario as sc
from tests.doubles.kubernetes import Running, rfc3339, serve
from tests.support import cli, events_of, utc

WINDOW = ["--since", "2026-02-17T14:00:00Z", "--until", "2026-02-17T15:30:00Z"]


def write_config(tmp: Path, double: Running, **extra: Any) -> Path:
    """A config with a [kubernetes] table pointing at the double's kubeconfig."""
    kubeconfig = double.kubeconfig(tmp / "kubeconfig.json")
    lines = [
        "[kubernetes]",
        f'kubeconfig = "{kubeconfig}"',
        "qps = 0",  # the token bucket is tested on its own; keep this run quick
        "page_size = 3",
    ]
    lines += [f"{k} = {json.dumps(v)}" for k, v in extra.items()]
    path = tmp / "config.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def labels(frame: pd.DataFrame) -> list[dict[str, str]]:
    return [json.loads(x) for x in frame["labels"]]


@pytest.fixture(scope="module")
def collected(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Running]]:
    """The scenario collected once: ``-n checkout -l app=checkout-api`` over 14:00–15:30."""
    tmp = tmp_path_factory.mktemp("k8s")
    double = serve(sc.cluster())
    config = write_config(tmp, double)
    args = ["collect", "-c", str(config), *WINDOW, "-n", sc.NS, "-l", "app=checkout-api"]
    cli([*args, "-o", str(tmp / "bundle")])
    yield tmp / "bundle", double
    double.stop()


def logs_of(bundle: Path, pod: str, container: str, previous: bool = False) -> pd.DataFrame:
    events = events_of(bundle, "kubernetes")
    rows = events.loc[
        (events["kind"] == "log") & (events["stream"] == f"{sc.NS}/{pod}/{container}")
    ]
    marked = pd.Series([lab.get("previous") == "true" for lab in labels(rows)], index=rows.index)
    return rows.loc[marked == previous]


@pytest.mark.parametrize(
    "key",
    [
        (sc.NS, sc.POD_A, "migrate", False),
        (sc.NS, sc.POD_A, "envoy", False),
        (sc.NS, sc.POD_A, "app", True),
        (sc.NS, sc.POD_A, "app", False),
        (sc.NS, sc.POD_B, "app", False),
        (sc.NS, sc.POD_B, "envoy", False),
        (sc.NS, sc.POD_B, "debugger", False),
    ],
)
def test_every_container_log_is_exactly_the_window(
    collected: tuple[Path, Running], key: tuple[str, str, str, bool]
) -> None:
    bundle, _ = collected
    served = sc.served_in_window(key)
    rows = logs_of(bundle, key[1], key[2], key[3])
    assert len(rows) == len(served) > 0
    assert rows["time"].iloc[0] == utc(rfc3339(served[0][0]))
    assert rows["time"].iloc[-1] == utc(rfc3339(served[-1][0]))
    assert rows["message"].iloc[-1] == served[-1][1]
    assert set(rows["time_quality"]) == {"exact"}


def test_previous_instance_roles_and_app_clock_are_labelled(
    collected: tuple[Path, Running],
) -> None:
    bundle, _ = collected
    previous = logs_of(bundle, sc.POD_A, "app", previous=True)
    first = labels(previous.head(1))[0]
    assert first == {
        "container": "app",
        "container_role": "container",
        "image": sc.GOOD,
        "namespace": sc.NS,
        "node": "node-a",
        "pod": sc.POD_A,
        "previous": "true",
        "restarts": "1",
    }
    # the app's own stamp is 1.5 s behind the runtime's in this container
    skew = (previous["embedded_time"] - previous["time"]).dt.total_seconds().round(3)
    assert set(skew) == {-1.5}
    roles = {
        c: labels(logs_of(bundle, p, c).head(1))[0]["container_role"]
        for p, c in ((sc.POD_A, "migrate"), (sc.POD_A, "envoy"), (sc.POD_B, "debugger"))
    }
    assert roles == {"migrate": "init", "envoy": "sidecar", "debugger": "ephemeral"}
    assert "payments-0" not in " ".join(events_of(bundle, "kubernetes")["stream"])


def test_events_from_both_apis_are_expanded_once_each(collected: tuple[Path, Running]) -> None:
    bundle, _ = collected
    events = events_of(bundle, "kubernetes")
    k8s = events.loc[events["kind"] == "k8s_event"]
    probe = k8s.loc[k8s["summary"].str.contains("Readiness probe failed")]
    assert list(probe["time"]) == [utc("2026-02-17T14:41:00Z"), utc("2026-02-17T14:45:00Z")]
    assert [lab["occurrence"] for lab in labels(probe)] == ["first", "last"]
    assert probe["summary"].iloc[0].endswith("(first of ×5)")
    assert probe["actor"].iloc[0] == "kubelet"
    backoff = k8s.loc[k8s["summary"].str.contains("Back-off")]
    assert list(backoff["time"]) == [utc("2026-02-17T14:44:01Z"), utc("2026-02-17T14:50:30Z")]
    assert backoff["summary"].iloc[1].endswith("(×3 since 14:44:01, last)")
    assert "NodeHasDiskPressure" in " ".join(k8s["summary"])  # node events stay
    assert "Liveness probe" not in " ".join(k8s["summary"])  # payments-0: not selected
    assert set(k8s["severity"].loc[k8s["summary"].str.contains("Readiness")]) == {"warning"}


def test_rollout_and_rollback_are_named_with_images(collected: tuple[Path, Running]) -> None:
    bundle, _ = collected
    events = events_of(bundle, "kubernetes")
    ours = events.loc[(events["kind"] == "deploy") & events["actor"].eq("deployment-controller")]
    ours = ours.loc[~ours["summary"].str.startswith("Deployment ")]
    assert [
        (t.strftime("%H:%M:%S"), s) for t, s in zip(ours["time"], ours["summary"], strict=True)
    ] == [
        (
            "14:10:00",
            f"checkout-api rolled out revision 12 (image {sc.BAD} (was v2.3.3)): "
            "deploy v2.3.4 (CHG-1234)",
        ),
        ("14:12:00", "checkout-api rollout of revision 12 complete"),
        (
            "14:40:00",
            f"checkout-api rolled back to revision 11 (now revision 13; image {sc.GOOD} "
            "(was v2.3.4)): rollback: v2.3.4 returns 5xx",
        ),
        ("14:43:00", "checkout-api rollout of revision 13 complete"),
    ]
    rollback = labels(ours.iloc[[2]])[0]
    assert rollback["rollback"] == "true" and rollback["rolled_back_to"] == "11"
    assert rollback["was_images"] == f"app={sc.BAD},envoy={sc.ENVOY}"


def test_pod_lives_oomkilled_and_the_gone_pod(collected: tuple[Path, Running]) -> None:
    bundle, _ = collected
    events = events_of(bundle, "kubernetes")
    oom = events.loc[events["summary"].str.contains("OOMKilled")]
    assert list(oom["time"]) == [utc("2026-02-17T14:52:10Z")]
    assert oom["summary"].iloc[0] == (
        f"Container app of pod {sc.POD_A} terminated: OOMKilled (exit code 137) and was restarted"
    )
    found = labels(oom)[0]
    assert (found["exit_code"], found["node"], found["kind"], found["reason"]) == (
        "137",
        "node-a",
        "Pod",
        "OOMKilled",
    )
    assert oom["ref"].iloc[0].endswith("#/items/0/status/containerStatuses/0/lastState/terminated")
    gaps = events.loc[events["kind"] == "gap"]
    assert list(gaps["summary"]) == [
        f"Pod {sc.GONE} ended before collection (last event Killing at 14:42:30): its logs are gone"
    ]


def test_manifest_raw_streams_and_requests(collected: tuple[Path, Running]) -> None:
    bundle, double = collected
    source = read_manifest(bundle)["sources"]["kubernetes"]
    assert source["status"] == "ok" and source["warnings"] == []
    counts = source["counts"]
    assert (counts["pods"], counts["logs"], counts["logs_previous"], counts["gaps"]) == (2, 7, 1, 1)
    assert counts["log_lines"] == sum(
        len(sc.served_in_window(k)) for k in sc.log_lines() if k[1] != "payments-0"
    )
    raw = bundle / "raw/kubernetes/logs" / sc.NS / sc.POD_B / "envoy.log.gz"
    lines = gzip.decompress(raw.read_bytes()).decode().splitlines()
    assert lines[-1].startswith("2026-02-17T15:29:") and len(lines) == len(
        sc.served_in_window((sc.NS, sc.POD_B, "envoy", False))
    )
    for pod, container, previous in ((sc.POD_B, "envoy", False), (sc.POD_A, "app", True)):
        rows = logs_of(bundle, pod, container, previous)
        for ref, message in zip(rows["ref"], rows["message"], strict=True):
            file, _, line = ref.partition("#L")
            stored = gzip.decompress((bundle / file).read_bytes()).decode().splitlines()
            assert stored[int(line) - 1].endswith(" " + message), ref  # every ref is its line
    asked = {q for _, path, q in double.cluster.seen(f"/pods/{sc.POD_A}/log$")}

    assert (
        "container=app&timestamps=true&sinceTime=2026-02-17T14%3A00%3A00Z"
        "&limitBytes=1073741824&previous=true"
    ) in asked


def test_faults_403_429_410_vanished_pod_and_cap(tmp_path: Path) -> None:
    cluster = sc.cluster()
    cluster.forbidden.add(("list", "pods", "payments"))
    cluster.throttle[rf"/namespaces/{sc.NS}/pods$"] = [1, 1]
    cluster.expire_continues = 1
    cluster.vanished.add((sc.NS, sc.POD_B))
    double = serve(cluster)
    try:
        config = write_config(tmp_path, double, limit_bytes=2000)
        args = ["collect", "-c", str(config), *WINDOW, "-n", sc.NS, "-n", "payments"]
        result = cli([*args, "-l", "app=checkout-api", "-o", str(tmp_path / "b")], exit_code=3)
    finally:
        double.stop()
    source = read_manifest(tmp_path / "b")["sources"]["kubernetes"]
    assert source["status"] == "partial"
    records = source["warnings"]
    source["warnings"] = [warning_text(w) for w in records]
    cap = next(w for w in records if "limit_bytes" in w["message"])
    assert (cap["kind"], cap["ref"]) == (
        "gap",
        f"raw/kubernetes/logs/{sc.NS}/{sc.POD_A}/envoy.log.gz",
    )
    refused = (
        "RBAC refused list pods in namespace 'payments' for context 'double' (403 Forbidden: "
        'pods is forbidden: User "system:serviceaccount:incident:collector" cannot list '
        'resource "pods" in API group "" in the namespace "payments")'
    )
    assert refused in source["warnings"] and refused in result.output
    pods = [t for t, path, _ in cluster.requests if path == f"/api/v1/namespaces/{sc.NS}/pods"]
    assert len(pods) == 2 and pods[1] - pods[0] >= 1.0  # Retry-After: 1 honoured
    assert source["counts"]["retries"] == 1
    assert source["counts"]["list_restarts"] == 1
    assert any("continue token expired (410)" in w for w in source["warnings"])
    events = events_of(tmp_path / "b", "kubernetes")
    k8s = events.loc[events["kind"] == "k8s_event"]
    assert len(k8s.loc[k8s["summary"].str.contains("Readiness")]) == 2  # nothing lost by the 410
    vanished = events.loc[events["summary"].str.contains("vanished during collection")]
    assert sorted(json.loads(x)["container"] for x in vanished["labels"]) == [
        "app",
        "debugger",
        "envoy",
    ]
    capped = [w for w in source["warnings"] if "limit_bytes = 2000" in w]
    assert len(capped) == source["counts"]["logs_capped"] == 3
    assert capped[2] == (
        f"log of {sc.NS}/{sc.POD_A}/app (previous) was cut at limit_bytes = 2000: "
        "lines after it are missing"
    )


def test_refused_credentials_fail_the_source_with_the_context_named(tmp_path: Path) -> None:
    cluster = sc.cluster()
    cluster.token = "the-right-one"
    double = serve(cluster)
    try:
        config = write_config(tmp_path, double)
        result = cli(["collect", "-c", str(config), *WINDOW, "-o", str(tmp_path / "b")], 3)
    finally:
        double.stop()
    source = read_manifest(tmp_path / "b")["sources"]["kubernetes"]
    assert source["status"] == "failed"
    assert source["error"] == (
        "the API server refused the credentials of context 'double' (401 Unauthorized) for GET "
        "/version; renew them (kubectl --context double get pods shows the same)"
    )
    assert "double-token" not in result.output + json.dumps(source)


def test_example_config_documents_every_kubernetes_key() -> None:
    import dataclasses

    from incident_timeline.collector.kubernetes.settings import KubernetesSettings
    from tests.support import ROOT

    text = (ROOT / "config.example.toml").read_text()
    for field in dataclasses.fields(KubernetesSettings):
        assert f"# {field.name} = " in text, field.name
    block = "\n".join(
        line.removeprefix("# ")
        for line in text.split("# [kubernetes]", 1)[1].split("\n\n", 1)[0].splitlines()[1:]
    )
    import tomllib

    from incident_timeline.collector.kubernetes.settings import settings_from_table

    settings = settings_from_table(tomllib.loads(block), ROOT / "config.example.toml")
    assert settings == KubernetesSettings(
        kubeconfig="~/.kube/config",
        context="prod",
        namespaces=["checkout"],
        selector="app=checkout-api",
        field_selector="status.phase=Running",
        budget=900.0,  # the example's value; unset, [incident] source_budget applies
    )


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ("namespaces = ['Checkout']", "kubernetes.namespaces: 'Checkout' is not a namespace name"),
        ("all_namespaces = true\nnamespaces = ['a']", "kubernetes.all_namespaces = true and"),
        ("selector = 'app in (a'", "kubernetes.selector: label selector 'app in (a'"),
        ("max_log_requests = 0", "kubernetes.max_log_requests must be at least 1"),
        ("contxt = 'prod'", "unknown key kubernetes.contxt (did you mean 'context'?)"),
    ],
)
def test_bad_kubernetes_settings_are_one_line_errors(
    tmp_path: Path, table: str, message: str
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f"[kubernetes]\n{table}\n")
    result = cli(["collect", "-c", str(config), "--last", "1h", "-o", str(tmp_path / "b")], 1)
    assert message in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_flags_override_the_table_and_a_missing_context_is_named(tmp_path: Path) -> None:
    double = serve(sc.cluster())
    try:
        config = write_config(tmp_path, double, namespaces=["payments"])
        args = ["collect", "-c", str(config), *WINDOW, "--context", "staging", "-o"]
        result = cli([*args, str(tmp_path / "b")], 3)  # the source fails; the bundle is written
        assert "no context 'staging' in kubeconfig" in result.output
        assert "it has: double" in result.output
        both = cli([*args[:-3], "-A", "-n", "x", "-o", str(tmp_path / "c")], 1)
        assert "-A/--all-namespaces and -n/--namespace cannot be used together" in both.output
        cli([*args[:-3], "-A", "-l", "app=payments", "-o", str(tmp_path / "d")])
    finally:
        double.stop()
    manifest = read_manifest(tmp_path / "d")
    assert manifest["config"]["kubernetes"]["all_namespaces"] is True
    assert manifest["config"]["kubernetes"]["selector"] == "app=payments"
    streams = set(events_of(tmp_path / "d", "kubernetes")["stream"])
    assert f"{sc.NS}/payments-0/db" in streams
    assert not any(sc.POD_A in s for s in streams)
    assert (tmp_path / "d/raw/kubernetes/pods/_all.0.json").exists()
    events = events_of(tmp_path / "d", "kubernetes")
    sts = events.loc[events["stream"] == f"{sc.NS}/statefulset/payments"]
    assert list(sts["summary"]) == [
        "payments rolled out (revision 2; image postgres:16.3 (was 16.2))"
    ]
    assert list(sts["time"]) == [utc("2026-02-17T14:20:00Z")]

"""One incident in a cluster, served by the Kubernetes API double: checkout-api is rolled out
to v2.3.4 (revision 12) at 14:10, rolled back to revision 11 (v2.3.3, now revision 13) at
14:40; one pod of the bad revision is gone; an app container was OOMKilled at 14:52:10 and
restarted; a readiness probe failed five times. The window is 14:00–15:30 UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.doubles.kubernetes import (
    Cluster,
    LogLine,
    container_status,
    iso,
    meta,
    ns_of,
    owner_ref,
    pod,
    template,
    terminated,
    uid,
)

NS = "checkout"
SINCE = datetime(2026, 2, 17, 14, 0, tzinfo=UTC)
UNTIL = datetime(2026, 2, 17, 15, 30, tzinfo=UTC)
REPO = "registry.example.com/checkout-api"
GOOD, BAD = f"{REPO}:v2.3.3", f"{REPO}:v2.3.4"
ENVOY = "envoyproxy/envoy:v1.31.0"
RS_GOOD, RS_BAD = "checkout-api-5b7f9c8d4", "checkout-api-7c9d6f5b8"
POD_A, POD_B = f"{RS_GOOD}-ab2cd", f"{RS_GOOD}-xk9mz"
GONE = f"{RS_BAD}-q7w4p"
LABELS = {"app": "checkout-api"}


def at(hh: int, mm: int, ss: float = 0) -> datetime:
    """A time on the incident's day."""
    return datetime(2026, 2, 17, hh, mm, tzinfo=UTC) + timedelta(seconds=ss)


def lines(
    start: datetime, end: datetime, every: float, text: str, skew: float = 0.0
) -> list[LogLine]:
    """One line every ``every`` seconds in [start, end), with the app's own stamp ``skew``
    seconds off the runtime's."""
    out, now, n = [], start, 0
    while now < end:
        app = (now + timedelta(seconds=skew)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        out.append((ns_of(now) + 123_456, f"{app} INFO {text} n={n}"))
        now += timedelta(seconds=every)
        n += 1
    return out


def event(
    name: str,
    kind: str,
    obj: str,
    reason: str,
    message: str,
    first: datetime,
    *,
    last: datetime | None = None,
    count: int = 1,
    warning: bool = False,
    component: str = "kubelet",
    host: str | None = None,
) -> dict[str, Any]:
    """A core/v1 Event as an old-style recorder writes it (count, first/last timestamps)."""
    involved = {"kind": kind, "namespace": NS, "name": obj, "apiVersion": "v1"}
    source: dict[str, Any] = {"component": component}
    if host:
        source["host"] = host
    return {
        "metadata": meta(name, NS, first),
        "involvedObject": involved,
        "reason": reason,
        "message": message,
        "source": source,
        "firstTimestamp": iso(first),
        "lastTimestamp": iso(last or first),
        "count": count,
        "type": "Warning" if warning else "Normal",
        "reportingComponent": component,
        "reportingInstance": host or "",
    }


def as_events_v1(core: dict[str, Any]) -> dict[str, Any]:
    """The same stored event as events.k8s.io/v1 serves it (renamed fields)."""
    out: dict[str, Any] = {
        "metadata": core["metadata"],
        "eventTime": core.get("eventTime"),
        "reason": core["reason"],
        "note": core["message"],
        "regarding": core["involvedObject"],
        "type": core["type"],
        "reportingController": core.get("reportingComponent") or "",
        "reportingInstance": core.get("reportingInstance") or "",
        "action": core.get("action") or core["reason"],
    }
    if core.get("series"):
        out["series"] = core["series"]
    else:
        out["eventTime"] = core["firstTimestamp"].replace("Z", ".000000Z")
        out["deprecatedSource"] = core["source"]
        out["deprecatedFirstTimestamp"] = core["firstTimestamp"]
        out["deprecatedLastTimestamp"] = core["lastTimestamp"]
        out["deprecatedCount"] = core["count"]
    return out


def series_event() -> dict[str, Any]:
    """A new-style event (events.k8s.io recorder): eventTime and series, no count."""
    first = at(14, 44, 1)
    return {
        "metadata": meta("checkout-api.series1", NS, first),
        "involvedObject": {"kind": "Pod", "namespace": NS, "name": POD_A, "apiVersion": "v1"},
        "reason": "BackOff",
        "message": "Back-off restarting failed container app in pod " + POD_A,
        "source": {},
        "type": "Warning",
        "eventTime": first.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "series": {
            "count": 3,
            "lastObservedTime": at(14, 50, 30).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        },
        "action": "Restarting",
        "reportingComponent": "kubelet",
        "reportingInstance": "node-a",
    }


def core_events() -> list[dict[str, Any]]:
    """The core/v1 view of every event, oldest first."""
    dep = "checkout-api"
    return [
        event(
            "e0",
            "Pod",
            POD_B,
            "Pulled",
            f'Container image "{ENVOY}" already present on machine',
            at(13, 30),
            host="node-b",
        ),
        event(
            "e1",
            "Deployment",
            dep,
            "ScalingReplicaSet",
            f"Scaled up replica set {RS_BAD} from 0 to 1",
            at(14, 10),
            component="deployment-controller",
        ),
        event(
            "e2",
            "Pod",
            GONE,
            "Scheduled",
            f"Successfully assigned {NS}/{GONE} to node-c",
            at(14, 10, 2),
            component="default-scheduler",
        ),
        event("e3", "Pod", GONE, "Started", "Started container app", at(14, 10, 9), host="node-c"),
        event(
            "e4",
            "Deployment",
            dep,
            "ScalingReplicaSet",
            f"Scaled down replica set {RS_GOOD} from 1 to 0",
            at(14, 12),
            component="deployment-controller",
        ),
        event(
            "e5",
            "Deployment",
            dep,
            "ScalingReplicaSet",
            f"Scaled up replica set {RS_GOOD} from 0 to 2",
            at(14, 40),
            component="deployment-controller",
        ),
        event(
            "e6",
            "Pod",
            POD_A,
            "Unhealthy",
            "Readiness probe failed: HTTP probe failed with statuscode: 503",
            at(14, 41),
            last=at(14, 45),
            count=5,
            warning=True,
            host="node-a",
        ),
        event(
            "e7", "Pod", GONE, "Killing", "Stopping container app", at(14, 42, 30), host="node-c"
        ),
        event(
            "e8",
            "Deployment",
            dep,
            "ScalingReplicaSet",
            f"Scaled down replica set {RS_BAD} from 1 to 0",
            at(14, 43),
            component="deployment-controller",
        ),
        series_event(),
        event(
            "e9",
            "Pod",
            "payments-0",
            "Unhealthy",
            "Liveness probe failed",
            at(14, 20),
            warning=True,
            host="node-b",
        ),
        event(
            "e10",
            "Node",
            "node-a",
            "NodeHasDiskPressure",
            "Node node-a status is now: NodeHasDiskPressure",
            at(14, 30),
            warning=True,
        ),
    ]


def workloads() -> dict[str, list[dict[str, Any]]]:
    """The Deployment and its two ReplicaSets; a StatefulSet with two revisions."""
    dep_meta = meta("checkout-api", NS, at(10, 0) - timedelta(days=30), labels=LABELS)
    dep_meta["annotations"] = {"deployment.kubernetes.io/revision": "13"}
    owner = owner_ref("Deployment", "checkout-api", dep_meta["uid"])
    deployment = {
        "metadata": dep_meta,
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": LABELS},
            "template": template(LABELS, [("app", GOOD), ("envoy", ENVOY)]),
        },
        "status": {
            "replicas": 2,
            "readyReplicas": 2,
            "updatedReplicas": 2,
            "availableReplicas": 2,
            "observedGeneration": 13,
            "conditions": [
                {
                    "type": "Progressing",
                    "status": "True",
                    "reason": "NewReplicaSetAvailable",
                    "message": f'ReplicaSet "{RS_GOOD}" has successfully progressed.',
                    "lastUpdateTime": iso(at(14, 43, 30)),
                    "lastTransitionTime": iso(at(10, 0) - timedelta(days=30)),
                }
            ],
        },
    }

    def rs(
        name: str, image: str, created: datetime, revision: str, replicas: int, **notes: str
    ) -> dict[str, Any]:
        m = meta(name, NS, created, labels={**LABELS, "pod-template-hash": name.rsplit("-", 1)[1]})
        m["ownerReferences"] = [owner]
        m["annotations"] = {"deployment.kubernetes.io/revision": revision, **notes}
        return {
            "metadata": m,
            "spec": {
                "replicas": replicas,
                "selector": {
                    "matchLabels": {**LABELS, "pod-template-hash": name.rsplit("-", 1)[1]}
                },
                "template": template(
                    {**LABELS, "pod-template-hash": name.rsplit("-", 1)[1]},
                    [("app", image), ("envoy", ENVOY)],
                ),
            },
            "status": {"replicas": replicas},
        }

    good = rs(
        RS_GOOD,
        GOOD,
        at(9, 0) - timedelta(days=7),
        "13",
        2,
        **{
            "deployment.kubernetes.io/revision-history": "11",
            "kubernetes.io/change-cause": "rollback: v2.3.4 returns 5xx",
        },
    )
    bad = rs(
        RS_BAD,
        BAD,
        at(14, 10),
        "12",
        0,
        **{"kubernetes.io/change-cause": "deploy v2.3.4 (CHG-1234)"},
    )
    sts_meta = meta("payments", NS, at(8, 0), labels={"app": "payments"})
    sts = {
        "metadata": sts_meta,
        "spec": {
            "selector": {"matchLabels": {"app": "payments"}},
            "serviceName": "payments",
            "template": template({"app": "payments"}, [("db", "postgres:16.3")]),
        },
        "status": {"replicas": 1},
    }
    sts_owner = owner_ref("StatefulSet", "payments", sts_meta["uid"])

    def revision(n: int, image: str, created: datetime) -> dict[str, Any]:
        m = meta(f"payments-{n}a7b", NS, created)
        m["ownerReferences"] = [sts_owner]
        return {
            "metadata": m,
            "revision": n,
            "data": {
                "spec": {
                    "template": {
                        **template({"app": "payments"}, [("db", image)]),
                        "$patch": "replace",
                    }
                }
            },
        }

    return {
        "deployments": [deployment],
        "replicasets": [good, bad],
        "statefulsets": [sts],
        "controllerrevisions": [
            revision(1, "postgres:16.2", at(8, 0)),
            revision(2, "postgres:16.3", at(14, 20)),
        ],
        "daemonsets": [],
    }


def pods() -> list[dict[str, Any]]:
    """The two pods left of checkout-api (revision 13) and payments-0."""
    owner = owner_ref("ReplicaSet", RS_GOOD, uid(NS, RS_GOOD))
    sidecar_init = [("migrate", GOOD), ("envoy", ENVOY)]
    oom = terminated("OOMKilled", 137, at(14, 40, 5), at(14, 52, 10))
    a = pod(
        POD_A,
        NS,
        "node-a",
        at(14, 40),
        [("app", GOOD)],
        labels={**LABELS, "pod-template-hash": "5b7f9c8d4"},
        owner=owner,
        init=sidecar_init,
        statuses=[container_status("app", GOOD, at(14, 52, 12), restarts=1, last=oom)],
        init_statuses=[
            {
                **container_status("migrate", GOOD, at(14, 40, 1), ready=False),
                "state": {"terminated": terminated("Completed", 0, at(14, 40, 1), at(14, 40, 3))},
            },
            container_status("envoy", ENVOY, at(14, 40, 4)),
        ],
    )
    a["spec"]["initContainers"][1]["restartPolicy"] = "Always"  # a sidecar (KEP-753)
    b = pod(
        POD_B,
        NS,
        "node-b",
        at(14, 40),
        [("app", GOOD), ("envoy", ENVOY)],
        labels={**LABELS, "pod-template-hash": "5b7f9c8d4"},
        owner=owner,
    )
    b["spec"]["ephemeralContainers"] = [
        {"name": "debugger", "image": "busybox:1.36", "targetContainerName": "app"}
    ]
    b["status"]["ephemeralContainerStatuses"] = [
        container_status("debugger", "busybox:1.36", at(15, 0))
    ]
    payments = pod(
        "payments-0", NS, "node-b", at(8, 0), [("db", "postgres:16.3")], labels={"app": "payments"}
    )
    return [a, b, payments]


def log_lines() -> dict[tuple[str, str, str, bool], list[LogLine]]:
    """Every container's log; some lines before the window and after it."""
    return {
        (NS, POD_A, "migrate", False): lines(at(14, 40, 1), at(14, 40, 3), 0.5, "migration step"),
        (NS, POD_A, "envoy", False): lines(at(14, 40, 4), at(15, 31), 20, "envoy access"),
        (NS, POD_A, "app", True): lines(
            at(14, 40, 5), at(14, 52, 10), 3, "request before oom", skew=-1.5
        ),
        (NS, POD_A, "app", False): lines(at(14, 52, 12), at(15, 32), 7, "request ok"),
        (NS, POD_B, "app", False): lines(at(13, 58), at(15, 31), 11, "request ok", skew=0.25),
        (NS, POD_B, "envoy", False): lines(at(13, 59), at(15, 30, 30), 30, "envoy access"),
        (NS, POD_B, "debugger", False): lines(at(15, 0), at(15, 0, 5), 1, "debug shell"),
        (NS, "payments-0", "db", False): lines(at(13, 0), at(15, 40), 60, "checkpoint"),
    }


def cluster() -> Cluster:
    """The incident's cluster."""
    c = Cluster()
    c.add("pods", *pods())
    core = core_events()
    c.add("events", *core)
    c.add("events.k8s.io", *[as_events_v1(e) for e in core])
    for resource, items in workloads().items():
        c.add(resource, *items)
    c.logs.update(log_lines())
    return c


def served_in_window(key: tuple[str, str, str, bool]) -> list[LogLine]:
    """The lines of one log inside the window (what the collector must keep)."""
    return [line for line in log_lines()[key] if ns_of(SINCE) <= line[0] < ns_of(UNTIL)]

"""Hand-made object exports, for users without API access at collection time:
``kubectl get deploy,rs,sts,ds,controllerrevisions -o json`` gives rollouts (revisions, images
was and now, change-cause, rollbacks) and ``kubectl get pods -o json`` gives pod lives (node,
start, every remembered termination such as ``OOMKilled`` exit 137), the same rows the live
collector makes.

kubectl prints one object, or a ``List`` whose items each carry their ``kind``
(``kubectl/pkg/cmd/get/get.go`` wraps several results in a ``v1 List``). An export has no
ScalingReplicaSet events, so a rollback's start is not known: it is placed at the Deployment's
``Progressing`` update (when the rollout completed) and marked ``time_quality = inferred``.
"""

from __future__ import annotations

from typing import Any

from incident_timeline.collector.errors import ExportFormatError
from incident_timeline.collector.formats import Context, Parsed, Sample, rows_to_events
from incident_timeline.collector.kubernetes.pods import pod_rows
from incident_timeline.collector.kubernetes.rollouts import rollout_rows
from incident_timeline.collector.kubernetes.rows import as_rows
from incident_timeline.timeline import schema

WORKLOADS = {
    "Deployment": "deployments",
    "ReplicaSet": "replicasets",
    "StatefulSet": "statefulsets",
    "DaemonSet": "daemonsets",
    "ControllerRevision": "controllerrevisions",
}


def _items(data: Any, what: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]]
    if isinstance(data, dict) and isinstance(data.get("items"), list):
        items = data["items"]
    elif isinstance(data, dict) and "kind" in data:
        items = [data]
    else:
        raise ExportFormatError(f"not {what}: expected a kubectl -o json object or List")
    if not all(isinstance(i, dict) for i in items):
        raise ExportFormatError(f"not {what}: every item must be an object")
    return items


def _kinds(sample: Sample) -> set[str]:
    doc = sample.document
    if not isinstance(doc, dict):
        return set()
    items = doc["items"] if isinstance(doc.get("items"), list) else [doc]
    return {str(i.get("kind")) for i in items if isinstance(i, dict)}


def looks_like_workloads(sample: Sample) -> bool:
    """A kubectl export of Deployments, ReplicaSets, StatefulSets, DaemonSets or revisions."""
    kinds = _kinds(sample)
    return bool(kinds) and kinds <= set(WORKLOADS)


def looks_like_pods(sample: Sample) -> bool:
    """A kubectl export of Pods."""
    return _kinds(sample) == {"Pod"}


def parse_workloads(data: Any, ctx: Context) -> Parsed:
    """Rollout events from ``kubectl get deploy,rs,sts,... -o json``."""
    items = _items(data, "kubectl get deploy,rs,sts -o json output")
    pointer = "/items/{}" if isinstance(data, dict) and "items" in data else ""
    objects: dict[str, list[tuple[dict[str, Any], tuple[str, str]]]] = {}
    for i, item in enumerate(items):
        key = WORKLOADS.get(str(item.get("kind")))
        if key:
            objects.setdefault(key, []).append((item, (ctx.ref, pointer.format(i))))
    rows = as_rows(rollout_rows(objects, [], inferred_rollbacks=True))
    events = rows_to_events(rows, ctx) if rows else schema.empty_events()
    return Parsed(events, None, {"rollout_events": len(events)})


def parse_pods(data: Any, ctx: Context) -> Parsed:
    """Pod-life events from ``kubectl get pods -o json``."""
    items = _items(data, "kubectl get pods -o json output")
    rows = pod_rows(items, ctx)
    if not (isinstance(data, dict) and "items" in data):
        for r in rows:
            r["pointer"] = r["pointer"].removeprefix("/items/0")
    events = rows_to_events(rows, ctx) if rows else schema.empty_events()
    return Parsed(events, None, {"pod_life_events": len(events)})

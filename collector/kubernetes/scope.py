"""What a label selector selects beyond pods, and pods that are gone.

The API filters pods by ``labelSelector``; events and workloads carry other labels, so the
selection is extended here: the workloads whose pod template matches the selector or that own a
selected pod, and the events about those pods, workloads and their pods that no longer exist
(named ``<replicaset>-<suffix>`` or ``<statefulset>-<n>``), plus Node events (a node's trouble
is every pod's trouble). Without a selector everything in the namespaces is kept.

A pod the events name but the pod list no longer has ended before collection: its logs are
gone (the kubelet deletes a pod's logs with the pod), which becomes a ``gap`` event naming it.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pandas as pd

from incident_timeline.collector.kubernetes.selectors import matches
from incident_timeline.timeline.timestamps import parse_iso
from incident_timeline.timeline.window import Window

Item = tuple[dict[str, Any], tuple[str, str]]
WORKLOAD_KINDS = {
    "deployments": "Deployment",
    "replicasets": "ReplicaSet",
    "statefulsets": "StatefulSet",
    "daemonsets": "DaemonSet",
}


def _meta(item: dict[str, Any]) -> dict[str, Any]:
    return item.get("metadata") or {}


def _template_labels(item: dict[str, Any]) -> dict[str, str]:
    return (((item.get("spec") or {}).get("template") or {}).get("metadata") or {}).get(
        "labels"
    ) or {}


@dataclasses.dataclass
class Scope:
    """The selected pods and workloads (``None``: no selector, everything)."""

    pods: set[tuple[str, str]] | None
    workloads: set[tuple[str, str, str]] | None  # (kind, namespace, name)

    @classmethod
    def of(cls, selector: str | None, pods: list[Item], apps: dict[str, list[Item]]) -> Scope:
        """The scope of ``selector`` given the listed pods and workloads."""
        if not selector:
            return cls(None, None)
        pod_keys = {(_meta(p).get("namespace", ""), _meta(p).get("name", "")) for p, _ in pods}
        owners = {
            (r.get("kind"), _meta(p).get("namespace", ""), r.get("name"))
            for p, _ in pods
            for r in _meta(p).get("ownerReferences") or []
        }
        chosen: set[tuple[str, str, str]] = set()
        for key in ("replicasets", "statefulsets", "daemonsets", "deployments"):
            kind = WORKLOAD_KINDS[key]
            for item, _ in apps.get(key, []):
                ident = (kind, _meta(item).get("namespace", ""), _meta(item).get("name", ""))
                if ident in owners or matches(selector, _template_labels(item)):
                    chosen.add(ident)
            if key == "replicasets":  # a Deployment owning a chosen ReplicaSet is chosen
                for item, _ in apps.get(key, []):
                    ident = (
                        "ReplicaSet",
                        _meta(item).get("namespace", ""),
                        _meta(item).get("name", ""),
                    )
                    if ident in chosen:
                        for r in _meta(item).get("ownerReferences") or []:
                            chosen.add((r.get("kind"), ident[1], r.get("name")))
        return cls(pod_keys, chosen)

    def wants_workload(self, item: dict[str, Any], resource: str) -> bool:
        """Whether a listed workload belongs to the selection (revisions: by their owner)."""
        if self.workloads is None or resource not in WORKLOAD_KINDS:
            return True
        ident = (
            WORKLOAD_KINDS[resource],
            _meta(item).get("namespace", ""),
            _meta(item).get("name"),
        )
        return ident in self.workloads

    def wants_event(self, item: dict[str, Any]) -> bool:
        """Whether an event is about the selection (or a Node)."""
        if self.pods is None or self.workloads is None:
            return True
        obj = item.get("involvedObject") or item.get("regarding") or {}
        kind, ns, name = obj.get("kind"), obj.get("namespace") or "", obj.get("name") or ""
        if kind == "Node":
            return True
        if kind == "Pod":
            return (ns, name) in self.pods or any(
                w_ns == ns and name.startswith(f"{w_name}-")
                for w_kind, w_ns, w_name in self.workloads
                if w_kind in ("ReplicaSet", "StatefulSet", "DaemonSet")
            )
        return any(w_ns == ns and w_name == name for _, w_ns, w_name in self.workloads)


def gone_pods(items: list[Item], pods: list[Item], window: Window) -> list[dict[str, Any]]:
    """``gap`` rows for pods named by events in the window that no longer exist."""
    present = {(_meta(p).get("namespace", ""), _meta(p).get("name", "")) for p, _ in pods}
    seen: dict[tuple[str, str], list[tuple[pd.Timestamp, str, str, tuple[str, str]]]] = {}
    for item, ref in items:
        obj = item.get("involvedObject") or item.get("regarding") or {}
        if obj.get("kind") != "Pod":
            continue
        key = (obj.get("namespace") or _meta(item).get("namespace", ""), obj.get("name") or "")
        if key in present:
            continue
        stamp = (
            (item.get("series") or {}).get("lastObservedTime")
            or item.get("lastTimestamp")
            or item.get("deprecatedLastTimestamp")
            or item.get("eventTime")
            or item.get("firstTimestamp")
        )
        when = parse_iso(pd.Series([stamp or ""], dtype="string"))["time"].iloc[0]
        if when is pd.NaT or when != when:
            continue
        text = str(item.get("message") or item.get("note") or "")
        seen.setdefault(key, []).append((when, str(item.get("reason") or ""), text, ref))
    rows = []
    start, end = pd.Timestamp(window.since), pd.Timestamp(window.until)
    for (ns, name), found in sorted(seen.items()):
        found.sort(key=lambda f: f[0])
        last = found[-1]
        if last[0] < start or found[0][0] >= end:
            continue
        reasons = sorted({f[1] for f in found if f[1]})
        rows.append(
            {
                "time_raw": min(last[0], end - pd.Timedelta(microseconds=1)).isoformat(),
                "source": "kubernetes",
                "stream": f"{ns}/pod/{name}",
                "kind": "gap",
                "severity": "warning",
                "actor": None,
                "summary": (
                    f"Pod {name} ended before collection (last event {last[1]} at "
                    f"{last[0].strftime('%H:%M:%S')}): its logs are gone"
                ),
                "message": (
                    f"Pod {ns}/{name} appears in {len(found)} events ({', '.join(reasons)}) but "
                    "no longer exists; the kubelet deleted its logs with it."
                ),
                "labels": {
                    "namespace": ns,
                    "pod": name,
                    "check": "pod_gone",
                    "reasons": ",".join(reasons),
                },
                "file": last[3][0],
                "pointer": last[3][1],
            }
        )
    return rows

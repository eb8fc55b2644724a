"""Rollouts as a person would write them, from Deployments' ReplicaSets and StatefulSets' and
DaemonSets' ControllerRevisions: one ``deploy`` event when a revision starts (images, was and
now; ``kubernetes.io/change-cause``) and one when it completes.

How the controllers record history, and so the rules here:

- A Deployment's ReplicaSet carries ``deployment.kubernetes.io/revision``; rolling back to an
  old template re-uses that template's ReplicaSet, gives it the next revision number and moves
  the old number to ``deployment.kubernetes.io/revision-history``
  (``kubernetes/kubernetes:pkg/controller/deployment/sync.go``, ``util/deployment_util.go``
  SetNewReplicaSetAnnotations). So a revision whose ReplicaSet held an older one is a
  **rollback** to that older revision. ``kubectl rollout history`` reads the same annotations
  (``kubectl/pkg/polymorphichelpers/history.go``).
- A new revision starts when its ReplicaSet is created; a re-used one when the controller first
  scales it up afterwards (the ``ScalingReplicaSet`` event), else at the Deployment's
  ``DeploymentRollback`` event. It completes when the previous ReplicaSet is scaled down to 0,
  or, for the current revision, at the ``Progressing`` condition's ``NewReplicaSetAvailable``.
- A ControllerRevision's ``revision`` orders a StatefulSet's or DaemonSet's templates; its
  ``data`` holds the template (``pkg/controller/history/controller_history.go``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import pandas as pd

from incident_timeline.timeline.timestamps import parse_iso

if TYPE_CHECKING:
    from incident_timeline.collector.kubernetes.events import Scaling

Item = tuple[dict[str, Any], tuple[str, str]]
REVISION = "deployment.kubernetes.io/revision"
HISTORY = "deployment.kubernetes.io/revision-history"
CAUSE = "kubernetes.io/change-cause"


def _time(stamp: Any) -> pd.Timestamp | None:
    if not stamp:
        return None
    value = parse_iso(pd.Series([str(stamp)], dtype="string"))["time"].iloc[0]
    return None if value is pd.NaT or value != value else value


def images(template: dict[str, Any]) -> dict[str, str]:
    """Container name -> image of a pod template."""
    spec = (template or {}).get("spec") or {}
    return {
        str(c.get("name")): str(c.get("image"))
        for c in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]
    }


def change_text(was: dict[str, str], now: dict[str, str]) -> str:
    """``image registry/app:v2 (was v1)`` for each container whose image changed."""
    parts = []
    for name, image in now.items():
        old = was.get(name)
        if old == image:
            continue
        if old is None:
            parts.append(f"image {image} (new container {name})")
            continue
        repo, _, _ = image.rpartition(":")
        old_repo, _, old_tag = old.rpartition(":")
        shown = old_tag if repo and repo == old_repo else old
        parts.append(f"image {image} (was {shown})")
    return "; ".join(parts) or "same images (pod template changed)"


def _owned(items: Iterable[Item], owner: dict[str, Any]) -> list[Item]:
    meta = owner.get("metadata") or {}
    out = []
    for item, ref in items:
        m = item.get("metadata") or {}
        refs = m.get("ownerReferences") or []
        if m.get("namespace") == meta.get("namespace") and any(
            r.get("uid") == meta.get("uid") or r.get("name") == meta.get("name") for r in refs
        ):
            out.append((item, ref))
    return out


def _row(
    owner: dict[str, Any], ref: tuple[str, str], when: pd.Timestamp, summary: str, **labels: Any
) -> dict[str, Any]:
    meta = owner.get("metadata") or {}
    kind = owner.get("kind") or labels.pop("kind", "Deployment")
    name, ns = meta.get("name", "?"), meta.get("namespace", "")
    return {
        "time_raw": when.isoformat().replace("+00:00", "Z"),
        "source": "kubernetes",
        "stream": f"{ns}/{kind.lower()}/{name}",
        "kind": "deploy",
        "severity": "warning" if labels.get("rollback") else "info",
        "actor": f"{kind.lower()}-controller",
        "summary": summary,
        "message": summary,
        "labels": {"namespace": ns, "kind": kind, "name": name, **labels},
        "file": ref[0],
        "pointer": ref[1],
    }


def deployment_rows(
    deployment: Item, replicasets: list[Item], scaling: list[Scaling], inferred: bool = False
) -> list[dict[str, Any]]:
    """Rollout start and completion rows of one Deployment, every revision still known.
    ``inferred``: without ScalingReplicaSet events (an export), place the current revision's
    rollback at its completion, marked ``inferred``."""
    dep, _dep_ref = deployment
    dep.setdefault("kind", "Deployment")
    owned = _owned(replicasets, dep)
    revisions: list[tuple[int, Item, int | None]] = []  # (revision, rs, earlier revision it held)
    for item, ref in owned:
        notes = (item.get("metadata") or {}).get("annotations") or {}
        if not str(notes.get(REVISION, "")).isdigit():
            continue
        held = sorted(int(h) for h in str(notes.get(HISTORY, "")).split(",") if h.isdigit())
        revisions.append((int(notes[REVISION]), (item, ref), held[-1] if held else None))
        revisions += [(h, (item, ref), None) for h in held]
    revisions.sort(key=lambda r: r[0])
    rows: list[dict[str, Any]] = []
    name = (dep.get("metadata") or {}).get("name", "?")
    current = revisions[-1][0] if revisions else None
    for n, (number, (rs, ref), earlier) in enumerate(revisions):
        if n == 0:
            continue
        prev_rs = revisions[n - 1][1][0]
        rs_name = (rs.get("metadata") or {}).get("name", "")
        prev_name = (prev_rs.get("metadata") or {}).get("name", "")
        start = _start(rs, earlier, rs_name, scaling, revisions[n - 1])
        quality = None
        if start is None and inferred and number == current:
            done = _complete(dep, True, prev_name, pd.Timestamp.min.tz_localize("UTC"), [])
            start, quality = (done[0], "inferred") if done else (None, None)
        if start is None:
            continue
        now, was = (
            images((rs.get("spec") or {}).get("template") or {}),
            images((prev_rs.get("spec") or {}).get("template") or {}),
        )
        cause = ((rs.get("metadata") or {}).get("annotations") or {}).get(CAUSE)
        change = change_text(was, now)
        if earlier is not None and number == _latest(revisions, rs_name):
            summary = f"{name} rolled back to revision {earlier} (now revision {number}; {change})"
        else:
            summary = f"{name} rolled out revision {number} ({change})"
            earlier = None
        summary += f": {cause}" if cause else ""
        labels = {
            "revision": str(number),
            "replicaset": rs_name,
            "images": ",".join(f"{k}={v}" for k, v in now.items()),
            "was_images": ",".join(f"{k}={v}" for k, v in was.items()),
            "change_cause": cause,
            "rollback": "true" if earlier is not None else None,
            "rolled_back_to": str(earlier) if earlier is not None else None,
            "step": "start",
        }
        rows.append(_row(dep, ref, start, summary, **labels))
        if quality:
            rows[-1]["quality"] = quality
            continue
        done = _complete(dep, number == current, prev_name, start, scaling)
        if done is not None:
            labels["step"] = "complete"
            rows.append(
                _row(
                    dep,
                    done[1] or ref,
                    done[0],
                    f"{name} rollout of revision {number} complete",
                    **labels,
                )
            )
    return rows


def _latest(revisions: list[tuple[int, Item, int | None]], rs_name: str) -> int:
    return max(
        r for r, (rs, _), _e in revisions if (rs.get("metadata") or {}).get("name") == rs_name
    )


def _start(
    rs: dict[str, Any],
    earlier: int | None,
    rs_name: str,
    scaling: list[Scaling],
    prev: tuple[int, Item, int | None],
) -> pd.Timestamp | None:
    created = _time((rs.get("metadata") or {}).get("creationTimestamp"))
    if earlier is None:
        return created
    after = _time((prev[1][0].get("metadata") or {}).get("creationTimestamp"))
    ups = [
        s.time
        for s in scaling
        if s.up and s.replicaset == rs_name and (after is None or s.time >= after)
    ]
    return min(ups) if ups else None


def _complete(
    dep: dict[str, Any],
    is_current: bool,
    prev_name: str,
    start: pd.Timestamp,
    scaling: list[Scaling],
) -> tuple[pd.Timestamp, tuple[str, str] | None] | None:
    downs = [
        s.time
        for s in scaling
        if not s.up and s.replicaset == prev_name and s.to == 0 and s.time >= start
    ]
    if downs:
        return min(downs), None
    if is_current:
        for cond in (dep.get("status") or {}).get("conditions") or []:
            if cond.get("type") == "Progressing" and cond.get("reason") == "NewReplicaSetAvailable":
                when = _time(cond.get("lastUpdateTime"))
                if when is not None and when >= start:
                    return when, None
    return None


def revision_rows(owner: Item, revisions: list[Item]) -> list[dict[str, Any]]:
    """Rollout rows of a StatefulSet or DaemonSet from its ControllerRevisions."""
    obj, _ = owner
    owned = sorted(_owned(revisions, obj), key=lambda r: int(r[0].get("revision") or 0))
    name = (obj.get("metadata") or {}).get("name", "?")
    rows = []
    seen: list[dict[str, str]] = []
    for n, (cr, ref) in enumerate(owned):
        template = ((cr.get("data") or {}).get("spec") or {}).get("template") or {}
        now = images(template)
        created = _time((cr.get("metadata") or {}).get("creationTimestamp"))
        if n > 0 and created is not None:
            was = seen[-1]
            back = next((i + 1 for i, old in enumerate(seen[:-1]) if old == now), None)
            verb = f"rolled back to the template of revision {back}" if back else "rolled out"
            number = cr.get("revision")
            rows.append(
                _row(
                    obj,
                    ref,
                    created,
                    f"{name} {verb} (revision {number}; {change_text(was, now)})",
                    revision=str(number),
                    controllerrevision=(cr.get("metadata") or {}).get("name"),
                    images=",".join(f"{k}={v}" for k, v in now.items()),
                    was_images=",".join(f"{k}={v}" for k, v in was.items()),
                    rollback="true" if back else None,
                    step="start",
                )
            )
        seen.append(now)
    return rows


def rollout_rows(
    objects: dict[str, list[Item]], scaling: list[Scaling], *, inferred_rollbacks: bool = False
) -> list[dict[str, Any]]:
    """Every rollout row of the workloads in ``objects`` (keys: deployments, replicasets,
    statefulsets, daemonsets, controllerrevisions)."""
    rows = []
    for dep in objects.get("deployments", []):
        rows += deployment_rows(dep, objects.get("replicasets", []), scaling, inferred_rollbacks)
    for key, kind in (("statefulsets", "StatefulSet"), ("daemonsets", "DaemonSet")):
        for owner in objects.get(key, []):
            owner[0].setdefault("kind", kind)
            rows += revision_rows(owner, objects.get("controllerrevisions", []))
    return rows

"""Rollouts: the deploy events of one change, grouped, so a timeline says each change once.

A Kubernetes rollout is a run of ``ScalingReplicaSet`` events of one Deployment: the
deployment controller scales the new ReplicaSet up and the old one down step by step
(``maxSurge``/``maxUnavailable``), writing one event per step ("Scaled up replica set X from 1
to 2", or "... X to 2" before Kubernetes 1.29; kubernetes/kubernetes
pkg/controller/deployment/sync.go). Steps of one Deployment within `ROLLOUT_GAP` of each other
are one rollout. Scaling up a ReplicaSet that was already scaled down earlier is a rollback:
``kubectl rollout undo`` re-uses the old ReplicaSet whose pod template matches
(kubectl pkg/polymorphichelpers/rollback.go), and a ``DeploymentRollback`` event says so too.
A rollout that touches only one ReplicaSet is a scale, not a new version.

A deploy log (``[[file]] kind = "deploy"``) groups by its ``pipeline`` label when lines have
one, else by the same gap; its version, previous version, actor and rollback flag come from the
lines' labels. Labels a live collector may add (``image``, ``revision``, ``change_cause``) are
read when present and never required.
"""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

import pandas as pd

ROLLOUT_GAP = pd.Timedelta(minutes=5)
_SCALED = re.compile(
    r"Scaled (?P<dir>up|down) replica set (?P<rs>\S+?)(?: from (?P<a>\d+))? to (?P<to>\d+)"
)
_TAG = re.compile(r":([\w][\w.-]{0,127})$")


@dataclasses.dataclass(frozen=True)
class Rollout:
    """One change: a deploy, a rollback or a scale, from its first to its last step."""

    start: pd.Timestamp
    end: pd.Timestamp
    source: str
    stream: str
    steps: int
    kind: str  # deploy | rollback | scale
    version: str | None
    previous_version: str | None
    actor: str | None
    target: str | None
    pipeline: str | None
    ref: str
    index: int  # row label of the first step in the frame it came from
    members: tuple[int, ...]
    first_summary: str = ""
    new_replicaset: str | None = None
    old_replicaset: str | None = None
    status: str | None = None
    revision: str | None = None

    @property
    def detail(self) -> str:
        """The summary without its head: ``ReplicaSet x replacing y, 8 ReplicaSet steps ...``."""
        return self.summary.split(": ", 1)[-1]

    @property
    def summary(self) -> str:
        """One line: what changed, to which version, in how many steps, over what span.

        A single step the rules know nothing about keeps its own summary."""
        known = self.version or self.new_replicaset or self.kind != "deploy"
        if self.steps == 1 and not known:
            return self.first_summary
        of = f" of {self.target}" if self.target else ""  # a deploy log may not name it
        if self.kind == "rollback":
            head = f"Rollback{of}"
            head += f" to {self.version}" if self.version else ""
        elif self.kind == "scale":
            head = f"Scale{of}"
        else:
            head = f"Deploy {self.version}{of}" if self.version else f"Rollout{of}"
        if self.previous_version:
            head += f" (from {self.previous_version})"
        parts = []
        if self.new_replicaset:
            rs = f"ReplicaSet {self.new_replicaset}"
            if self.old_replicaset:
                rs += f" replacing {self.old_replicaset}"
            parts.append(rs)
        if self.revision:
            parts.append(f"revision {self.revision}")
        if self.pipeline:
            parts.append(f"pipeline {self.pipeline}")
        span = _hms(self.start) if self.steps == 1 else f"{_hms(self.start)}–{_hms(self.end)}"
        steps = "step" if self.steps == 1 else "steps"
        what = "ReplicaSet " + steps if self.new_replicaset else steps
        parts.append(f"{self.steps} {what} {span}")
        if self.status:
            parts.append(self.status)
        return head + ": " + ", ".join(parts)


def rollouts(events: pd.DataFrame) -> list[Rollout]:
    """The rollouts among ``events``' ``deploy`` rows, in order of their first step."""
    deploys = events.loc[events["kind"] == "deploy"]
    if deploys.empty:
        return []
    labels = [label_dict(text) for text in deploys["labels"]]
    key = [
        f"{src}\0{stream}\0{lab.get('pipeline', '')}"
        for src, stream, lab in zip(deploys["source"], deploys["stream"], labels, strict=True)
    ]
    frame = deploys.assign(_key=key, _pos=range(len(deploys)))
    ordered = frame.sort_values(["_key", "time", "_pos"], kind="stable")
    gap = ordered["time"].groupby(ordered["_key"]).diff()
    group = (gap.isna() | (gap > ROLLOUT_GAP)).cumsum()
    seen_down: dict[str, set[str]] = {}
    out = []
    for _, rows in ordered.groupby(group, sort=False):
        lab = [labels[p] for p in rows["_pos"]]
        out.append(_one(rows, lab, seen_down))
    return sorted(out, key=lambda r: (r.start, r.stream, r.index))


def _one(rows: pd.DataFrame, labels: list[dict[str, str]], seen: dict[str, set[str]]) -> Rollout:
    first = rows.iloc[0]
    stream = str(first["stream"])
    ups: list[str] = []
    downs: list[str] = []
    for summary in rows["summary"]:
        match = _SCALED.search(str(summary))
        if match:
            (ups if match["dir"] == "up" else downs).append(match["rs"])
    merged: dict[str, str] = {}
    for lab in labels:
        merged |= {k: v for k, v in lab.items() if v}
    new_rs = ups[0] if ups else merged.get("replicaset")
    old_rs = next((rs for rs in downs if rs != new_rs), None)
    earlier = seen.setdefault(stream, set())
    rollback = bool(merged.get("rollback")) or "DeploymentRollback" in set(
        str(r) for r in (lab.get("reason") for lab in labels) if r
    )
    rollback |= new_rs is not None and new_rs in earlier
    earlier.update(downs)
    kind = "rollback" if rollback else "deploy"
    image = merged.get("image") or _first_image(merged.get("images"))
    if new_rs is not None and set(ups + downs) == {new_rs} and not image:
        kind = "scale"
    actor = next((str(a) for a in rows["actor"] if not pd.isna(a)), None)
    version = merged.get("version") or _image_tag(image)
    return Rollout(
        start=first["time"],
        end=rows["time"].iloc[-1],
        source=str(first["source"]),
        stream=stream,
        steps=len(rows),
        kind=kind,
        version=version,
        previous_version=merged.get("previous_version"),
        actor=actor,
        target=merged.get("target") or _target(first, merged),
        pipeline=merged.get("pipeline"),
        ref=str(first["ref"]),
        index=int(rows.index[0]),
        members=tuple(int(i) for i in rows.index),
        first_summary=str(first["summary"]),
        new_replicaset=new_rs,
        old_replicaset=old_rs,
        status=_final_status(labels),
        revision=merged.get("revision"),
    )


def _target(first: Any, labels: dict[str, str]) -> str | None:
    if labels.get("kind") and labels.get("name"):
        ns = labels.get("namespace")
        return f"{labels['kind'].lower()} {ns + '/' if ns else ''}{labels['name']}"
    # a Kubernetes stream names its object (ns/kind/name); a deploy log's stream is the log
    return str(first["stream"]) if first["source"] == "kubernetes" else None


def _final_status(labels: list[dict[str, str]]) -> str | None:
    for lab in reversed(labels):
        if lab.get("status"):
            return str(lab["status"])
    return None


def _first_image(images: str | None) -> str | None:
    """The first image of the live collector's ``images`` label (``app=reg/app:v2,side=...``)."""
    first = (images or "").split(",")[0]
    return first.split("=", 1)[1] if "=" in first else None


def _image_tag(image: str | None) -> str | None:
    match = _TAG.search(image or "")
    return match.group(1) if match else None


def label_dict(text: Any) -> dict[str, str]:
    """An event's labels JSON as a dict of strings (empty when it is not a JSON object)."""
    try:
        value = json.loads(str(text))
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


def _hms(stamp: pd.Timestamp) -> str:
    return str(stamp.strftime("%H:%M:%S"))

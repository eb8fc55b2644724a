"""What changed: deploys, rollbacks, scales, config changes and silences, one line each.

A deploy is often seen twice: the CI system's deploy log says which version and who, the
Kubernetes rollout says which ReplicaSets and when the pods moved. A rollout that starts while
a deploy-log pipeline runs (from `PAIR_SLACK` before its first line to `PAIR_SLACK` after its
last) is the same change and is told in the same line. A silence is listed as a change too:
it changes what the alerting pipeline tells people (Alertmanager docs, "Silences").
"""

from __future__ import annotations

import dataclasses

import pandas as pd

from incident_timeline.report.facts import Moment, hms, labels, moments
from incident_timeline.timeline.changes import Rollout, rollouts

PAIR_SLACK = pd.Timedelta(minutes=1)
CONFIG_KINDS: tuple[str, ...] = ("config_change", "config")
# What counts as mitigating when it comes after the page: a change back or a scale. A
# silence mutes notifications only (Alertmanager: "a silence ... mute[s] alerts"), so it is
# listed but not taken as the mitigation unless nothing else happened.
MITIGATING: tuple[str, ...] = ("rollback", "scale", "config_revert")


@dataclasses.dataclass(frozen=True)
class Change:
    """One change for the "What changed" section and the timeline."""

    start: pd.Timestamp
    end: pd.Timestamp
    kind: str  # deploy | rollback | scale | config | config_revert | silence
    text: str
    actor: str | None
    source: str
    ref: str
    version: str | None = None
    previous_version: str | None = None
    members: tuple[int, ...] = ()  # row labels of the events it stands for

    @property
    def hms(self) -> str:
        """Its start as ``HH:MM:SS``."""
        return hms(self.start)

    @property
    def moment(self) -> Moment:
        """The change as a Moment at its start."""
        return Moment(self.start, self.text, self.source, self.actor, self.ref, self.kind)

    @property
    def phrase(self) -> str:
        """A short phrase for sentences: ``deploy v2.3.4``, ``rollback to v2.3.3``."""
        if self.kind == "rollback":
            return "rollback" + (f" to {self.version}" if self.version else "")
        if self.kind == "deploy":
            return "deploy" + (f" {self.version}" if self.version else "")
        if self.kind == "silence":
            return "silence"
        return self.kind.replace("_", " ")


def changes(events: pd.DataFrame) -> list[Change]:
    """Every change among ``events`` (deploys paired with their rollouts), by start time."""
    found = rollouts(events)
    logs = [r for r in found if r.source != "kubernetes"]
    kube = [r for r in found if r.source == "kubernetes"]
    out: list[Change] = []
    paired: set[int] = set()
    for log in logs:
        mates = [
            k
            for k in kube
            if log.start - PAIR_SLACK <= k.start <= log.end + PAIR_SLACK and id(k) not in paired
        ]
        paired.update(id(k) for k in mates)
        out.append(_from_rollouts(log, mates))
    out += [_from_rollouts(k, []) for k in kube if id(k) not in paired]
    out += _silences(events) + _config(events)
    return sorted(out, key=lambda c: (c.start, c.text))


def _from_rollouts(main: Rollout, mates: list[Rollout]) -> Change:
    parts = [main, *mates]
    kind = "rollback" if any(p.kind == "rollback" for p in parts) else main.kind
    version = main.version or next((m.version for m in mates if m.version), None)
    text = _rollout_text(main, kind, version)
    for mate in mates:
        text += f"; Kubernetes {mate.target or 'rollout'}: {mate.detail}"
    return Change(
        start=min(p.start for p in parts),
        end=max(p.end for p in parts),
        kind=kind,
        text=text,
        actor=main.actor,
        source=main.source,
        ref=main.ref,
        version=version,
        previous_version=main.previous_version,
        members=tuple(i for p in parts for i in p.members),
    )


def _rollout_text(main: Rollout, kind: str, version: str | None) -> str:
    if main.source == "kubernetes":
        return main.summary
    head = "Rollback" if kind == "rollback" else "Deploy"
    if version:
        head += f" to {version}" if kind == "rollback" else f" {version}"
    if main.previous_version:
        head += f" (from {main.previous_version})"
    if main.actor:
        head += f" by {main.actor}"
    details = []
    if main.target:
        details.append(main.target)
    if main.pipeline:
        details.append(f"pipeline {main.pipeline}")
    span = hms(main.start) if main.steps == 1 else f"{hms(main.start)}–{hms(main.end)}"
    details.append(span + (f" {main.status}" if main.status else ""))
    return head + ": " + ", ".join(details)


def _silences(events: pd.DataFrame) -> list[Change]:
    rows = events.loc[events["kind"] == "silence"]
    return [
        Change(m.time, m.time, "silence", m.summary, m.actor, m.source, m.ref, members=(i,))
        for i, m in zip(rows.sort_values("time", kind="stable").index, moments(rows), strict=True)
    ]


def _config(events: pd.DataFrame) -> list[Change]:
    rows = events.loc[events["kind"].isin(CONFIG_KINDS)]
    out = []
    for i, m in zip(rows.sort_values("time", kind="stable").index, moments(rows), strict=True):
        revert = "revert" in m.summary.lower() or labels(rows.loc[i, "labels"]).get("rollback")
        kind = "config_revert" if revert else "config"
        out.append(Change(m.time, m.time, kind, m.summary, m.actor, m.source, m.ref, members=(i,)))
    return out


def mitigation(found: list[Change], after: pd.Timestamp | None) -> Change | None:
    """The first mitigating change at or after ``after`` (the page, else the first symptom);
    a silence only when no rollback, scale or config revert followed."""
    if after is None:
        return None
    later = [c for c in found if c.start >= after]
    real = [c for c in later if c.kind in MITIGATING]
    if real:
        return real[0]
    silences = [c for c in later if c.kind == "silence"]
    return silences[0] if silences else None

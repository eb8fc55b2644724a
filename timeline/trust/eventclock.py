"""Node clocks from Kubernetes events alone: the kubelet's stamp against the API server's.

A core/v1 Event carries two clocks. ``firstTimestamp`` (or ``eventTime``) is set by the
reporting component, for kubelet events the kubelet, on its node's clock
(``k8s.io/client-go/tools/record``: ``makeEvent`` stamps ``metav1.Now()`` in the reporter);
``metadata.creationTimestamp`` is set by the API server when it stores the object
(``k8s.io/apiserver`` ``FillObjectMetaSystemFields``). Their difference is the delivery delay
plus the node's skew against the API server. The delay is common to every node (the same
recorder, the same API server), so per node the median of ``reported − created`` over its
kubelet events, minus the same median over the other nodes' kubelet events, estimates that
node's skew without node_exporter. When the other nodes' median is itself off by more than
the stamps' precision (with two nodes, one skewed node makes the other look skewed the other
way), the API server's clock alone is the reference: the delay is normally well under a
second (the recorder sends at once). Both stamps are whole seconds (``metav1.Time`` serialises
RFC 3339 seconds; ``eventTime`` is microseconds), so the estimate is good to about a second.

The events format keeps ``creationTimestamp`` in the row's labels as ``created``; ``time`` is
the reporter's stamp.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from incident_timeline.timeline.trust.evidence import parse_labels

STAMP_PRECISION = 1.0  # seconds: both stamps are whole seconds
MIN_EVENTS = 5  # a median of fewer events is not an estimate


@dataclass(frozen=True)
class EventSkew:
    """One node's kubelet clock against the API server, from its events.

    ``offset`` = median(reported − created) on the node − ``baseline`` (the same median over
    ``others`` events of other nodes; 0 when there are none). Positive: the node is ahead.
    """

    node: str
    offset: float
    events: int
    spread: float  # p90 − p10 of the node's differences
    baseline: float
    others: int
    first: pd.Timestamp
    last: pd.Timestamp
    ref: str


def event_differences(events: pd.DataFrame) -> pd.DataFrame:
    """``node, time, created, difference (s), ref`` for each kubelet event (one naming a
    node) that carries its ``created`` stamp."""
    k8s = events.loc[(events["kind"] == "k8s_event").to_numpy(dtype=bool)]
    k8s = k8s.loc[k8s["labels"].str.contains('"created": ', regex=False).to_numpy(dtype=bool)]
    parsed = [parse_labels(x) for x in k8s["labels"]]
    frame = pd.DataFrame(
        {
            "node": [p.get("node", "") for p in parsed],
            "time": k8s["time"].reset_index(drop=True),
            "created": pd.to_datetime(
                [p.get("created") for p in parsed], utc=True, errors="coerce"
            ),
            "ref": k8s["ref"].astype(str).to_numpy(),
        }
    )
    frame = frame.loc[(frame["node"] != "") & frame["created"].notna()]
    frame = frame.assign(difference=(frame["time"] - frame["created"]).dt.total_seconds())
    return frame.sort_values(["node", "time", "ref"], kind="stable").reset_index(drop=True)


def event_skews(events: pd.DataFrame) -> dict[str, EventSkew]:
    """Per node with at least `MIN_EVENTS` kubelet events: its `EventSkew`."""
    frame = event_differences(events)
    counts = frame["node"].value_counts()
    out = {}
    for node in sorted(counts.index[counts >= MIN_EVENTS]):
        mine = frame.loc[frame["node"] == node]
        others = frame.loc[frame["node"] != node, "difference"]
        baseline = float(others.median()) if len(others) else 0.0
        if abs(baseline) > STAMP_PRECISION:  # the others are off themselves: use the API server
            baseline, others = 0.0, others.iloc[:0]
        diffs = mine["difference"]
        out[str(node)] = EventSkew(
            node=str(node),
            offset=float(diffs.median()) - baseline,
            events=len(mine),
            spread=float(diffs.quantile(0.9) - diffs.quantile(0.1)),
            baseline=baseline,
            others=len(others),
            first=mine["time"].min(),
            last=mine["time"].max(),
            ref=str(mine["ref"].iloc[0]),
        )
    return out


def describe(skew: EventSkew) -> str:
    """``kubelet events +2 s (median of 31, against 40 events of other nodes)``."""
    against = (
        f"against {skew.others} events of other nodes"
        if skew.others
        else "against the API server (no other nodes' events)"
    )
    return f"kubelet events {skew.offset:+.1f} s (median of {skew.events}, {against})"

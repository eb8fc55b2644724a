"""Impact, detection and response, measured from the evidence.

Impact spans come from thresholded queries: each series' first breach to the crossing back
(the first sample no longer beyond the threshold), the way an SLO burn is counted; error logs
give a second span per service. Detection and response numbers each name the two events they
are measured between, so a reader can check them against the timeline.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping

import pandas as pd

from incident_timeline.report.changelog import Change, mitigation
from incident_timeline.report.facts import (
    ERROR_SEVERITIES,
    Interval,
    Moment,
    first,
    hms,
    human_duration,
    interval,
    labels,
    moments,
)

_NOT_SERIES = ("state", "threshold", "value")
_VALUE = re.compile(r"\(([-+]?[\d.eE+-]+)\)")


@dataclasses.dataclass(frozen=True)
class Breach:
    """One thresholded query's series beyond its threshold, from first breach to recovery."""

    query: str
    series: str
    start: Moment
    end: Moment | None  # None: still beyond the threshold when the window ended
    peak: str | None

    @property
    def duration(self) -> str | None:
        """How long it lasted, when it ended in the window."""
        return None if self.end is None else human_duration(self.end.time - self.start.time)


@dataclasses.dataclass(frozen=True)
class BreachRun:
    """A series' breaches in one line of the draft: a threshold that one series crossed back
    and forth many times (a noisy query) would otherwise fill the Impact section."""

    breaches: list[Breach]

    @property
    def first(self) -> Breach:
        return self.breaches[0]

    @property
    def end(self) -> Moment | None:
        """The last breach's end (None: still beyond the threshold when the window ended)."""
        return self.breaches[-1].end

    @property
    def span(self) -> str:
        """From the first breach's start to the last one's end (with dates when those differ)."""
        start, end = self.first.start, self.end
        if end is None:
            return f"from {start.hms} to the end of the window"
        if start.time.date() == end.time.date():
            return f"from {start.hms} to {end.hms}"
        return f"from {start.when} to {end.when}"

    @property
    def above(self) -> str:
        """Time beyond the threshold, the breaches that ended in the window summed."""
        ended = [b.end.time - b.start.time for b in self.breaches if b.end is not None]
        return human_duration(sum(ended, pd.Timedelta(0)))

    @property
    def peak(self) -> str | None:
        """The highest of the breaches' peaks (the first of equal ones)."""
        best = _peak([b.peak.split()[0] for b in self.breaches if b.peak])
        return next((b.peak for b in self.breaches if b.peak and b.peak.split()[0] == best), None)


RUN = 3  # a series with more breaches than this is one line of the draft


def runs(breaches: list[Breach], few: int = RUN) -> list[Breach | BreachRun]:
    """The breaches in start order, each series with more than ``few`` of them as one
    `BreachRun` where its first breach is."""
    groups: dict[tuple[str, str], list[Breach]] = {}
    for breach in breaches:
        groups.setdefault((breach.query, breach.series), []).append(breach)
    out: list[Breach | BreachRun] = []
    for breach in breaches:
        group = groups[(breach.query, breach.series)]
        if len(group) <= few:
            out.append(breach)
        elif group[0] is breach:
            out.append(BreachRun(group))
    return out


@dataclasses.dataclass(frozen=True)
class ErrorSpan:
    """Error and critical log lines of one service (container, app or stream)."""

    service: str
    count: int
    start: pd.Timestamp
    end: pd.Timestamp


@dataclasses.dataclass(frozen=True)
class Impact:
    """What the data says about impact; the rest is for people to write."""

    start: pd.Timestamp | None
    end: pd.Timestamp | None
    breaches: list[Breach]
    errors: list[ErrorSpan]
    services: list[str]
    pods: list[str]
    alerts: list[str]

    @property
    def duration(self) -> str | None:
        """``15 min 30 s`` from impact start to end, when both are known."""
        if self.start is None or self.end is None:
            return None
        return human_duration(self.end - self.start)


@dataclasses.dataclass(frozen=True)
class Responder:
    """A person in the record and what the record says they did."""

    name: str
    roles: list[str]
    aliases: list[str]


def impact(events: pd.DataFrame) -> Impact:
    """Impact from threshold breaches (preferred) or, without any, from error logs."""
    breaches = _breaches(events)
    errors = _error_spans(events)
    if breaches:
        start = min(b.start.time for b in breaches)
        ends = [b.end.time for b in breaches if b.end is not None]
        end = max(ends) if len(ends) == len(breaches) else None
    elif errors:
        start, end = min(e.start for e in errors), max(e.end for e in errors)
    else:
        start = end = None
    alerts = events.loc[events["kind"].isin(("alert_pending", "alert_firing")), "labels"]
    names = sorted({labels(t).get("alertname", "") for t in alerts} - {""})
    services = sorted(
        {b.series.split("=", 1)[1] for b in breaches if b.series.startswith("service=")}
        | {e.service for e in errors}
    )
    bad = events.loc[events["severity"].isin(ERROR_SEVERITIES) & (events["kind"] == "log")]
    pods = sorted({labels(t).get("pod", "") for t in bad["labels"].unique()} - {""})
    return Impact(start, end, breaches, errors, services, pods, names)


def _breaches(events: pd.DataFrame) -> list[Breach]:
    rows = events.loc[events["kind"] == "metric_threshold"]
    out = []
    open_: dict[tuple[str, str], tuple[Moment, list[str]]] = {}
    # The stream of each ref's first row (looked up per crossing without a query label).
    streams = dict(zip(rows["ref"].iloc[::-1], rows["stream"].iloc[::-1], strict=True))
    for moment in moments(rows):
        series = ", ".join(
            f"{k}={v}" for k, v in sorted(moment.labels.items()) if k not in _NOT_SERIES
        )
        key = (str(moment.labels.get("query") or streams.get(moment.ref, moment.source)), series)
        value = _VALUE.search(moment.summary)
        if moment.labels.get("state", "above") != "below":
            open_.setdefault(key, (moment, []))[1].extend([value.group(1)] if value else [])
        elif key in open_:
            start, peaks = open_.pop(key)
            out.append(Breach(key[0], series, start, moment, _peak(peaks)))
    out += [Breach(k[0], k[1], m, None, _peak(p)) for k, (m, p) in open_.items()]
    return sorted(out, key=lambda b: b.start.time)


def with_peaks(breaches: list[Breach], metrics: Mapping[str, pd.DataFrame]) -> list[Breach]:
    """Each breach's peak from its query's samples (``metrics/<query>.parquet``) over the
    breach, ``0.3234 at 14:16:15``; the crossing value stays when there are no samples."""
    out = []
    series: dict[str, dict[frozenset[tuple[str, str]], _Series]] = {}
    for breach in breaches:
        samples = metrics.get(breach.query)
        if samples is None or samples.empty or not {"time", "value", "labels"} <= set(samples):
            out.append(breach)
            continue
        if breach.query not in series:  # each query's samples split by series once
            series[breach.query] = _by_series(samples)
        wanted = {k: v for k, v in breach.start.labels.items() if k not in _NOT_SERIES}
        mine = series[breach.query].get(frozenset(wanted.items()), _Series(samples[:0], False))
        end = breach.end.time if breach.end is not None else samples["time"].max()
        span = mine.between(breach.start.time, end)
        if span.empty or span["value"].isna().all():
            out.append(breach)
            continue
        top = span.loc[span["value"].idxmax()]
        peak = f"{top['value']:.4g} at {hms(top['time'])}"
        out.append(dataclasses.replace(breach, peak=peak))
    return out


@dataclasses.dataclass(frozen=True)
class _Series:
    """One series' samples, in the samples' order, and whether that is time order."""

    samples: pd.DataFrame
    ordered: bool

    def between(self, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        """The samples from ``start`` to ``end`` (both included); by bisection where they are
        in time order, as a range query's are (a 30-day series holds 170 k samples)."""
        times = self.samples["time"]
        if not self.ordered:
            return self.samples.loc[times.between(start, end)]
        lo, hi = times.searchsorted(start, side="left"), times.searchsorted(end, side="right")
        return self.samples.iloc[lo:hi]


def _by_series(samples: pd.DataFrame) -> dict[frozenset[tuple[str, str]], _Series]:
    """A query's samples per series (its labels), each in the samples' order: a breach then
    reads its own series, not every sample of the query (a threshold on a busy query gives
    thousands of breaches)."""
    codes, texts = pd.factorize(samples["labels"], use_na_sentinel=False)
    out: dict[frozenset[tuple[str, str]], list[pd.DataFrame]] = {}
    for code, frame in samples.reset_index(drop=True).groupby(codes, sort=False):
        out.setdefault(frozenset(labels(texts[code]).items()), []).append(frame)
    joined = {k: v[0] if len(v) == 1 else pd.concat(v).sort_index() for k, v in out.items()}
    return {k: _Series(v, v["time"].is_monotonic_increasing) for k, v in joined.items()}


def _peak(values: list[str]) -> str | None:
    numbers = []
    for text in values:
        try:
            numbers.append((float(text), text))
        except ValueError:
            continue
    return max(numbers)[1] if numbers else None


def _error_spans(events: pd.DataFrame) -> list[ErrorSpan]:
    rows = events.loc[(events["kind"] == "log") & events["severity"].isin(ERROR_SEVERITIES)]
    if rows.empty:
        return []
    # few distinct label sets and streams, many lines: name each pair once
    pairs = rows["labels"].astype(str) + "\0" + rows["stream"].astype(str)
    names = {p: _service(*p.split("\0", 1)) for p in pairs.unique()}
    service = pairs.map(names)
    grouped = rows.assign(_service=service).groupby("_service")["time"]
    spans = [
        ErrorSpan(str(name), int(group.size), group.min(), group.max()) for name, group in grouped
    ]
    return sorted(spans, key=lambda s: (s.start, s.service))


def _service(text: str, stream: str) -> str:
    lab = labels(text)
    return lab.get("service") or lab.get("app") or lab.get("container") or stream


@dataclasses.dataclass(frozen=True)
class Detection:
    """The first signal of each kind and the gaps between them."""

    first_symptom: Moment | None
    first_error: Moment | None
    first_crossing: Moment | None
    first_pending: Moment | None
    first_firing: Moment | None
    first_page: Moment | None
    gaps: list[Interval]


def detection(events: pd.DataFrame, firing: pd.Series) -> Detection:
    """First error log, threshold crossing, alert pending and firing, page; gaps between.

    ``firing`` marks the alert events that count (heartbeats excluded by the caller)."""
    kind = events["kind"]
    error = first(events, (kind == "log") & events["severity"].isin(ERROR_SEVERITIES))
    crossing = first(events, kind == "metric_threshold")
    pending = first(events, (kind == "alert_pending") & firing)
    fired = first(events, (kind == "alert_firing") & firing)
    page = first(events, kind == "page_trigger")
    symptoms = [m for m in (error, crossing) if m is not None]
    symptom = min(symptoms, key=lambda m: m.time) if symptoms else None
    name = "first error log" if symptom is error else "first threshold crossing"
    gaps = [
        interval("Symptom to threshold crossing", name, symptom, "crossing", crossing)
        if symptom is not crossing
        else None,
        interval("Symptom to alert pending", name, symptom, "alert pending", pending),
        interval("Symptom to alert firing", name, symptom, "alert firing", fired),
        interval("Alert firing to page", "alert firing", fired, "page", page),
        interval("Symptom to page", name, symptom, "page", page),
    ]
    return Detection(symptom, error, crossing, pending, fired, page, [g for g in gaps if g])


@dataclasses.dataclass(frozen=True)
class Response:
    """Response metrics, each between two named events, and who did what."""

    metrics: list[Interval]
    mitigation: Change | None
    actions: list[Change]
    responders: list[Responder]
    escalations: list[Moment]


def response(
    events: pd.DataFrame, found: list[Change], detected: Detection, impact_end: Moment | None
) -> Response:
    """Time to acknowledge, escalate, mitigate, symptom end and resolve, from the page."""
    kind = events["kind"]
    page = detected.first_page
    anchor = page or detected.first_symptom
    after = events["time"] >= anchor.time if anchor is not None else True
    ack = first(events, (kind == "page_ack") & after)
    escalate = first(events, (kind == "page_escalate") & after)
    resolve = first(events, (kind == "page_resolve") & after)
    fix = mitigation(found, anchor.time if anchor is not None else None)
    start_name = "page" if page is not None else "first symptom"
    fix_name = fix.phrase if fix is not None else "mitigation"
    metrics = [
        interval("Time to acknowledge", start_name, anchor, "acknowledged", ack),
        interval("Time to escalate", start_name, anchor, "escalated", escalate),
        interval("Time to mitigate", start_name, anchor, fix_name, fix.moment if fix else None),
        interval("Time to symptom end", start_name, anchor, "symptom ended", impact_end),
        interval("Time to resolve", start_name, anchor, "resolved", resolve),
    ]
    actions = [c for c in found if anchor is not None and c.start >= anchor.time]
    escalations = moments(events.loc[kind == "page_escalate"])
    return Response(
        [m for m in metrics if m], fix, actions, responders(events, actions), escalations
    )


_DID: dict[str, str] = {
    "deploy": "deployed",
    "rollback": "rolled back",
    "scale": "scaled",
    "config": "changed config",
    "config_revert": "reverted config",
    "silence": "silenced alerts",
}
_ROLES: dict[str, str] = {
    "page_ack": "acknowledged",
    "page_resolve": "resolved",
    "page_escalate": "escalated",
    "page_assign": "assigned",
    "note": "noted",
}


def responders(events: pd.DataFrame, actions: list[Change]) -> list[Responder]:
    """People in the paging record and the changes, each with the roles the record gives.

    One person often appears as ``Alice Chen`` (PagerDuty) and ``alice.chen`` (CI, Alertmanager):
    names equal once lower-cased without punctuation are one responder, with the other spelling
    kept as an alias."""
    found: dict[str, tuple[list[str], list[str]]] = {}

    def add(name: str | None, role: str) -> None:
        if not name or name.lower() in ("system", "none"):
            return
        key = re.sub(r"[\W_]+", "", name.lower())
        names, roles = found.setdefault(key, ([], []))
        if name not in names:
            names.append(name)
        if role not in roles:
            roles.append(role)

    pages = events.loc[events["kind"].str.startswith("page_") | (events["kind"] == "note")]
    for moment in moments(pages):
        if moment.kind == "page_notify":
            add(moment.labels.get("user"), "paged")
        elif moment.kind in _ROLES:
            add(moment.actor, _ROLES[moment.kind])
        if moment.kind in ("page_escalate", "page_assign"):
            for who in _assignees(events, moment):
                add(who, "escalated to" if moment.kind == "page_escalate" else "assigned")
    for change in actions:
        add(change.actor, _DID.get(change.kind, change.kind))
    return [Responder(n[0], r, n[1:]) for n, r in found.values()]


def _assignees(events: pd.DataFrame, moment: Moment) -> list[str]:
    message = events.loc[events["ref"] == moment.ref, "message"]
    try:
        entry = json.loads(str(message.iloc[0])) if len(message) else {}
    except ValueError:
        return []
    people = entry.get("assignees") if isinstance(entry, dict) else None
    return [str(p.get("summary")) for p in people or [] if isinstance(p, dict) and p.get("summary")]

"""Condense a merged timeline to the events a postmortem's timeline table needs.

The rules (order of the input is kept; it should be the merged order):

- only events inside the window, when one is given (a deploy log's history is not a key event);
- every alert, silence, page, note, deploy, threshold crossing and integrity finding
  (`KEY_KINDS`, and any kind starting with one of `KEY_PREFIXES`), except heartbeat alerts
  (`heartbeats`: Watchdog and its kin fire all the time to prove the pipeline works);
- Kubernetes events of severity warning or worse, only the first of each signature (the same
  probe failure on twenty pods is one row, ``(×20 in window)``);
- a rollout (see `timeline.changes`: the steps of one Deployment, or the lines of one deploy
  pipeline) is one row, at its first step, saying what changed and in how many steps;
- for error and critical log lines, only the first line of each *error signature*, with
  `` (×N in window)`` appended to its summary when the signature occurs N > 1 times; a JSON
  line is shown as its level, message and error (`json_text`), not as the whole object;
- alert and threshold events that repeat (same source, kind, stream, alert name and state, each
  within `BURST_GAP` of the previous: one alert per pod, a flapping threshold) keep the first,
  saying ``(+N more within 3 min)``.

So that a million-event window still gives a table of tens of rows, at most
`MAX_ERROR_SIGNATURES` error signatures and `MAX_WARNING_SIGNATURES` warning signatures are
listed: first those first seen inside the incident (from `SIGNATURE_LEAD` before its onset), by
first occurrence, then long-standing ones, the most frequent first (ties: the earliest); the
rest become one row at the first of them, saying how many signatures and lines were left out.
Everything else (info logs, normal Kubernetes events, ...) is dropped.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from incident_timeline.timeline.changes import rollouts
from incident_timeline.timeline.schema import COLUMNS
from incident_timeline.timeline.timefmt import seconds_text

if TYPE_CHECKING:  # window.py imports collector.errors; the public timeline API must not
    from incident_timeline.timeline.window import Window

KEY_KINDS: tuple[str, ...] = (
    "alert_pending",
    "alert_firing",
    "alert_resolved",
    "alert_notify",
    "silence",
    "note",
    "deploy",
    "metric_threshold",
    "clock",
    "gap",
)
KEY_PREFIXES: tuple[str, ...] = ("page_",)
WARNING_OR_WORSE: tuple[str, ...] = ("warning", "error", "critical")
ERROR_OR_WORSE: tuple[str, ...] = ("error", "critical")
# kube-prometheus-stack's always-firing alerts (Watchdog: "meant to ensure that the entire
# alerting pipeline is functional"; InfoInhibitor; DeadMansSwitch in older charts).
HEARTBEAT_ALERTS: tuple[str, ...] = ("Watchdog", "InfoInhibitor", "DeadMansSwitch")
HEARTBEAT_EDGE = pd.Timedelta(minutes=5)  # "all window long": within this of both edges
ONSET_KINDS: tuple[str, ...] = ("metric_threshold", "alert_pending", "alert_firing", "page_trigger")
# An error shows before the signals built on it: rate(x[5m]) needs minutes of errors to cross
# a threshold, and a rule's `for:` waits longer. Errors first seen this long before the onset
# still count as the incident's own.
SIGNATURE_LEAD = pd.Timedelta(minutes=10)
JSON_LEVEL_KEYS: tuple[str, ...] = ("level", "lvl", "severity", "log.level", "levelname")
JSON_MESSAGE_KEYS: tuple[str, ...] = ("msg", "message", "event", "log", "text", "@message")
JSON_ERROR_KEYS: tuple[str, ...] = (
    "error", "err", "error.message", "exception", "exc_info", "error.type", "stack_trace",
)  # fmt: skip
BURST_GAP = pd.Timedelta(minutes=5)
BURST_KINDS: tuple[str, ...] = (
    "alert_pending",
    "alert_firing",
    "alert_resolved",
    "alert_notify",
    "metric_threshold",
)
MAX_ERROR_SIGNATURES = 20
MAX_WARNING_SIGNATURES = 10
_BURST_LABELS = re.compile(r'"(alertname|state|status)": "([^"]*)"')

# Applied in order to the whole summary column. Placeholders are chosen so that a later rule
# cannot match inside an earlier one's output (no digits, no hex runs). Numbers and hex ids
# share one placeholder: an id that happens to be all digits must not split a signature.
_SIGNATURE_RULES: tuple[tuple[str, str], ...] = (
    # a logfmt message is the constant part of a line: shield it from the quoted-string rule
    (r'\b(msg|message|event)="((?:[^"\\]|\\.)*)"', "\\1=«\\2»"),
    (r'"(?:[^"\\]|\\.)*"', '"<str>"'),  # double-quoted strings
    (r"(?<!\w)'(?:[^'\\]|\\.)*'", "'<str>'"),  # single-quoted, not an apostrophe in a word
    (
        r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b",
        "<uuid>",
    ),
    (r"\b\d{1,3}(?:\.\d{1,3}){3}(?::\d{1,5})?\b", "<ip>"),  # IPv4, optional port
    # IPv6: the full eight groups, or shortened with "::" (so 14:02:05 stays a time)
    (r"(?<![\w:])(?:[0-9a-fA-F]{1,4}:){7}[0-9a-fA-F]{1,4}(?:%\w+)?(?![\w:])", "<ip>"),
    (
        r"(?<![\w:])(?=[0-9a-fA-F:]*[0-9a-fA-F])(?:[0-9a-fA-F]{1,4}(?::[0-9a-fA-F]{1,4})*)?"
        r"::(?:[0-9a-fA-F]{1,4}(?::[0-9a-fA-F]{1,4})*)?(?:%\w+)?(?![\w:])",
        "<ip>",
    ),
    (r"(?<==)[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?[a-zA-Zµ%]*(?!\w)", "<n>"),  # key=1.5ms
    # Go/Prometheus durations (1m30.5s, 250ms, 2h): one placeholder, whatever the unit
    (r"(?<![\w.])(?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h|d))+(?![\w.])", "<dur>"),
    (r"\b0[xX][0-9a-fA-F]+\b", "<n>"),
    # Kubernetes generated names: the 5-character pod suffix (vowel-free alphabet)
    (r"(?<=[a-z0-9]-)[bcdfghjklmnpqrstvwxz2456789]{5}\b", "<id>"),
    # hex ids: 6+ hex chars with at least one digit and one letter (so "decade" stays)
    (r"\b(?=[0-9a-fA-F]*\d)(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{6,}\b", "<n>"),
    # ids that mix letters and digits (base62, base32, ULIDs, ord_8fK2mQ91x): 6+ letters and
    # digits between separators ("_" counts as one here), with a digit and a letter
    (r"(?<![A-Za-z0-9])(?=[A-Za-z]*\d)(?=\d*[A-Za-z])[A-Za-z0-9]{6,}(?![A-Za-z0-9])", "<n>"),
    # prefixed ids without digits (Stripe-style cus_NffrFeUfNV2Hib): mixed case after "x_"
    (r"(?<=[a-z]_)(?=[a-z]*[A-Z])(?=[A-Z]*[a-z])[A-Za-z]{8,}(?![A-Za-z0-9])", "<n>"),
    (r"\d+", "<n>"),  # any other digits
    (r"\s+", " "),
)


def error_signature(summaries: pd.Series) -> pd.Series:
    """Normalize summaries to error signatures, one vectorized regex pass per rule.

    Digits, hex ids of 6 or more characters, UUIDs, IPv4 addresses (with port), quoted strings
    and numeric ``key=value`` values are replaced by placeholders and whitespace is collapsed,
    so ``db pool exhausted wait_ms=2000 trace_id=ab12cd34ef`` and the same line with other
    numbers and ids give one signature: ``db pool exhausted wait_ms=<n> trace_id=<n>``.
    """
    out = summaries.astype("string")
    for pattern, repl in _SIGNATURE_RULES:
        out = out.str.replace(pattern, repl, regex=True)
    return out.str.strip()


def key_events(
    frame: pd.DataFrame,
    window: Window | None = None,
    *,
    onset: pd.Timestamp | None = None,
    max_errors: int = MAX_ERROR_SIGNATURES,
) -> pd.DataFrame:
    """Select the key events of a merged timeline; see the module docstring for the rules.

    With ``window``, events outside it are not key events (a deploy log's history, a skewed
    line past the edge). ``onset`` is when the incident began (default: `incident_onset`);
    error signatures first seen since shortly before it rank first. Returns the schema's
    columns, rows in input order, with a fresh index. Counts for repeated errors are over the
    window, across all sources and streams.
    """
    frame = frame.reset_index(drop=True)
    if window is not None:
        inside = (frame["time"] >= window.since) & (frame["time"] < window.until)
        if not inside.all():  # all inside (the usual case): no copy of every row
            frame = frame.loc[inside].reset_index(drop=True)
    kind = frame["kind"]
    severity = frame["severity"]
    keep = kind.isin(KEY_KINDS).to_numpy(dtype=bool, copy=True)
    for prefix in KEY_PREFIXES:
        keep |= kind.str.startswith(prefix).to_numpy(dtype=bool, na_value=False)
    keep &= ~heartbeats(frame, window).to_numpy(dtype=bool)
    summary = frame["summary"].copy()
    warnings = ((kind == "k8s_event") & severity.isin(WARNING_OR_WORSE)).to_numpy(dtype=bool)
    errors = ((kind == "log") & severity.isin(ERROR_OR_WORSE)).to_numpy(dtype=bool)
    if errors.any():
        summary.loc[errors] = readable(frame.loc[errors, "summary"])
    start = incident_onset(frame, window) if onset is None else onset
    for rows, limit, what in (
        (errors, max_errors, "error"),
        (warnings, MAX_WARNING_SIGNATURES, "warning"),
    ):
        if rows.any():
            new = frame.loc[rows, "time"] >= start - SIGNATURE_LEAD if start is not None else None
            first, counted = _signatures(summary.loc[rows], limit, what, new)
            keep[rows] = first.to_numpy(dtype=bool)
            summary.loc[counted.index] = counted
    bursts = kind.isin(BURST_KINDS).to_numpy(dtype=bool)
    if bursts.any():
        firsts, labelled = _burst_firsts(frame.loc[bursts])
        keep[bursts] &= firsts.to_numpy(dtype=bool)
        summary.loc[labelled.index] = labelled
    deploys = (kind == "deploy").to_numpy(dtype=bool)
    if deploys.any():
        keep[deploys] = False
        for change in rollouts(frame):
            keep[change.index] = True
            summary.loc[change.index] = change.summary
    out = frame.loc[keep, list(COLUMNS)].copy()
    out["summary"] = summary.loc[keep].astype("string")
    return out.reset_index(drop=True)


def key_candidates(frame: pd.DataFrame, pinned: Iterable[str] = ()) -> np.ndarray:
    """The rows `key_events` reads (a mask): every row that is not a log line, error and
    critical log lines, and rows whose ``ref`` is ``pinned``. `key_events` of the candidates
    of a timeline, in their order, is `key_events` of the whole timeline: no rule looks at
    another log line, so a stream can keep just these and drop the rest as it goes."""
    rows: np.ndarray = (frame["kind"] != "log").to_numpy(dtype=bool, na_value=True)
    rows |= frame["severity"].isin(ERROR_OR_WORSE).to_numpy(dtype=bool)
    refs = list(pinned)
    if refs:
        rows |= frame["ref"].isin(refs).to_numpy(dtype=bool)
    return rows


def heartbeats(frame: pd.DataFrame, window: Window | None = None) -> pd.Series:
    """Mark alert events of heartbeat alerts: named like one (`HEARTBEAT_ALERTS`) or, given a
    window, firing from its first minutes to its last with no resolution in between."""
    alerts = frame["kind"].str.startswith("alert_").fillna(False).astype(bool)
    if not alerts.any():
        return alerts
    names = frame.loc[alerts, "labels"].str.extract(r'"alertname": "([^"]*)"')[0]
    names = names.reindex(frame.index)
    marked = alerts & names.isin(HEARTBEAT_ALERTS)
    if window is None:
        return marked.astype(bool)
    rows = frame.loc[alerts & names.notna()].assign(_name=names)
    for name, group in rows.groupby("_name"):
        if (
            group["time"].min() <= window.since + HEARTBEAT_EDGE
            and group["time"].max() >= window.until - HEARTBEAT_EDGE
            and not (group["kind"] == "alert_resolved").any()
        ):
            marked |= alerts & (names == name)
    return marked.astype(bool)


def incident_onset(frame: pd.DataFrame, window: Window | None = None) -> pd.Timestamp | None:
    """When the incident became visible: the first threshold crossing, alert (not a
    heartbeat) or page in the frame, or None when there is none."""
    signal = frame["kind"].isin(ONSET_KINDS) & ~heartbeats(frame, window)
    if not signal.any():
        return None
    return pd.Timestamp(frame.loc[signal, "time"].min())


def readable(summaries: pd.Series) -> pd.Series:
    """JSON log lines as their level, message and error (``error: db pool exhausted (err:
    pq: too many clients)``); other lines unchanged."""
    looks = summaries.str.lstrip().str.startswith("{").fillna(False)
    if not looks.any():
        return summaries
    out = summaries.copy()
    out.loc[looks] = [json_text(str(text)) for text in summaries.loc[looks]]
    return out


def json_text(line: str) -> str:
    """One JSON log object as ``level: message (error: ...)``, or the line if it is not one."""
    try:
        value = json.loads(line)
    except ValueError:
        return line
    if not isinstance(value, dict):
        return line
    flat = _flatten(value)
    message = _pick(flat, JSON_MESSAGE_KEYS)
    if message is None:
        return line
    level = _pick(flat, JSON_LEVEL_KEYS)
    error = _pick(flat, JSON_ERROR_KEYS)
    text = f"{level}: {message}" if level else message
    return f"{text} ({error})" if error and error != message else text


def _flatten(value: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, item in value.items():
        name = f"{prefix}{key}"
        if isinstance(item, dict):
            out |= _flatten(item, name + ".")
        else:
            out[name] = item
    return out


def _pick(flat: dict[str, Any], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        item = flat.get(key)
        if item not in (None, "") and not isinstance(item, (list, dict)):
            return " ".join(str(item).split())
    return None


def _signatures(
    summaries: pd.Series, limit: int | None, what: str, new: pd.Series | None = None
) -> tuple[pd.Series, pd.Series]:
    """Mark the first row of each signature (at most ``limit`` signatures plus one row for
    the rest); return the new summaries of the marked rows that changed.

    Signatures first seen where ``new`` is true (inside the incident) rank first, by first
    occurrence, so a noisy long-standing error cannot crowd out the incident's own first
    error; the others rank by count (ties: the earliest)."""
    signature = error_signature(summaries)
    first = ~signature.duplicated(keep="first")
    counts = signature.map(signature.value_counts()).astype("int64")
    repeated = first & (counts > 1)
    counted = (
        summaries.loc[repeated] + " (×" + counts.loc[repeated].astype("string") + " in window)"
    )
    if limit is None or int(first.sum()) <= limit:
        return first, counted
    pos = np.flatnonzero(first.to_numpy())
    fresh = new[first].to_numpy(dtype=bool) if new is not None else np.zeros(len(pos), bool)
    ranked = pd.DataFrame(
        {"old": ~fresh, "n": np.where(fresh, 0, -counts[first]), "pos": pos},
        index=first[first].index,
    )
    chosen = ranked.sort_values(["old", "n", "pos"], kind="stable").index[:limit]
    rest = first & ~first.index.isin(chosen)
    left = rest[rest].index
    lines = int(counts.loc[left].sum())
    first = first & ~rest
    first.loc[left[0]] = True
    counted = counted.drop(left, errors="ignore")
    counted.loc[left[0]] = (
        f"{len(left)} more {what} signatures ({lines} events) not listed, the first: "
        + summaries.loc[left[0]]
    )
    return first, counted


def _burst_firsts(rows: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Mark the first of each burst of like alert/threshold events; label those with more."""
    parts = (
        rows["labels"]
        .map(lambda text: "|".join(f"{k}={v}" for k, v in sorted(_BURST_LABELS.findall(str(text)))))
        .astype("string")
    )
    key = rows["source"] + "|" + rows["kind"] + "|" + rows["stream"] + "|" + parts
    ordered = rows.assign(_key=key).sort_values(["_key", "time"], kind="stable")
    gap = ordered["time"].groupby(ordered["_key"]).diff()
    burst = (gap.isna() | (gap > BURST_GAP)).cumsum()
    size = burst.map(burst.value_counts())
    first = ~burst.duplicated(keep="first")
    span = ordered["time"].groupby(burst).transform("max") - ordered["time"]
    many = first & (size > 1)
    label = [
        f" (+{n - 1} more within {seconds_text(d.total_seconds())})"
        for n, d in zip(size[many], span[many], strict=True)
    ]
    labelled = ordered.loc[many, "summary"] + pd.Series(
        label, index=size[many].index, dtype="string"
    )
    return first.reindex(rows.index), labelled

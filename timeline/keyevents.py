"""Condense a merged timeline to the events a postmortem's timeline table needs.

A first, simple rule set (order of the input is kept; it should be the merged order):

- every alert, silence, page, note, deploy, threshold crossing and integrity finding
  (`KEY_KINDS`, and any kind starting with one of `KEY_PREFIXES`);
- Kubernetes events of severity warning or worse, only the first of each signature (the same
  probe failure on twenty pods is one row, ``(×20 in window)``);
- a rollout (deploy events of one stream, each within `ROLLOUT_GAP` of the previous) keeps
  only its first and last step, each saying how many steps the rollout had;
- for error and critical log lines, only the first line of each *error signature*, with
  `` (×N in window)`` appended to its summary when the signature occurs N > 1 times;
- alert and threshold events that repeat (same source, kind, stream, alert name and state, each
  within `BURST_GAP` of the previous: one alert per pod, a flapping threshold) keep the first,
  saying ``(+N more within 3 min)``.

So that a million-event window still gives a table of tens of rows, at most
`MAX_ERROR_SIGNATURES` error signatures and `MAX_WARNING_SIGNATURES` warning signatures are
listed (the most frequent; ties: the earliest); the rest become one row at the first of them,
saying how many signatures and lines were left out. Everything else (info logs, normal
Kubernetes events, ...) is dropped.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from incident_timeline.timeline.schema import COLUMNS
from incident_timeline.timeline.timefmt import seconds_text

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
ROLLOUT_GAP = pd.Timedelta(minutes=5)
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
    (r"(?<==)[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?[a-zA-Zµ%]*(?!\w)", "<n>"),  # key=1.5ms
    (r"\b0[xX][0-9a-fA-F]+\b", "<n>"),
    # Kubernetes generated names: the 5-character pod suffix (vowel-free alphabet)
    (r"(?<=[a-z0-9]-)[bcdfghjklmnpqrstvwxz2456789]{5}\b", "<id>"),
    # hex ids: 6+ hex chars with at least one digit and one letter (so "decade" stays)
    (r"\b(?=[0-9a-fA-F]*\d)(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{6,}\b", "<n>"),
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


def key_events(frame: pd.DataFrame) -> pd.DataFrame:
    """Select the key events of a merged timeline; see the module docstring for the rules.

    Returns the schema's columns, rows in input order, with a fresh index. Counts for repeated
    errors are over ``frame`` (the window the caller gives), across all sources and streams.
    """
    frame = frame.reset_index(drop=True)
    kind = frame["kind"]
    severity = frame["severity"]
    keep = kind.isin(KEY_KINDS).to_numpy(dtype=bool, copy=True)
    for prefix in KEY_PREFIXES:
        keep |= kind.str.startswith(prefix).to_numpy(dtype=bool, na_value=False)
    summary = frame["summary"].copy()
    warnings = ((kind == "k8s_event") & severity.isin(WARNING_OR_WORSE)).to_numpy(dtype=bool)
    errors = ((kind == "log") & severity.isin(ERROR_OR_WORSE)).to_numpy(dtype=bool)
    for rows, limit, what in (
        (errors, MAX_ERROR_SIGNATURES, "error"),
        (warnings, MAX_WARNING_SIGNATURES, "warning"),
    ):
        if rows.any():
            first, counted = _signatures(frame.loc[rows, "summary"], limit, what)
            keep[rows] = first.to_numpy(dtype=bool)
            summary.loc[counted.index] = counted
    bursts = kind.isin(BURST_KINDS).to_numpy(dtype=bool)
    if bursts.any():
        firsts, labelled = _burst_firsts(frame.loc[bursts])
        keep[bursts] &= firsts.to_numpy(dtype=bool)
        summary.loc[labelled.index] = labelled
    deploys = (kind == "deploy").to_numpy(dtype=bool)
    if deploys.any():
        ends, labelled = _rollout_ends(frame.loc[deploys])
        keep[deploys] = ends.to_numpy(dtype=bool)
        summary.loc[labelled.index] = labelled
    out = frame.loc[keep, list(COLUMNS)].copy()
    out["summary"] = summary.loc[keep].astype("string")
    return out.reset_index(drop=True)


def _first_of_each_signature(summaries: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Mark the first row of each signature; return the new summaries of repeated ones."""
    return _signatures(summaries, None, "error")


def _signatures(summaries: pd.Series, limit: int | None, what: str) -> tuple[pd.Series, pd.Series]:
    """Mark the first row of each signature (at most ``limit`` signatures, the most frequent,
    plus one row for the rest); return the new summaries of the marked rows that changed."""
    signature = error_signature(summaries)
    first = ~signature.duplicated(keep="first")
    counts = signature.map(signature.value_counts()).astype("int64")
    repeated = first & (counts > 1)
    counted = (
        summaries.loc[repeated] + " (×" + counts.loc[repeated].astype("string") + " in window)"
    )
    if limit is None or int(first.sum()) <= limit:
        return first, counted
    ranked = pd.DataFrame({"n": -counts[first], "pos": np.flatnonzero(first.to_numpy())})
    chosen = ranked.sort_values(["n", "pos"], kind="stable").index[:limit]
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


def _rollout_ends(deploys: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Mark the first and last step of each rollout; return their labelled summaries."""
    by_stream = deploys.sort_values(["stream", "time"], kind="stable")
    gap = by_stream["time"].groupby(by_stream["stream"]).diff()
    burst = (gap.isna() | (gap > ROLLOUT_GAP)).cumsum()
    size = burst.map(burst.value_counts())
    first = ~burst.duplicated(keep="first")
    last = ~burst.duplicated(keep="last")
    ends = (first | last).reindex(deploys.index)
    many = (first | last) & (size > 1)
    label = pd.Series("", index=by_stream.index, dtype="string")
    label[first & many] = " (first of " + size[first & many].astype("string") + " rollout steps)"
    label[last & many & ~first] = (
        " (last of " + size[last & many & ~first].astype("string") + " rollout steps)"
    )
    return ends, by_stream.loc[many, "summary"] + label[many]

"""Condense a merged timeline to the events a postmortem's timeline table needs.

A first, simple rule set (order of the input is kept; it should be the merged order):

- every alert, silence, page, note, deploy, threshold crossing and integrity finding
  (`KEY_KINDS`, and any kind starting with one of `KEY_PREFIXES`);
- Kubernetes events of severity warning or worse;
- a rollout (deploy events of one stream, each within `ROLLOUT_GAP` of the previous) keeps
  only its first and last step, each saying how many steps the rollout had;
- for error and critical log lines, only the first line of each *error signature*, with
  `` (×N in window)`` appended to its summary when the signature occurs N > 1 times.

Everything else (info logs, normal Kubernetes events, ...) is dropped.
"""

from __future__ import annotations

import pandas as pd

from timeline.schema import COLUMNS

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

# Applied in order to the whole summary column. Placeholders are chosen so that a later rule
# cannot match inside an earlier one's output (no digits, no hex runs). Numbers and hex ids
# share one placeholder: an id that happens to be all digits must not split a signature.
_SIGNATURE_RULES: tuple[tuple[str, str], ...] = (
    (r'"(?:[^"\\]|\\.)*"', '"<str>"'),  # double-quoted strings
    (r"(?<!\w)'(?:[^'\\]|\\.)*'", "'<str>'"),  # single-quoted, not an apostrophe in a word
    (
        r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b",
        "<uuid>",
    ),
    (r"\b\d{1,3}(?:\.\d{1,3}){3}(?::\d{1,5})?\b", "<ip>"),  # IPv4, optional port
    (r"(?<==)[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?[a-zA-Zµ%]*(?!\w)", "<n>"),  # key=1.5ms
    (r"\b0[xX][0-9a-fA-F]+\b", "<n>"),
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
    keep |= ((kind == "k8s_event") & severity.isin(WARNING_OR_WORSE)).to_numpy(dtype=bool)
    errors = ((kind == "log") & severity.isin(ERROR_OR_WORSE)).to_numpy(dtype=bool)
    summary = frame["summary"].copy()
    if errors.any():
        first, counted = _first_of_each_signature(frame.loc[errors, "summary"])
        keep[errors] = first.to_numpy(dtype=bool)
        summary.loc[counted.index] = counted
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
    signature = error_signature(summaries)
    first = ~signature.duplicated(keep="first")
    counts = signature.map(signature.value_counts())
    repeated = first & (counts > 1)
    counted = (
        summaries.loc[repeated]
        + " (×"
        + counts.loc[repeated].astype("int64").astype("string")
        + " in window)"
    )
    return first, counted


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

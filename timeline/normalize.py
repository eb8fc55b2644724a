"""Normalizing what log lines say about themselves: severity from level words."""

from __future__ import annotations

import pandas as pd

from incident_timeline.timeline.columns import extract

# level=error, lvl=warn, "level":"error", severity: ERROR, and bare upper-case level words.
_LEVEL_KEYED = r"""(?i:\b(?:level|lvl|severity)["']?\s*[=:]\s*["']?(?P<level>[a-z]+))"""
_LEVEL_BARE = (
    r"\b(?P<level>FATAL|PANIC|CRITICAL|CRIT|EMERG|ALERT|ERROR|ERR|SEVERE|WARNING|WARN|INFO|NOTICE"
    r"|LOG|DEBUG|TRACE)\b"
)
_SEVERITY = {
    "fatal": "critical", "panic": "critical", "critical": "critical", "crit": "critical",
    "emerg": "critical", "alert": "critical", "error": "error", "err": "error", "e": "error",
    "severe": "error", "warning": "warning", "warn": "warning", "w": "warning",
    "info": "info", "notice": "info", "log": "info", "i": "info",
    "debug": "debug", "trace": "debug", "d": "debug",
}  # fmt: skip


def detect_severity(lines: pd.Series, default: str = "info") -> pd.Series:
    """Severity of each line from its level word (keyed first, then a bare upper-case word);
    a Go ``panic:`` line is critical; lines with no level word get ``default``."""
    text = lines.astype("string")
    keyed = extract(text, _LEVEL_KEYED)["level"].str.lower()
    bare = extract(text, _LEVEL_BARE)["level"].str.lower()
    level = keyed.where(keyed.isin(list(_SEVERITY)), bare)
    severity = level.map(_SEVERITY).astype("string")
    severity[text.str.match(r"^\s*panic:").fillna(False)] = "critical"
    return severity.fillna(default)

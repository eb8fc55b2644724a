"""Normalizing what log lines say about themselves: severity from level words."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from incident_timeline.timeline.columns import SPACE, arrow_strings, strings
from incident_timeline.timeline.timestamps.extract import string_parts

# Keyed: level=error, lvl=warn, "level":"error", severity: ERROR; and the numeric or one-letter
# levels of structured logs: bunyan and pino "level": 10 (trace) .. 60 (fatal) (bunyan README
# "Levels", pino docs "levels"); MongoDB 4.4+ "s": "F" | "E" | "W" | "I" | "D1".."D5" (MongoDB
# manual, "Log Messages", severity levels); journald JSON "PRIORITY": "0" (emerg) .. "7" (debug)
# (systemd.journal-fields, the syslog priorities).
_LEVEL_KEYED = (
    r"""(?i:\b(?:level|lvl|severity)["']?\s*[=:]\s*["']?(?P<level>[a-z]+|[1-6]0\b))"""
    r'|"s"\s*:\s*"(?P<mongo>[FEWI]|D[1-5])"'
    r'|"PRIORITY"\s*:\s*"(?P<priority>[0-7])"'
)
# A klog (glog) header, what every Kubernetes component writes: "Lmmdd hh:mm:ss.uuuuuu threadid
# file:line] msg", L one of I, W, E, F (k8s.io/klog/v2 klog.go, "Log lines have this form";
# severityChar "IWEF"). Upper-case only, as klog writes it.
_KLOG = (
    r"(?:^|\s)(?P<klog>[IWEF])[01][0-9][0-3][0-9] [0-2][0-9]:[0-5][0-9]:[0-5][0-9]\.[0-9]{6} +"
    r"[0-9]+ [^ :\]]+:[0-9]+\] "
)
# Android logcat's threadtime lines: "MM-DD HH:MM:SS.mmm PID TID L TAG: msg", L one of V D I W E F
# A (developer.android.com, "Logcat command-line tool", output formats).
_LOGCAT = r"^[01][0-9]-[0-3][0-9] [0-9:]{8}\.[0-9]{3} +[0-9]+ +[0-9]+ (?P<logcat>[VDIWEFA]) "
# A level word in brackets, any case: nginx's error log "[error]" (ngx_log.c err_levels: emerg
# alert crit error warn notice info debug), MySQL 8's "[Warning]", "[Note]", "[System]"
# (the traditional error log sink), Elasticsearch's "[INFO ]".
_BRACKETED = (
    r"\[(?P<bracket>(?i:emerg|alert|crit|critical|fatal|error|err|warn|warning|notice|note|info"
    r"|system|debug|trace)) *\]"
)
# A level between tabs, any case: zap's console encoder (zap levels debug info warn error dpanic
# panic fatal; the OpenTelemetry Collector writes them lower-case).
_TABBED = r"\t(?P<tab>(?i:debug|info|warn|error|dpanic|panic|fatal))\t"
# Bare upper-case level words.
_WORDS = (
    r"\b(?P<level>FATAL|PANIC|CRITICAL|CRIT|EMERG|ALERT|ERROR|ERR|SEVERE|WARNING|WARN|INFO|NOTICE"
    r"|LOG|DEBUG|TRACE)\b"
)
# Tried in one pass where no keyed level was found. The leftmost match wins, so a header or a
# bracketed level wins over a level word later in the message: "E1110 ... "Error syncing pod""
# is an error, "I0316 ... ERROR budget" info, nginx's "[error] ... PHP Warning:" an error.
_LEVEL_BARE = f"{_KLOG}|{_LOGCAT}|{_BRACKETED}|{_TABBED}|{_WORDS}"
_SEVERITY = {
    "fatal": "critical", "panic": "critical", "critical": "critical", "crit": "critical",
    "emerg": "critical", "alert": "critical", "error": "error", "err": "error", "e": "error",
    "severe": "error", "dpanic": "error", "warning": "warning", "warn": "warning", "w": "warning",
    "f": "critical", "info": "info", "notice": "info", "note": "info", "system": "info",
    "log": "info", "i": "info", "debug": "debug", "trace": "debug", "d": "debug", "v": "debug",
    "a": "critical",
    # bunyan/pino numbers, MongoDB debug verbosities, journald (syslog) priorities
    "10": "debug", "20": "debug", "30": "info", "40": "warning", "50": "error", "60": "critical",
    "d1": "debug", "d2": "debug", "d3": "debug", "d4": "debug", "d5": "debug",
    "0": "critical", "1": "critical", "2": "critical", "3": "error", "4": "warning",
    "5": "info", "6": "info", "7": "debug",
}  # fmt: skip


_LEVELS = pa.array(list(_SEVERITY), pa.large_string())
_NAMES = pa.array(list(_SEVERITY.values()), pa.large_string())


def detect_severity(lines: pd.Series, default: str = "info") -> pd.Series:
    """Severity of each line from its level word (keyed first, then a bare upper-case word);
    a Go ``panic:`` line is critical; lines with no level word get ``default``. Whole column
    at once with Arrow; the bare word is only looked for where no keyed one was found."""
    text = arrow_strings(lines)
    codes = _level_codes(text, _LEVEL_KEYED)
    missing = np.flatnonzero(codes < 0)
    if len(missing):
        codes[missing] = _bare_codes(text.take(pa.array(missing)))
    severity = _NAMES.take(pa.array(codes, mask=codes < 0)).fill_null(default)
    panic = _panics(text)
    if len(panic):
        mask = np.zeros(len(text), dtype=bool)
        mask[panic] = True
        severity = pc.if_else(mask, pa.scalar("critical", pa.large_string()), severity)
    return pd.Series(strings(severity), index=lines.index, copy=False)


_UNREAD = -2  # a row the klog reading leaves to the regex
_FEW = 256  # fewer klog-looking rows: the extract alone is cheaper than a second pattern
# A klog header at the line's start (the ``^`` of _KLOG's first alternative): the leftmost
# place any of _LEVEL_BARE's alternatives can match, and klog's is the first alternative.
_KLOG_START = "^" + _KLOG[_KLOG.index("(?P<klog>") :]
_KLOG_LETTERS = np.full(256, -1, dtype=np.int64)
for _letter in "IWEF":
    _KLOG_LETTERS[ord(_letter)] = list(_SEVERITY).index(_letter.lower())


def _bare_codes(text: pa.Array) -> np.ndarray:
    """_level_codes of _LEVEL_BARE; a klog header opening the line is found by RE2's match
    alone (its letter is the first byte), the other rows are extracted."""
    codes = np.full(len(text), _UNREAD, dtype=np.int64)
    data, starts, lengths = string_parts(text)
    if len(data):
        first = data[np.minimum(starts, len(data) - 1)]
        maybe = np.flatnonzero((_KLOG_LETTERS[first] >= 0) & (lengths > 0))
        if len(maybe) > _FEW:
            hit = pc.match_substring_regex(text.take(pa.array(maybe)), _KLOG_START)
            rows = maybe[hit.to_numpy(zero_copy_only=False)]
            codes[rows] = _KLOG_LETTERS[first[rows]]
    rest = np.flatnonzero(codes == _UNREAD)
    codes[rest] = _level_codes(text.take(pa.array(rest)), _LEVEL_BARE)
    return codes


# First bytes of a line that can open with ``panic:``: "p" or a space character's first byte
# (ASCII, or the lead byte of U+0085/U+00A0, U+1680, U+2000-U+205F, U+3000).
_PANIC_OPENS = np.zeros(256, dtype=bool)
_PANIC_OPENS[[9, 10, 11, 12, 13, 28, 29, 30, 31, 32, 0xC2, 0xE1, 0xE2, 0xE3, ord("p")]] = True


def _panics(text: pa.Array) -> np.ndarray:
    """Rows of a Go ``panic:`` line (the regex reads only rows that can open with one)."""
    data, starts, lengths = string_parts(text)
    if not len(data):
        return np.zeros(0, dtype=np.int64)
    maybe = np.flatnonzero(_PANIC_OPENS[data[np.minimum(starts, len(data) - 1)]] & (lengths > 0))
    if not len(maybe):
        return maybe
    hit = pc.match_substring_regex(text.take(pa.array(maybe)), f"^{SPACE}*panic:")
    rows: np.ndarray = maybe[hit.fill_null(False).to_numpy(zero_copy_only=False)]
    return rows


def _level_codes(text: pa.Array, pattern: str) -> np.ndarray:
    """Position in _SEVERITY of each row's level word (lower-cased), -1 where none is known."""
    codes = np.full(len(text), -1, dtype=np.int64)
    if not len(text):
        return codes
    found = pc.extract_regex(text, pattern)
    # One group takes part in a match; RE2 leaves the others empty (and a row without a match
    # is null): each group's words are looked up on the rows where it holds one.
    for i in range(found.type.num_fields):
        group = pc.struct_field(found, [i])
        rows = np.flatnonzero(string_parts(group)[2] > 0)
        if len(rows):
            word = pc.utf8_lower(group.take(pa.array(rows)))
            index = pc.index_in(word, value_set=_LEVELS).fill_null(-1)
            codes[rows] = index.to_numpy(zero_copy_only=False)
    return codes

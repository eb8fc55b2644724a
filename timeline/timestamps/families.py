"""The timestamp families the parser knows, as one table.

Each family is a regular expression of the timestamp itself (``body``, with named groups for its
parts) and, optionally, the context around it that is not part of the timestamp (``before``,
``after``: a JSON key, a klog level letter). ``time_raw`` is the text ``body`` matched, exactly as
written. Patterns use only syntax that RE2 (pyarrow's regex engine, used for whole columns) and
Python's ``re`` (used on samples and leftovers, with ``re.ASCII``) read the same way: no
look-arounds, no back-references, ``[0-9]`` rather than ``\\d``.

Group names: ``Y`` 4-digit year, ``y`` 2-digit year, ``m`` month number, ``b`` month name,
``d`` day, ``j`` day of year, ``H`` ``M`` ``S`` clock, ``f`` fraction (1-9 digits), ``z`` zone,
``E`` epoch digits, ``F`` epoch fraction, ``N`` nanoseconds, ``X`` TAI64N hex label.

Order is priority: where two families match at the same position of a line, the earlier wins.
Across positions the leftmost match wins, so the FIRST timestamp of a line is its time (BGL's
epoch before its local date-time, Windows CBS's date before the CSI one, a syslog or kubectl
prefix before the klog header it carries).
"""

from __future__ import annotations

import dataclasses
import re
from functools import lru_cache

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MON = "|".join(MONTHS)
_DOW = "Mon|Tue|Wed|Thu|Fri|Sat|Sun"

# Zone abbreviations read as fixed offsets (minutes east of UTC). Ambiguous ones (CST, IST, BST,
# AST) are left out on purpose: a timestamp carrying one is read as naive, in the zone
# configured for the stream, rather than guessed.
ABBREVIATIONS: dict[str, int] = {
    "UTC": 0, "GMT": 0, "UT": 0, "Z": 0, "WET": 0, "WEST": 60, "CET": 60, "CEST": 120,
    "MET": 60, "MEST": 120, "EET": 120, "EEST": 180, "MSK": 180, "EST": -300, "EDT": -240,
    "CDT": -300, "MST": -420, "MDT": -360, "PST": -480, "PDT": -420, "AKST": -540,
    "AKDT": -480, "HST": -600, "JST": 540, "KST": 540, "HKT": 480, "SGT": 480, "AWST": 480,
    "ACST": 570, "ACDT": 630, "AEST": 600, "AEDT": 660, "NZST": 720, "NZDT": 780,
}  # fmt: skip
_ABBR = "|".join(sorted((a for a in ABBREVIATIONS if a != "Z"), key=lambda a: (-len(a), a)))
_NUM_ZONE = r"[+-][0-9]{2}:[0-9]{2}|[+-][0-9]{4}|[+-][0-9]{2}\b"
# An optional zone right after the clock: Z, +hh:mm, +hhmm, +hh, or a known abbreviation;
# a space may come first (PostgreSQL "... 01:45:01.123 PDT", Go "... 14:31:02 +0000").
ZONE = rf"(?P<z> ?(?:Z\b|{_NUM_ZONE}|(?:{_ABBR})\b))?"
_CLOCK = r"(?P<H>[0-9]{2}):(?P<M>[0-9]{2}):(?P<S>[0-9]{2})"
_FRAC = r"(?:[.,](?P<f>[0-9]{1,9}))?"
_DOT_FRAC = r"(?:\.(?P<f>[0-9]{1,9}))?"
_ISO = rf"(?P<Y>[0-9]{{4}})-(?P<m>[0-9]{{2}})-(?P<d>[0-9]{{2}})[T ]{_CLOCK}{_FRAC}{ZONE}"
_EPOCH = r"(?P<E>[0-9]{19}|[0-9]{16}|[0-9]{13}|[0-9]{10})(?:\.(?P<F>[0-9]{1,9}))?"
TIME_KEYS = (
    "@timestamp|timestamp|time|ts|t|date|datetime|_time|eventTime|logtime|asctime|"
    "__REALTIME_TIMESTAMP|timeUnixNano|observedTimeUnixNano|time_unix_nano"
)
_JSON_KEY = rf'"(?:{TIME_KEYS})" *: *(?:\{{ *"\$date" *: *)?'


@dataclasses.dataclass(frozen=True)
class Family:
    """One timestamp layout: ``body`` is the timestamp, ``before``/``after`` its context.

    ``kind`` says how the parts become an instant: ``civil`` (calendar fields), ``iso`` (calendar
    fields in the ISO 8601 layout, parsed by a fast byte-level path), ``epoch`` (Unix time; the
    unit follows from the digit count: 10 s, 13 ms, 16 µs, 19 ns), ``instant`` (epoch seconds +
    nanoseconds) or ``tai64n``. ``example`` is a line the family must parse.
    """

    name: str
    body: str
    kind: str
    example: str
    before: str = ""
    after: str = ""
    # An epoch's unit as sub-second digits (0 s, 3 ms, 6 µs, 9 ns); None: by its digit count.
    unit: int | None = None
    # Whether every match satisfies QUICK (all built-ins do), so a search for this family may
    # skip the lines without one; a user's or an inferred layout need not.
    quick: bool = True

    @property
    def has_year(self) -> bool:
        """Whether the layout carries a year (else it comes from the window)."""
        return self.kind != "civil" or "(?P<Y>" in self.body or "(?P<y>" in self.body

    def component_regex(self) -> str:
        """The body alone, anchored at both ends, with its named groups."""
        return f"^(?:{self.body})$"

    def identify_regex(self, group: str) -> str:
        """Context plus body, the body captured as ``group`` and its own groups unnamed."""
        return f"{self.before}(?P<{group}>{unname(self.body)}){self.after}"


def unname(pattern: str) -> str:
    """Turn every named group of ``pattern`` into a non-capturing group."""
    return re.sub(r"\(\?P<[A-Za-z_][A-Za-z0-9_]*>", "(?:", pattern)


FAMILIES: tuple[Family, ...] = (
    Family("json_instant", r'(?P<E>[0-9]{1,12}) *, *"nanoOfSecond" *: *(?P<N>[0-9]{1,9})',
           "instant", '{"instant":{"epochSecond": 1663977609,"nanoOfSecond": 484000000}}',
           before=r'"epochSecond" *: *'),
    Family("json_epoch", _EPOCH, "epoch", '{"level":"info","ts":1761019822.3152757}',
           before=rf'{_JSON_KEY}"?', after=r'\b'),
    Family("json_iso", _ISO, "iso", '{"time":"2023-03-24T14:26:16.243Z","v":0}',
           before=rf'{_JSON_KEY}"'),
    Family("logfmt_epoch", _EPOCH, "epoch", "level=info ts=1700000000.25 msg=up",
           before=r"\b(?:ts|time|timestamp|t)=", after=r"\b"),
    Family("bgl", r"(?P<E>[0-9]{10})", "epoch",
           "- 1117838570 2005.06.03 R02-M1-N0-C:J12-U11 2005-06-03-15.42.50.675872 R02 RAS",
           before=r"^[^ ]+ ", after=r" [0-9]{4}\.[0-9]{2}\.[0-9]{2} "),
    Family("tai64n", r"@(?P<X>4[0-9a-f]{23})", "tai64n", "@40000000433225833b6e1a8c tcpserver"),
    Family("epoch_line", _EPOCH, "epoch", "1428634687123 Hello, World!", before="^",
           after=r"\b"),
    Family("iso", _ISO, "iso", "2024-01-15T14:31:02.123456789Z stdout F hello"),
    Family("iso_dashed", r"(?P<Y>[0-9]{4})-(?P<m>[0-9]{2})-(?P<d>[0-9]{2})-(?P<H>[0-9]{2})\."
           r"(?P<M>[0-9]{2})\.(?P<S>[0-9]{2})" + _DOT_FRAC, "civil",
           "R02 2005-06-03-15.42.50.675872 RAS KERNEL INFO"),
    Family("iso_ordinal", rf"(?P<Y>[0-9]{{4}})-(?P<j>[0-9]{{3}})T{_CLOCK}{_FRAC}{ZONE}",
           "civil", "2012-025T10:22:40,672:DEBUG:foo"),
    Family("iso_basic", r"(?P<Y>[0-9]{4})(?P<m>[0-9]{2})(?P<d>[0-9]{2})[T.](?P<H>[0-9]{2})"
           r"(?P<M>[0-9]{2})(?P<S>[0-9]{2})" + _FRAC + r"(?P<z>Z|[+-][0-9]{4})?", "civil",
           "20120702.102240,672:DEBUG:foo", before=r"\b"),
    Family("ctime", rf"(?:{_DOW}) (?P<b>{_MON}) {{1,2}}(?P<d>[0-9]{{1,2}}) {_CLOCK}{_DOT_FRAC}"
           rf"(?: (?P<z>UTC|GMT|{_ABBR}))? (?P<Y>[0-9]{{4}})", "civil",
           "[Sun Dec 04 04:47:44 2005] [notice] workerEnv.init() ok", before=r"\b"),
    Family("clf", rf"(?P<d>[0-9]{{2}})/(?P<b>{_MON})/(?P<Y>[0-9]{{4}}):{_CLOCK}{_DOT_FRAC}"
           r"(?P<z> [+-][0-9]{4})?", "civil",
           '1.2.3.4 - - [15/Jan/2024:14:31:02 +0000] "GET / HTTP/1.1" 200', before=r"\b"),
    Family("dmy_name", rf"(?:(?:{_DOW}), )?(?P<d>[0-9]{{1,2}}) (?P<b>{_MON}) "
           rf"(?:(?P<Y>[0-9]{{4}}) )?{_CLOCK}{_DOT_FRAC}(?P<z> [+-][0-9]{{4}}| (?:{_ABBR})\b)?",
           "civil", "26571:M 27 Dec 2018 11:19:18.874 * Synchronization", before=r"\b"),
    Family("syslog", rf"(?P<b>{_MON}) {{1,2}}(?P<d>[0-9]{{1,2}}) {_CLOCK}{_DOT_FRAC}", "civil",
           "Jun 14 15:16:01 combo sshd(pam_unix)[19939]: check pass", before=r"\b"),
    Family("klog", rf"(?P<m>[0-9]{{2}})(?P<d>[0-9]{{2}}) {_CLOCK}{_DOT_FRAC}", "civil",
           "I0115 14:31:02.123456    2296 prober.go:107] probe", before=r"\b[IWEF]"),
    Family("slash_ymd", r"(?P<Y>[0-9]{4})/(?P<m>[0-9]{1,2})/(?P<d>[0-9]{1,2})[ :]"
           r"(?P<H>[0-9]{1,2}):(?P<M>[0-9]{2}):(?P<S>[0-9]{2})" + _DOT_FRAC, "civil",
           "2011/02/22 21:50:30 [8203] rsyncd version 2.6.9 starting", before=r"\b"),
    Family("slash_yymmdd", rf"(?P<y>[0-9]{{2}})/(?P<m>[0-9]{{2}})/(?P<d>[0-9]{{2}}) {_CLOCK}"
           + _FRAC, "civil", "17/06/09 20:10:40 INFO executor.Backend: Registered",
           before=r"\b"),
    Family("yymmdd_clock", r"(?P<y>[0-9]{2})(?P<m>[0-9]{2})(?P<d>[0-9]{2}) +(?P<H>[0-9]{1,2}):"
           r"(?P<M>[0-9]{2}):(?P<S>[0-9]{2})", "civil", "161209 14:18:50 [Note] Plugin",
           before=r"\b"),
    Family("hdfs", r"(?P<y>[0-9]{2})(?P<m>[0-9]{2})(?P<d>[0-9]{2}) (?P<H>[0-9]{2})(?P<M>[0-9]{2})"
           r"(?P<S>[0-9]{2})", "civil", "081109 203615 148 INFO dfs.DataNode: done",
           before="^", after=r"\b"),
    Family("month_day", rf"(?P<m>[0-9]{{2}})-(?P<d>[0-9]{{2}}) {_CLOCK}\.(?P<f>[0-9]{{3,9}})",
           "civil", "03-17 16:13:38.811  1702  2395 D WindowManager: x", before=r"\b"),
)  # fmt: skip
BY_NAME: dict[str, Family] = {f.name: f for f in FAMILIES}

# Leftovers with no family: a loose date-and-clock shape handed to dateutil, one line at a time.
LOOSE = (
    r"(?:[0-9]{1,4}[./-][0-9]{1,2}[./-][0-9]{1,4}|[A-Z][a-z]{2,8}\.? [0-9]{1,2},? [0-9]{4})"
    r"[ T,]+[0-9]{1,2}:[0-9]{2}(?::[0-9]{2}(?:[.,][0-9]{1,6})?)?(?: ?[AaPp][Mm]\b)?"
    r"(?: ?(?:Z\b|UTC\b|GMT\b|[+-][0-9]{2}:?[0-9]{2}))?"
)

# Every timestamp of every family (and LOOSE) contains one of these: a clock "9:46" or
# "15.42.50", 10+ digits, "yyMMdd HHmmss", a basic ISO date-time, a TAI64N label, epochSecond.
QUICK = (
    r"[0-9]:[0-9]{2}|[0-9]\.[0-9]{2}\.[0-9]{2}|[0-9]{10}|[0-9]{6} [0-9]{6}|[0-9]{8}[T.][0-9]{6}"
    r"|@4[0-9a-f]{23}|epochSecond"
)


# A set of families is a tuple of values in priority order: the built-ins (FAMILIES), a part of
# them, or a caller's own (a user's ``time_format``, an inferred layout); nothing indexes a
# global table, so any set runs through the same search and conversion.
Families = tuple[Family, ...]


def group_name(index: int) -> str:
    """The capture group that marks the ``index``-th family of a set in its identify regex."""
    return f"g{index}"


def group_index(name: str) -> int:
    """The position in its set of the family whose identify group is ``name``."""
    return int(name[1:])


@lru_cache(maxsize=256)
def identify_regex(families: Families, anchored: bool = False) -> str:
    """One regex for ``families`` (in priority order), the ``i``-th body captured as
    ``g<i>``: leftmost match first, then earliest family."""
    body = "|".join(f.identify_regex(group_name(i)) for i, f in enumerate(families))
    return f"^(?:{body})" if anchored else f"(?:{body})"


def subset(families: Families, keep: set[Family] | frozenset[Family]) -> Families:
    """The members of ``families`` in ``keep``, in the set's priority order."""
    return tuple(f for f in families if f in keep)


@lru_cache(maxsize=256)
def compiled(pattern: str) -> re.Pattern[str]:
    """``pattern`` compiled for Python with ASCII classes, as RE2 reads it."""
    return re.compile(pattern, re.ASCII)

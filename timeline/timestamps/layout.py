"""A user's timestamp layout (``time_format``, ``time_regex``) as a ``Family`` value.

A layout written as strftime codes becomes a family like the built-ins, so it runs through the
same search (RE2 over the whole column) and the same numpy conversion, at the same speed.

Codes (those of C's strftime/Python's ``strptime`` that fix an instant, plus fraction widths):
``%Y`` ``%y`` (POSIX: 69-99 are 19xx) ``%m`` ``%d`` ``%e`` (space-padded day) ``%j`` ``%b``/``%h``
``%B`` (English month names) ``%a``/``%A`` (weekday, read and ignored) ``%H`` ``%M`` ``%S``
``%I`` with ``%p`` (a 12-hour clock and AM/PM, any case, dots allowed: ``3:04 p.m.``)
``%f`` (1-9 fraction digits: Python's ``%f`` stops at 6, logs carry up to nanoseconds),
``%3f`` ``%6f`` ``%9f`` (exactly that many), ``%L`` (milliseconds, a count of 1-3 digits),
``%z`` (``Z``, ``+hh:mm``, ``+hhmm``, ``+hh``),
``%Z`` (an abbreviation: the unambiguous ones in ``families.ABBREVIATIONS`` fix the offset,
others are read in the stream's zone), ``%T`` (``%H:%M:%S``), ``%F`` (``%Y-%m-%d``), ``%%``.
Numeric fields take one or two digits, as ``strptime`` does, except next to another numeric
field (``%Y%m%d``), where they take exactly their width. A space matches one or more spaces.
A layout without a date (``%H:%M:%S.%f``) takes the window's first day, one day later each
time the clock goes back past midnight.
``epoch_s``, ``epoch_ms``, ``epoch_us`` and ``epoch_ns`` read Unix time in that unit (the first
number of 10, 13, 16 or 19 digits, optionally with a fraction).

``time_regex`` says where on the line the stamp is: a regular expression (RE2 syntax, as
pyarrow reads it) whose group named ``time``, else its first group, holds the stamp. Its other
groups are only grouping.
"""

from __future__ import annotations

import re

import pyarrow as pa
import pyarrow.compute as pc

from incident_timeline.timeline.errors import InputError
from incident_timeline.timeline.timestamps.families import (
    ABBREVIATIONS,
    MONTHS,
    Families,
    Family,
)

_FULL_MONTHS = (
    "January|February|March|April|May|June|July|August|September|October|November|December"
)
_DAYS = "Mon|Tue|Wed|Thu|Fri|Sat|Sun"
_FULL_DAYS = "Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday"
_ABBR = "|".join(sorted((a for a in ABBREVIATIONS if a != "Z"), key=lambda a: (-len(a), a)))
# Code -> (group name, width when next to another numeric field, loose regex).
_NUMERIC: dict[str, tuple[str, int, str]] = {
    "Y": ("Y", 4, "[0-9]{4}"),
    "y": ("y", 2, "[0-9]{2}"),
    "m": ("m", 2, "[0-9]{1,2}"),
    "d": ("d", 2, "[0-9]{1,2}"),
    "j": ("j", 3, "[0-9]{1,3}"),
    "H": ("H", 2, "[0-9]{1,2}"),
    "I": ("I", 2, "[0-9]{1,2}"),
    "M": ("M", 2, "[0-9]{1,2}"),
    "S": ("S", 2, "[0-9]{1,2}"),
}
_OTHER: dict[str, str] = {
    "b": f"(?P<b>{'|'.join(MONTHS)})",
    "h": f"(?P<b>{'|'.join(MONTHS)})",
    "B": f"(?P<b>{_FULL_MONTHS})",
    "a": f"(?:{_DAYS})",
    "A": f"(?:{_FULL_DAYS})",
    "e": " ?(?P<d>[0-9]{1,2})",
    "f": "(?P<f>[0-9]{1,9})",
    # Milliseconds as a count of 1-3 digits (Ruby's and lnav's %L): after a colon, as in
    # HealthApp's "22:15:29:606", a field is counted like the clock's, not a decimal fraction.
    "L": "(?P<L>[0-9]{1,3})",
    # AM/PM, any case, with or without dots (C's %p is the locale's; these are English).
    "p": "(?P<p>[AaPp]\\.?[Mm]\\.?)",
    "z": "(?P<z>Z|[+-][0-9]{2}(?::?[0-9]{2})?)",
    # An unknown or ambiguous abbreviation (CST, IST) is matched but not read: naive time.
    "Z": f"(?:(?P<z>{_ABBR})\\b|[A-Z]{{2,5}}\\b)",
    "%": "%",
}
_ALIASES = {"T": "%H:%M:%S", "F": "%Y-%m-%d"}
EPOCHS: dict[str, tuple[int, int]] = {  # name -> (sub-second digits, digits since 2001)
    "epoch_s": (0, 10),
    "epoch_ms": (3, 13),
    "epoch_us": (6, 16),
    "epoch_ns": (9, 19),
}
# A layout's stamp is not part of a longer number: no digit (or, for an epoch, no decimal point)
# right before it, no digit right after it.
_EDGE_BEFORE, _EDGE_AFTER = r"(?:^|[^0-9.])", r"(?:[^0-9]|$)"
_CODE = re.compile(r"%(?:[369]f|.)", re.DOTALL)


class LayoutError(InputError):
    """A ``time_format`` or ``time_regex`` that cannot be read."""


def compile_format(text: str, regex: str | None = None) -> Family:
    """The family reading timestamps written as ``text`` (strftime codes or ``epoch_*``),
    found where ``regex`` says (see the module's docstring); LayoutError when either is
    wrong. Example: ``compile_format("%Y%m%d-%H:%M:%S:%3f")`` reads ``20171223-22:15:29:606``."""
    if text in EPOCHS:
        unit, digits = EPOCHS[text]
        body = rf"(?P<E>[0-9]{{{digits}}})(?:\.(?P<F>[0-9]{{1,9}}))?"
        family = Family(
            f"time_format {text}", body, "epoch", "", _EDGE_BEFORE, _EDGE_AFTER, unit, False
        )
    else:
        body = _body(text)
        family = Family(
            f"time_format {text}", body, "civil", "", _EDGE_BEFORE, _EDGE_AFTER, quick=False
        )
    _check_re2(family.identify_regex("g0"), f"time_format {text!r}")
    return family if regex is None else placed((family,), regex)[0]


def _body(text: str) -> str:
    for code, expansion in _ALIASES.items():
        text = text.replace(f"%{code}", expansion)
    tokens = _tokens(text)
    names = [t[1] for t in tokens if t[0] == "code"]
    if "H" not in names and "I" not in names:
        raise LayoutError(f"time_format {text!r} has no %H (or %I): a timestamp needs its clock")
    if "M" not in names:
        raise LayoutError(f"time_format {text!r} has no %M: a timestamp needs its clock")
    if ("I" in names) != ("p" in names):
        # strptime reads %I without %p as AM: 3 PM would be read as 03:00, silently.
        raise LayoutError(f"time_format {text!r}: %I and %p go together (or use %H)")
    if "I" in names and "H" in names:
        raise LayoutError(f"time_format {text!r} has both %H and %I")
    dated = any(code in names for code in ("Y", "y", "m", "b", "h", "B", "d", "e", "j"))
    # A clock alone (strace -tt writes "08:09:33.814936") takes its date from the window.
    if dated and "j" not in names and not ("d" in names or "e" in names):
        raise LayoutError(f"time_format {text!r} has no day (%d, %e or %j)")
    if "j" in names and not ("Y" in names or "y" in names):
        raise LayoutError(f"time_format {text!r}: %j needs a year (%Y or %y)")
    if dated and "j" not in names and not any(m in names for m in ("m", "b", "h", "B")):
        raise LayoutError(f"time_format {text!r} has no month (%m, %b or %B)")
    parts, used = [], set()
    for i, (kind, value) in enumerate(tokens):
        if kind == "text":
            parts.append(" +" if value == " " else re.escape(value))
            continue
        group = _NUMERIC.get(value, (value, 0, ""))[0] if value in _NUMERIC else value
        if group in used and value not in ("a", "A", "%"):
            raise LayoutError(f"time_format {text!r} has %{value} twice")
        used.add(group)
        parts.append(_code(value, tokens, i, text))
    return "".join(parts)


def _tokens(text: str) -> list[tuple[str, str]]:
    """``text`` as ("code", letter) and ("text", character) tokens; runs of spaces are one."""
    out: list[tuple[str, str]] = []
    at = 0
    for match in _CODE.finditer(text):
        out.extend(("text", c) for c in text[at : match.start()])
        out.append(("code", match.group()[1:]))
        at = match.end()
    out.extend(("text", c) for c in text[at:])
    squeezed: list[tuple[str, str]] = []
    for token in out:
        if not (token == ("text", " ") and squeezed and squeezed[-1] == token):
            squeezed.append(token)
    return squeezed


def _code(value: str, tokens: list[tuple[str, str]], i: int, text: str) -> str:
    if value in ("3f", "6f", "9f"):
        return f"(?P<f>[0-9]{{{value[0]}}})"
    if value in _NUMERIC:
        name, width, loose = _NUMERIC[value]

        def numeric(k: int) -> bool:
            return 0 <= k < len(tokens) and tokens[k][0] == "code" and tokens[k][1] in _NUMERIC

        exact = numeric(i - 1) or numeric(i + 1)
        return f"(?P<{name}>{'[0-9]{' + str(width) + '}' if exact else loose})"
    if value in _OTHER:
        return _OTHER[value]
    raise LayoutError(
        f"time_format {text!r}: %{value} is not supported (use %Y %y %m %d %e %j %b %B %a "
        "%H %I %p %M %S %f %3f %6f %9f %L %z %Z %T %F %%, or epoch_s/epoch_ms/epoch_us/epoch_ns)"
    )


def placed(families: Families, regex: str) -> Families:
    """``families`` found only where ``regex`` puts the stamp (its ``time`` group, else its
    first group): each family's own context is replaced by the text around that group."""
    before, after = split_regex(regex)
    _check_re2(f"{before}(?P<g0>x){after}", f"time_regex {regex!r}")
    return tuple(
        Family(f.name, f.body, f.kind, f.example, before, after, f.unit, quick=False)
        for f in families
    )


def split_regex(regex: str) -> tuple[str, str]:
    """The parts of ``regex`` before and after its stamp group, every other group made
    non-capturing (pyarrow reads named groups only); LayoutError when it has none."""
    try:
        re.compile(regex)
    except re.error as exc:
        raise LayoutError(f"time_regex {regex!r} is not a regular expression: {exc}") from None
    groups = list(_groups(regex))
    if not groups:
        raise LayoutError(f"time_regex {regex!r} has no group: put the stamp in (?P<time>...)")
    named = [g for g in groups if g[2] == "time"]
    start, end, _ = named[0] if named else groups[0]
    return _plain(regex[:start]), _plain(regex[end + 1 :])


def _groups(regex: str) -> list[tuple[int, int, str | None]]:
    """Every capturing group of ``regex``: (offset of its "(", of its ")", its name)."""
    out, stack = [], []
    for i, c in _structure(regex):
        if c == "(":
            name = re.match(r"\(\?P<([A-Za-z_][A-Za-z0-9_]*)>", regex[i:])
            capturing = name is not None or regex[i + 1 : i + 2] != "?"
            stack.append((i, capturing, name.group(1) if name else None))
        elif stack:
            start, capturing, label = stack.pop()
            if capturing:
                out.append((start, i, label))
    return sorted(out)


def _structure(regex: str) -> list[tuple[int, str]]:
    """The offsets of the parentheses of ``regex`` that group (not escaped, not in a class)."""
    out = []
    i, in_class = 0, False
    while i < len(regex):
        c = regex[i]
        if c == "\\":
            i += 2
            continue
        if in_class:
            in_class = c != "]"
        elif c == "[":
            in_class = True
            i += 2 if regex[i + 1 : i + 2] == "]" else 1
            continue
        elif c in "()":
            out.append((i, c))
        i += 1
    return out


def _plain(pattern: str) -> str:
    """``pattern`` with every group non-capturing."""
    pieces, at = [], 0
    for i, c in _structure(pattern):
        if c != "(":
            continue
        name = re.match(r"\(\?P<[A-Za-z_][A-Za-z0-9_]*>", pattern[i:])
        if name is not None:
            pieces += [pattern[at:i], "(?:"]
            at = name.end() + i
        elif pattern[i + 1 : i + 2] != "?":
            pieces += [pattern[at:i], "(?:"]
            at = i + 1
    return "".join([*pieces, pattern[at:]])


def _check_re2(pattern: str, what: str) -> None:
    """Compile ``pattern`` as pyarrow does (RE2): LayoutError naming ``what`` when it cannot."""
    try:
        pc.extract_regex(pa.array([""], pa.large_string()), pattern)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise LayoutError(f"{what} cannot be used: {exc}") from None

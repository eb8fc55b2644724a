"""The column helpers that skip rows for speed (strip_leading, summarize, the panic check)
give what their definitions say on every row, checked against Python's own reading of the
same rules (``\\s`` and ``str.split`` are Python's whitespace, as SPACE spells it for RE2)."""

from __future__ import annotations

import re

import hypothesis.strategies as st
import pandas as pd
from hypothesis import given, settings

from incident_timeline.collector.lines import SUMMARY_MAX, strip_leading, summarize
from incident_timeline.timeline.normalize import detect_severity

STAMP = "2024-01-15T14:31:02.5Z"
# Openings of every kind, Unicode spaces first (U+3000, U+00A0, U+2007, U+0085, U+1680).
LINES = [
    f"{STAMP} plain",
    f"\u3000{STAMP} ideographic space",
    f"\u00a0[{STAMP}] bracketed after a no-break space",
    f'\u2007\t"{STAMP}": quoted, figure space and tab',
    f"\u0085time={STAMP} | next line char",
    f"\u1680ts={STAMP}, ogham space",
    f"t={STAMP} - logfmt t",
    f"timestamp={STAMP}\u2028line separator after",
    f"x {STAMP} not at the start",
    f"time= {STAMP} a space after the key",
    "",
    "   ",
    "\u3000panic: with an ideographic indent",
    "\tpanic: after a tab",
    "panic: bare",
    "xpanic: no",
    "  not panic: later",
    "é" * 200,  # 400 bytes, 200 characters: not cut
    "é" * 241,
    "a  b\t\tc\u3000\u3000d  ",
    "  indented   frame  ",
]


def _strip_reference(text: str, stamp: str) -> str:
    opening = re.match(r'\s*(?:(?:time|ts|t|timestamp)=)?[\["]?', text)
    at = opening.end() if opening else 0
    if not stamp or not text[at:].startswith(stamp):
        return text
    return re.sub(r'^[\]"]?(?:[:|,\-]|\s)*', "", text[at + len(stamp) :], count=1)


def _summary_reference(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= SUMMARY_MAX else flat[: SUMMARY_MAX - 1] + "…"


def test_strip_leading_and_summarize_match_their_definitions() -> None:
    lines = pd.Series(LINES, dtype="string", index=range(10, 10 + len(LINES)))
    stamps = pd.Series([STAMP] * len(LINES), dtype="string", index=lines.index)
    stripped = strip_leading(lines, stamps)
    assert stripped.tolist() == [_strip_reference(t, STAMP) for t in LINES]
    assert stripped.tolist()[:3] == [
        "plain",
        "ideographic space",
        "bracketed after a no-break space",
    ]
    assert summarize(stripped).tolist() == [_summary_reference(t) for t in stripped.tolist()]
    assert summarize(lines).index.equals(lines.index)


def test_panic_lines_are_critical_whatever_their_indent() -> None:
    severity = detect_severity(pd.Series(LINES, dtype="string")).tolist()
    panics = [re.match(r"\s*panic:", t) is not None for t in LINES]
    assert [s == "critical" for s in severity] == panics
    assert sum(panics) == 3


# Pieces that make every path of summarize: ASCII and Unicode whitespace runs (collapsed byte
# by byte, or by the regex), rows cut at SUMMARY_MAX, and rows over 2 HEAD bytes read from
# their head (whose whitespace may collapse to fewer than SUMMARY_MAX characters).
_PIECES = [" ", "  ", "\t", "\x1c", "\u3000", "\u00a0", "\u2028", "a", "é", "word", "…", "\x00"]
_PIECES += [" " * 900, "\t " * 700, "x" * 700, "é" * 400]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(st.sampled_from(_PIECES), max_size=12).map("".join), max_size=6))
def test_summarize_matches_its_definition_on_any_row(rows: list[str]) -> None:
    text = pd.Series([*rows, None], dtype="string")
    assert summarize(text).tolist()[:-1] == [_summary_reference(t) for t in rows]
    assert summarize(text).tolist()[-1] == ""


_OPENINGS = ["", " ", "\u3000", "[", '"', "ts=", "time=[", "\t"]
_AFTER = ["]", '"', ":", "|", ",", "-", " ", "\t", "\u00a0", "\u2028", "x", "é", "]]", " - "]


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(_OPENINGS), st.lists(st.sampled_from(_AFTER), max_size=12).map("".join)
        ),
        min_size=1,
        max_size=8,
    )
)
def test_strip_leading_matches_its_definition_on_any_row(rows: list[tuple[str, str]]) -> None:
    lines = [f"{opening}{STAMP}{after}" for opening, after in rows]
    text = pd.Series(lines, dtype="string")
    stamps = pd.Series([STAMP] * len(lines), dtype="string")
    assert strip_leading(text, stamps).tolist() == [_strip_reference(t, STAMP) for t in lines]

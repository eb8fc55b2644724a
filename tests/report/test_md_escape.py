"""Evidence text in Markdown renders as the same text: checked with the real cmark-gfm."""

from __future__ import annotations

import pandas as pd
import pytest

from incident_timeline.report.markdown import md_cell, md_code, md_row, md_text
from tests.report.gfm import Html, render_gfm

PLANTED = [
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    "err=<nil>",
    "in __init__ and *starred* ~~struck~~",
    "AT&amp;T & co",
    "[x](javascript:alert(1))",
    "# Root Cause",
    "see https://evil.example/a_b, www.evil.example and ops@evil.example",
    "a | b | c",
    "`code` and \\ backslash",
    "> quoted",
    "1. not a list",
    "- not a bullet",
    "cost $5 and $6",
    "![img](http://x/y.png)",
]


def test_md_text_escapes_known_cases() -> None:
    assert md_text("a|b") == "a\\|b"
    assert md_text("one\r\ntwo\nthree\rfour") == "one ⏎ two ⏎ three ⏎ four"
    assert md_text("  padded\n") == "padded"
    assert md_text("<nil>") == "\\<nil\\>"
    assert md_text("# Root Cause") == "\\# Root Cause"
    assert md_text("3. third") == "3\\. third"
    assert md_text("http://x") == "http\\://x"
    assert md_text(None) == md_text(pd.NA) == md_text(float("nan")) == ""
    assert md_text(42) == "42"
    assert md_cell is not None and md_cell("a_b") == md_text("a_b")
    assert md_code("raw/file/a_b.log#L3") == "`raw/file/a_b.log#L3`"
    assert md_code("a`b") == "a\\`b"


def test_table_cells_render_as_literal_text() -> None:
    lines = [md_row(["Time", "Event", "Source"]), md_row(["---"] * 3)]
    lines += [md_row(["14:00:00", md_cell(text), md_cell(text[::-1])]) for text in PLANTED]
    html = render_gfm("\n".join(lines) + "\n")
    page = Html(html)
    [table] = page.tables
    assert [len(row) for row in table] == [3] * (len(PLANTED) + 1)
    assert [row[1] for row in table[1:]] == PLANTED
    assert [row[2] for row in table[1:]] == [t[::-1] for t in PLANTED]
    assert not set(page.tags) - {"table", "thead", "tbody", "tr", "th", "td", "code"}
    assert page.links == []


@pytest.mark.parametrize("prefix", ["", "- ", "> "])
def test_prose_lines_render_as_literal_text(prefix: str) -> None:
    html = render_gfm("\n\n".join(prefix + md_text(text) for text in PLANTED) + "\n")
    page = Html(html)
    assert [t.strip() for t in "".join(page.text).split("\n") if t.strip()] == PLANTED
    assert page.headings == []
    assert page.links == []
    allowed = {"p", "ul", "li", "blockquote", "code"}
    assert set(page.tags) <= allowed, html


def test_newlines_stay_in_one_cell() -> None:
    html = render_gfm(
        "| a | b |\n| --- | --- |\n| " + md_cell("line one\n| x | y |\nline 3") + " | z |\n"
    )
    [table] = Html(html).tables
    assert table[1] == ["line one ⏎ | x | y | ⏎ line 3", "z"]

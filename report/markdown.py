"""One escaping function for every piece of evidence text that goes into Markdown.

Evidence is whatever a log line, an alert annotation or a person's note says: it may hold
``<script>``, ``<nil>``, ``__init__``, ``&amp;``, ``[x](javascript:...)``, ``# Root Cause`` or a
``|``. Pasted into GitHub, GitLab or Confluence it must render as the same text, in a table cell
or in a line of prose, never as markup, raw HTML or a live link.

The rules follow the CommonMark spec (https://spec.commonmark.org/0.31.2/, "Backslash
escapes": any ASCII punctuation character may be backslash-escaped and then is literal text)
and the GFM spec (https://github.github.com/gfm/): a ``\\|`` inside a table cell is a literal
pipe ("Tables" extension), and the autolink extension links ``www.``, ``http://``, ``https://``
and e-mail addresses even without ``<...>``, so those are broken with an escaped ``.``, ``:``
or ``@`` (the rendered text is unchanged). Line breaks would end a table row or a list item, so
they become `` ⏎ `` (a visible return sign) instead of ``<br>``, which is raw HTML.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

NEWLINE = " ⏎ "
# ASCII punctuation that is markup somewhere in CommonMark/GFM: emphasis (* _), code (`),
# links and images ([ ] !), raw HTML and autolinks (< >), entities (&), table cells (|),
# strikethrough (~), GitHub math ($), and the escape itself (\).
_ALWAYS = re.compile(r"([\\`*\[\]<>&|~$])")
# An underscore between two letters or digits can neither open nor close emphasis (CommonMark
# "left-flanking" rules, 6.2), so ``page_ack`` stays readable; ``__init__`` is escaped.
_INTRAWORD = re.compile(r"(?<=[^\W_])_(?=[^\W_])")
_UNDERSCORE = re.compile(r"_")
_AUTOLINK = re.compile(r"(?i)\b(https?|ftp|file|mailto|javascript|data|www)([:.])")
# GFM's extended e-mail autolink is found in the text after escapes are undone, so no escape
# breaks it; an address becomes a code span, literal in every renderer.
_EMAIL = re.compile(r"([A-Za-z0-9._+-]+@[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)+)")
# At the start of a line, what would open a block (CommonMark 4.2, 4.3, 5.2, 5.3): an ATX
# heading (1-6 "#" then a space or the end), a list item ("-", "+" or "1." / "1)" then a
# space or the end), a thematic break or setext underline ("---", "==="). "#123", "-5" and
# "0.073" open nothing and stay as they are.
_LINE_START = re.compile(r"^(#{1,6}|[-+])(?=\s|$)|^(\d{1,9})([.)])(?=\s|$)|^([-=])(?=[-=\s]*$)")
_BREAKS = re.compile(r"\r\n|\r|\n")


def md_text(value: Any) -> str:
    """Escape ``value`` so Markdown renders it as exactly its text, on one line.

    None, NaN and NA give ``""``; surrounding whitespace is stripped. The result is safe both
    as a table cell and as prose after a list marker or at the start of a line:
    ``<nil> in __init__`` becomes ``\\<nil\\> in \\_\\_init\\_\\_``.
    """
    if value is None or (not isinstance(value, str) and _is_missing(value)):
        return ""
    parts = _EMAIL.split(_BREAKS.sub(NEWLINE, str(value).strip()))
    # split() with one group: even items are plain text, odd items e-mail addresses
    text = "".join(f"`{part}`" if i % 2 else _escape(part) for i, part in enumerate(parts))
    return _LINE_START.sub(_escape_start, text)


def _escape(text: str) -> str:
    text = _ALWAYS.sub(r"\\\1", text)
    # Mark intraword underscores with NUL, escape the rest, unmark. A NUL in the evidence
    # becomes U+FFFD first, as every CommonMark renderer would show it (spec 2.3).
    text = _INTRAWORD.sub("\0", text.replace("\0", "\ufffd"))
    text = _UNDERSCORE.sub(r"\\_", text).replace("\0", "_")
    return _AUTOLINK.sub(_break_autolink, text)


def md_cell(value: Any) -> str:
    """Escape ``value`` for one cell of a GFM table (the same rules as `md_text`)."""
    return md_text(value)


def md_row(cells: Any) -> str:
    """Join already escaped cells into one Markdown table row."""
    return "| " + " | ".join(cells) + " |"


def md_code(value: Any) -> str:
    """``value`` as inline code when it can be (no backtick or line break), else escaped text.

    Code spans are literal in every renderer, so paths, ids and commands stay copyable.
    """
    text = "" if value is None else str(value).strip()
    if text and "`" not in text and not _BREAKS.search(text) and "|" not in text:
        return f"`{text}`"
    return md_text(text)


def _break_autolink(match: re.Match[str]) -> str:
    scheme, sep = match.group(1), match.group(2)
    if (sep == ":") == (scheme.lower() == "www"):  # "www:" or "http." are no autolink
        return match.group(0)
    return f"{scheme}\\{sep}"


def _escape_start(match: re.Match[str]) -> str:
    if match.group(1):
        return "\\" + match.group(1)
    if match.group(4):
        return "\\" + match.group(4)
    return match.group(2) + "\\" + match.group(3)


def _is_missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False

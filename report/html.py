"""One self-contained HTML file: the draft, its figures and the whole timeline, interactive.

Nothing is fetched: CSS, JS and figures (PNG as ``data:`` URIs) are inline, and a strict
Content-Security-Policy (``default-src 'none'``, the one script and style allowed by their
sha256, images only from ``data:``) stops anything else, even if some text got through.
Evidence never becomes markup: the draft is rendered with raw HTML disabled (markdown-it;
its link check refuses ``javascript:`` and friends), and the timeline travels as JSON in a
``<script type="application/json">`` block with ``<``, ``>`` and ``&`` escaped as ``\\u003c``
and so on (so ``</script>`` cannot end it), read with JSON.parse and written with textContent.
Only the visible rows are in the DOM, so 100,000 events scroll smoothly.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
from collections.abc import Iterable, Iterator, Mapping
from importlib import resources
from typing import Any, cast

import pandas as pd
from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML

from incident_timeline.timeline.keyevents import key_events

FINDING_KINDS = ("clock", "gap")
DATA_COLUMNS: tuple[str, ...] = (
    "t",
    "time",
    "source",
    "stream",
    "kind",
    "severity",
    "actor",
    "summary",
    "message",
    "ref",
    "key",
    "finding",
    "quality",
)
JSON_ROWS = 1 << 12  # rows made Python lists at a time: a page of millions never holds them all
# JSON with these escaped cannot close its <script> block or open a comment in it; U+2028/9
# are line ends to older JavaScript parsers.
_JSON_ESCAPES = str.maketrans(
    {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
)


def html_document(
    frame: pd.DataFrame,
    *,
    title: str,
    subtitle: str = "",
    draft: str | None = None,
    figures: Mapping[str, bytes] | None = None,
    key: pd.DataFrame | None = None,
) -> str:
    """The page: ``draft`` Markdown (if any) with ``figures`` (bundle-relative PNG path →
    bytes) inline, then the timeline of ``frame``. ``key`` are its key events (computed
    when not given) for the key-events toggle."""
    key = key_events(frame) if key is None else key
    findings = int(frame["kind"].isin(FINDING_KINDS).sum())
    return "".join(
        document_chunks(
            [frame],
            len(frame),
            findings,
            key,
            title=title,
            subtitle=subtitle,
            draft=draft,
            figures=figures,
        )
    )


def document_chunks(
    frames: Iterable[pd.DataFrame],
    rows: int,
    findings: int,
    key: pd.DataFrame,
    *,
    title: str,
    subtitle: str = "",
    draft: str | None = None,
    figures: Mapping[str, bytes] | None = None,
) -> Iterator[str]:
    """`html_document` of the timeline ``frames`` (in order; ``rows`` rows in all, of which
    ``findings`` are integrity findings, ``key`` its key events) as pieces of text: the rows
    are written a frame at a time, never as one string."""
    style = _asset("timeline.css")
    script = _asset("timeline.js")
    csp = (
        "default-src 'none'; "
        f"script-src '{_sha256(script)}'; style-src '{_sha256(style)}'; "
        "img-src data:; base-uri 'none'; form-action 'none'"
    )
    sections = []
    if draft is not None:
        sections.append(
            '<section id="draft">\n' + render_draft(draft, figures or {}) + "</section>"
        )
    sections.append(_timeline_section(rows, findings))
    nav = (
        '<nav><a href="#draft">Draft</a><a href="#timeline">Full timeline</a></nav>'
        if draft
        else ""
    )
    head = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{csp}">',
        '<meta name="referrer" content="no-referrer">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(title)}</title>",
        f"<style>{style}</style>",
        "</head>",
        "<body>",
        f"<header><h1>{html.escape(title)}</h1>",
        f'<p class="sub">{html.escape(subtitle)}</p>{nav}</header>',
        "<main>",
        *sections,
        "</main>",
        '<script type="application/json" id="timeline-data">',
    ]
    yield "\n".join(head) + "\n"
    yield from timeline_json_chunks(frames, key)
    yield "\n" + "\n".join(["</script>", f"<script>{script}</script>", "</body>", "</html>", ""])


def report_page(
    manifest: Mapping[str, Any], events: pd.DataFrame, draft: str, figures: Mapping[str, bytes]
) -> str:
    """The ``incident report --html`` page for a bundle: its (already redacted) draft and
    events, the figures inline."""
    title, subtitle = _report_titles(manifest)
    return html_document(
        events, title=f"Postmortem: {title}", subtitle=subtitle, draft=draft, figures=figures
    )


def report_page_chunks(
    manifest: Mapping[str, Any],
    frames: Iterable[pd.DataFrame],
    counts: tuple[int, int],
    key: pd.DataFrame,
    draft: str,
    figures: Mapping[str, bytes],
) -> Iterator[str]:
    """`report_page` of the timeline ``frames`` (``counts``: its rows and integrity
    findings; ``key``: its key events, `key_events` with no window) a piece at a time."""
    title, subtitle = _report_titles(manifest)
    return document_chunks(
        frames,
        *counts,
        key,
        title=f"Postmortem: {title}",
        subtitle=subtitle,
        draft=draft,
        figures=figures,
    )


def _report_titles(manifest: Mapping[str, Any]) -> tuple[str, str]:
    title = " ".join(str(manifest.get("title") or "Untitled incident").split())
    window = manifest.get("window") or {}
    return title, f"Window (UTC): {window.get('since', '?')} to {window.get('until', '?')}"


def render_draft(markdown: str, figures: Mapping[str, bytes]) -> str:
    """The draft as HTML: CommonMark plus GFM tables, raw HTML shown as text, image links to
    ``figures/…`` replaced by the figure as a ``data:`` URI."""
    md = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable(
        ["table", "strikethrough"]
    )
    renderer = cast(RendererHTML, md.renderer)
    default_image = renderer.rules["image"]

    def image(tokens: Any, idx: int, options: Any, env: Any) -> str:
        token = tokens[idx]
        src = str(token.attrGet("src") or "")
        for rel, data in figures.items():
            if src == rel or src.endswith("/" + rel):
                token.attrSet("src", "data:image/png;base64," + base64.b64encode(data).decode())
        return str(default_image(tokens, idx, options, env))

    renderer.rules["image"] = image  # type: ignore[assignment]
    # md_cell writes line breaks in table cells as <br>; raw HTML is off, so put them back
    # (a literal "<br>" in evidence becomes a line break too: harmless).
    return str(md.render(markdown)).replace("&lt;br&gt;", "<br>")


def timeline_json(frame: pd.DataFrame, key: pd.DataFrame | None = None) -> str:
    """The rows as ``{"columns": [...], "rows": [[...], ...]}``, safe inside a script block."""
    return "".join(timeline_json_chunks([frame], key_events(frame) if key is None else key))


def timeline_json_chunks(frames: Iterable[pd.DataFrame], key: pd.DataFrame) -> Iterator[str]:
    """`timeline_json` of the timeline ``frames`` a frame at a time: ``json.dumps`` of a list
    with its default separators is its items' dumps joined by ``", "`` in brackets, and the
    escapes are per character, so the pieces join to the whole document's text."""
    key_ids = set(zip(key["time"].tolist(), key["ref"].tolist(), key["kind"].tolist(), strict=True))
    head = json.dumps({"columns": list(DATA_COLUMNS), "rows": []}, ensure_ascii=False)
    yield head.removesuffix("]}").translate(_JSON_ESCAPES)
    between = ""
    for frame in frames:
        for start in range(0, len(frame), JSON_ROWS):
            rows = _json_rows(frame.iloc[start : start + JSON_ROWS], key_ids)
            yield (between + json.dumps(rows, ensure_ascii=False)[1:-1]).translate(_JSON_ESCAPES)
            between = ", "
    yield "]}"


def _json_rows(frame: pd.DataFrame, key_ids: set[tuple[Any, Any, Any]]) -> list[list[Any]]:
    times = frame["time"]
    millis = (times.dt.as_unit("ns").astype("int64") // 1_000_000).tolist()
    stamps = times.dt.strftime("%Y-%m-%d %H:%M:%S.%f").str.slice(0, -3).tolist()
    summary = _strings(frame["summary"])
    message = _strings(frame["message"])
    columns = [
        millis,
        stamps,
        _strings(frame["source"]),
        _strings(frame["stream"]),
        _strings(frame["kind"]),
        _strings(frame["severity"]),
        _strings(frame["actor"]),
        summary,
        # The full text only where it says more than the summary: halves the file for logs.
        [m if m != s else None for m, s in zip(message, summary, strict=True)],
        _strings(frame["ref"]),
        [
            (t, r, k) in key_ids
            for t, r, k in zip(
                times.tolist(), frame["ref"].tolist(), frame["kind"].tolist(), strict=True
            )
        ],
        frame["kind"].isin(FINDING_KINDS).tolist(),
        _strings(frame["time_quality"]),
    ]
    return [list(row) for row in zip(*columns, strict=True)]


def _strings(col: pd.Series) -> list[str | None]:
    return [None if pd.isna(v) else str(v) for v in col.astype(object).tolist()]


def _timeline_section(rows: int, findings: int) -> str:
    head = "".join(
        f"<span>{name}</span>"
        for name in (
            "Time (UTC)",
            "Source",
            "Kind",
            "Stream",
            "Severity",
            "Actor",
            "Summary",
            "Ref",
        )
    )
    filters = "".join(
        f'<label>{label}<select id="f-{name}"><option value="">all</option></select></label>'
        for name, label in (
            ("source", "Source"),
            ("kind", "Kind"),
            ("severity", "Severity"),
            ("stream", "Stream"),
        )
    )
    return f"""<section id="timeline">
<h2>Full timeline (interactive)</h2>
<p class="sub">{rows:,} events, all times UTC; {findings} integrity findings (clock and gap)
are highlighted. Click a row for its full text.</p>
<div class="controls">{filters}
<label>Search<input type="search" id="f-search" placeholder="text, actor, ref"></label>
<label>From (UTC)<input type="text" id="f-from" placeholder="2026-02-17 14:00"></label>
<label>Until (UTC)<input type="text" id="f-until" placeholder="2026-02-17 15:30"></label>
<label class="toggle"><input type="checkbox" id="f-key">key events only</label>
<span id="tl-count"></span></div>
<div class="tl-head">{head}</div>
<div id="tl-view"><div id="tl-spacer"></div><div id="tl-rows"></div></div>
<pre id="tl-detail"></pre>
</section>"""


def _asset(name: str) -> str:
    return (resources.files("incident_timeline.report") / "assets" / name).read_text("utf-8")


def _sha256(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode()

"""Render Markdown with the real GFM renderer (Debian's cmark-gfm) and read the HTML back.

Skips when cmark-gfm is missing, naming the package; under CI=true that is a failure.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from html.parser import HTMLParser

import pytest

PACKAGE = "cmark-gfm"
# GitHub's own set of extensions (https://github.github.com/gfm/): tables, autolinks,
# strikethrough, task lists, and the tag filter for raw HTML.
EXTENSIONS = ("table", "autolink", "strikethrough", "tasklist", "tagfilter")


def render_gfm(markdown: str) -> str:
    """HTML of ``markdown`` as cmark-gfm renders it with GitHub's extensions."""
    binary = shutil.which("cmark-gfm")
    if binary is None:
        message = (
            f"cmark-gfm is not installed; install the Debian package {PACKAGE} "
            f"(apt-get install --no-install-recommends {PACKAGE})"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(message + " (CI=true: a missing renderer is a failure, not a skip)")
        pytest.skip(message)
    args = [binary, "--unsafe"]  # --unsafe: show raw HTML if any got through, so tests see it
    for ext in EXTENSIONS:
        args += ["-e", ext]
    done = subprocess.run(
        args, input=markdown.encode(), capture_output=True, check=True, timeout=30
    )
    return done.stdout.decode()


class Html(HTMLParser):
    """The parts of rendered HTML the tests look at: tables, links, elements, text."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[list[list[str]]] = []
        self.tags: list[str] = []
        self.links: list[str] = []
        self.headings: list[str] = []
        self.text: list[str] = []
        self._cell: list[str] | None = None
        self._heading: list[str] | None = None
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag in ("h1", "h2", "h3", "h4"):
            self._heading = []
        elif tag == "a":
            self.links.append(dict(attrs).get("href") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append("".join(self._cell))
            self._cell = None
        elif tag in ("h1", "h2", "h3", "h4") and self._heading is not None:
            self.headings.append("".join(self._heading))
            self._heading = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)
        if self._heading is not None:
            self._heading.append(data)

"""Headless Chromium (Debian's ``chromium``) driven by playwright, for the HTML tests.

Never ``playwright install``: the browser is the system's. Missing, the tests skip naming
the package, except under CI=true, where that is a failure (like the real servers)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def missing(message: str) -> None:
    """Skip naming what to install; under CI=true fail instead."""
    if os.environ.get("CI") == "true":
        pytest.fail(message + " (CI=true: a missing browser is a failure, not a skip)")
    pytest.skip(message)


def chromium() -> Iterator[Any]:
    """A launched browser (playwright launches it with a fresh temporary --user-data-dir)."""
    path = CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium")
    if not path:
        missing("chromium is not installed; apt-get install --no-install-recommends chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("playwright is not installed; pip install -e '.[test]'")
    with sync_playwright() as play:
        browser = play.chromium.launch(executable_path=path, args=ARGS)
        try:
            yield browser
        finally:
            browser.close()

"""House style is checked, not hoped for: ruff on the whole tree, mypy --strict on the
packages (versions pinned in the test extra, so a new release cannot fail a green tree)."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, check=False,
                          capture_output=True, text=True)


def test_ruff() -> None:
    done = run("ruff", "check", "--no-cache", ".")
    assert done.returncode == 0, done.stdout + done.stderr


def test_mypy_strict_on_the_packages() -> None:
    done = run("mypy", "--no-incremental", "collector", "timeline", "report")
    assert done.returncode == 0, done.stdout + done.stderr

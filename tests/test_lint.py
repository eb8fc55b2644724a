"""House style is checked, not hoped for: ruff on the whole tree, mypy --strict on the
packages (versions pinned in the test extra, so a new release cannot fail a green tree)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support import ROOT


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, check=False, capture_output=True, text=True
    )


def test_ruff() -> None:
    done = run("ruff", "check", "--no-cache", ".")
    assert done.returncode == 0, done.stdout + done.stderr


def test_ruff_format() -> None:
    done = run("ruff", "format", "--check", "--no-cache", ".")
    assert done.returncode == 0, done.stdout + done.stderr


def test_mypy_strict_on_the_packages(tmp_path: Path) -> None:
    # The folders install as incident_timeline.{collector,timeline,report}; mypy reads them
    # under that name through links, as the installed package lays them out.
    package = tmp_path / "incident_timeline"
    package.mkdir()
    for name in ("collector", "timeline", "report"):
        (package / name).symlink_to(ROOT / name, target_is_directory=True)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--no-incremental",
            "--config-file",
            str(ROOT / "pyproject.toml"),
            "-p",
            "incident_timeline",
        ],
        cwd=tmp_path,
        check=False,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr

"""Bundles that several report tests read: the bundled example, made once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import cli


@pytest.fixture(scope="session")
def demo_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``incident demo`` run once: a bundle with its report and figures."""
    out = tmp_path_factory.mktemp("demo-report") / "bundle"
    cli(["demo", "-o", str(out)])
    return out

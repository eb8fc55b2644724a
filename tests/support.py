"""What many tests need: the repository's folders, UTC instants, a bundle's events, a collector
run into a bundle, and the CLI driven as a user would."""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner, Result

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"
SHARED = ROOT.parent / "shared"


def shared(*parts: str) -> Path:
    """A file under ../shared (real log samples, API specs). A user's clone has no such folder:
    the test skips with the reason, except under CI=true, where shared/ is laid beside the clone
    and a missing file is a failure (CI must never go green by skipping)."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{path} is missing; under CI=true the shared folder must be present")
        pytest.skip(f"{path} is absent (the shared folder is not beside this clone)")
    return path


def utc(text: str) -> pd.Timestamp:
    """``text`` (with a zone, or naive meaning UTC) as a UTC Timestamp."""
    stamp = pd.Timestamp(text)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def events_of(bundle: Path, source: str | None = None) -> pd.DataFrame:
    """A bundle's events (one source's, or all), sorted by time and kind."""
    files = (
        [bundle / "events" / f"{source}.parquet"]
        if source
        else sorted((bundle / "events").glob("*.parquet"))
    )
    frame = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
    return frame.sort_values(["time", "kind"], kind="stable").reset_index(drop=True)


def run_collector(
    tmp_path: Path, name: str, collector: Any, since: datetime, until: datetime, now: datetime
) -> tuple[Path, Any]:
    """Run one collector object into ``tmp_path/bundle``; the bundle and its outcome."""
    from incident_timeline.collector.config import Config, IncidentSettings
    from incident_timeline.collector.runner import collect
    from incident_timeline.timeline.window import Window

    out = tmp_path / "bundle"
    config = Config(
        path=tmp_path / "config.toml",
        incident=IncidentSettings(),
        sources={name: collector},
        raw={},
    )
    [outcome] = collect(config, Window(since, until), out, clock=lambda: now)
    return out, outcome


def cli(args: Sequence[str], exit_code: int | None = 0) -> Result:
    """Invoke ``incident ARGS``; assert the exit code unless it is None."""
    from incident_timeline.report.cli import cli as root

    result = CliRunner().invoke(root, list(args), catch_exceptions=False)
    if exit_code is not None:
        assert result.exit_code == exit_code, result.output
    return result


def warning_messages(manifest: dict[str, Any], source: str) -> list[str]:
    """The messages of a source's warning records in a manifest."""
    return [w["message"] for w in manifest["sources"][source]["warnings"]]

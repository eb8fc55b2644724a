"""The bundle as a whole, through the collect run: raw kept as received, manifest, resume."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from incident_timeline.collector.bundle import read_events
from incident_timeline.collector.config import load_config
from incident_timeline.collector.errors import BundleError
from incident_timeline.collector.runner import collect
from incident_timeline.timeline.window import Window

WINDOW = Window(datetime(2026, 2, 17, 14, tzinfo=UTC), datetime(2026, 2, 17, 15, tzinfo=UTC))
NOW = datetime(2026, 2, 17, 15, 5, tzinfo=UTC)


def setup(tmp_path: Path, extra: str = "") -> Path:
    (tmp_path / "app.log").write_bytes(
        b"2026-02-17T14:00:01Z start\r\nno stamp\n2026-02-17T15:30:00Z after window\n"
    )
    (tmp_path / "pd.json").write_text('{"log_entries": [')
    config = tmp_path / "config.toml"
    config.write_text('[incident]\ntitle = "T"\n[[file]]\npath = "app.log"\n' + extra)
    return config


def run(config: Path, out: Path, resume: bool = False):  # type: ignore[no-untyped-def]
    return collect(load_config(config), WINDOW, out, resume=resume, clock=lambda: NOW)


def test_manifest_raw_and_events(tmp_path: Path) -> None:
    out = tmp_path / "bundle"
    [outcome] = run(setup(tmp_path), out)
    assert (outcome.status, outcome.counts["events"], outcome.counts["outside_window"]) == (
        "ok",
        3,
        1,
    )
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["window"] == {"since": "2026-02-17T14:00:00Z", "until": "2026-02-17T15:00:00Z"}
    assert manifest["collected_at"] == "2026-02-17T15:05:00Z"
    assert manifest["title"] == "T"
    assert manifest["config"]["file"] == [{"path": "app.log"}]
    assert manifest["sources"]["file"]["status"] == "ok"
    raw = out / "raw/file/app.log"
    assert raw.read_bytes() == (tmp_path / "app.log").read_bytes()
    for rel, entry in manifest["files"].items():
        data = (out / rel).read_bytes()
        assert entry == {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    assert set(manifest["files"]) == {"raw/file/app.log", "events/file.parquet"}
    [events] = read_events(out)
    assert list(events["ref"]) == [
        "raw/file/app.log#L1",
        "raw/file/app.log#L2",
        "raw/file/app.log#L3",
    ]
    assert not list(out.rglob("*.tmp"))


def test_malformed_file_makes_source_partial_not_a_crash(tmp_path: Path) -> None:
    config = setup(
        tmp_path,
        '[[file]]\npath = "pd.json"\nformat = "pagerduty-log-entries"\n'
        '[[file]]\npath = "missing/*.log"\n',
    )
    [outcome] = run(config, tmp_path / "b")
    assert outcome.status == "partial"
    assert "pd.json: not valid JSON" in outcome.error
    assert "missing/*.log: no such file" in outcome.error
    # issue 8: the bad file's one line is kept as an unparsed event next to the 3 good ones
    assert outcome.counts["events"] == 4 and outcome.counts["failed_files"] == 1
    assert outcome.counts["unparsed"] == 1
    assert (tmp_path / "b/raw/file/pd.json").exists()


def test_existing_bundle_needs_resume_and_same_window(tmp_path: Path) -> None:
    config, out = setup(tmp_path), tmp_path / "b"
    run(config, out)
    with pytest.raises(BundleError, match="already holds a bundle; use --resume"):
        run(config, out)
    [again] = run(config, out, resume=True)
    assert again.status == "skipped"
    other = Window(WINDOW.since, datetime(2026, 2, 17, 16, tzinfo=UTC))
    with pytest.raises(BundleError, match="--resume needs the same window"):
        collect(load_config(config), other, out, resume=True)


def test_resume_redoes_a_partial_source(tmp_path: Path) -> None:
    config, out = setup(tmp_path, '[[file]]\npath = "pd.json"\n'), tmp_path / "b"
    assert run(config, out)[0].status == "partial"
    (tmp_path / "pd.json").write_text('{"log_entries": []}')
    assert run(config, out, resume=True)[0].status == "ok"
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["sources"]["file"]["status"] == "ok"
    assert (out / "raw/file/pd.json").read_text() == '{"log_entries": []}'


def test_not_a_bundle_directory(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "b/notes.txt").write_text("mine")
    with pytest.raises(BundleError, match="is not an empty directory or a bundle"):
        run(setup(tmp_path), tmp_path / "b")


def test_a_token_not_set_fails_that_source_only(tmp_path: Path) -> None:
    config = setup(
        tmp_path,
        '[prometheus]\nurl = "http://127.0.0.1:9"\ntoken_env = "INCIDENT_TEST_UNSET_TOKEN"\n',
    )
    outcomes = {o.name: o for o in run(config, tmp_path / "b")}
    assert outcomes["file"].status == "ok"
    assert outcomes["prometheus"].status == "failed"
    assert outcomes["prometheus"].error.startswith("INCIDENT_TEST_UNSET_TOKEN is not set")

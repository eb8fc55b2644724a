"""A log that runs well beyond the incident window: only its silences that overlap the window
are findings (evidence missing from the incident), and the report says what a log silence
means. Files nobody scripted (rotated logs, whole days of syslog) span days."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner

from incident_timeline.report.cli import cli

# Silent spans of a stream that logs every 10 s from 12:00 to 15:00; the window is 13:00-14:00.
GAPS = (("12:20", "12:40"), ("12:55", "13:10"), ("13:20", "13:35"), ("14:30", "14:50"))


def _at(hm: str) -> datetime:
    hour, minute = map(int, hm.split(":"))
    return datetime(2026, 5, 4, hour, minute, tzinfo=UTC)


def _log(path: Path) -> None:
    lines, t, n = [], _at("12:00"), 0
    while t <= _at("15:00"):
        if not any(_at(a) < t < _at(b) for a, b in GAPS):
            lines.append(f'{t:%Y-%m-%dT%H:%M:%SZ} level=info msg="worker tick" n={n}\n')
            n += 1
        t += timedelta(seconds=10)
    path.write_text("".join(lines))


def test_only_silences_overlapping_the_window_are_findings(tmp_path: Path) -> None:
    _log(tmp_path / "worker.log")
    (tmp_path / "c.toml").write_text('[[file]]\npath = "worker.log"\n')
    runner = CliRunner()
    out = tmp_path / "b"
    collected = runner.invoke(
        cli,
        ["collect", "-c", str(tmp_path / "c.toml"), "--since", "2026-05-04T13:00:00Z",
         "--until", "2026-05-04T14:00:00Z", "-o", str(out)],
    )  # fmt: skip
    assert collected.exit_code == 0, collected.output
    doc = json.loads(runner.invoke(cli, ["clocks", str(out), "--format", "json"]).output)
    silences = [(f["time"], f["end"]) for f in doc["findings"] if f["check"] == "silence"]
    # The gap across the window's start counts; those wholly before or after it do not.
    assert silences == [
        ("2026-05-04T12:55:00.000Z", "2026-05-04T13:10:00.000Z"),
        ("2026-05-04T13:20:00.000Z", "2026-05-04T13:35:00.000Z"),
    ]
    report = runner.invoke(cli, ["report", str(out)])
    assert report.exit_code == 0, report.output
    draft = (out / "postmortem.md").read_text()
    integrity = draft.split("## Evidence Integrity", 1)[1].split("\n## ", 1)[0]
    lines = [line for line in integrity.splitlines() if "silent for" in line]
    assert len(lines) == 2 and all("what it did then is unknown" in line for line in lines)
    assert "Notifications were muted" not in draft

"""A ``[[file]]`` table's own timestamp layout (``time_format``, ``time_regex``) and what the
bundle says about layouts the engine inferred."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest

from incident_timeline.collector.config import load_config
from incident_timeline.collector.errors import ConfigError
from tests.support import events_of, run_collector
from tests.support import utc as ts

SINCE = datetime.fromisoformat("2024-04-05T19:00:00+00:00")
UNTIL = datetime.fromisoformat("2024-04-05T21:00:00+00:00")
NOW = datetime.fromisoformat("2024-04-05T22:00:00+00:00")
LINES = (
    "05/04 19.34.38,120 worker 3 started\n"
    "    continuation without a time\n"
    "05/04 19.34.39,5 worker 3 stopped\n"
)


def config(tmp_path: Path, table: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(f'[[file]]\npath = "app.log"\n{table}\n')
    return path


def collect(tmp_path: Path, table: str, text: str = LINES):  # type: ignore[no-untyped-def]
    (tmp_path / "app.log").write_text(text)
    files = load_config(config(tmp_path, table)).sources["file"]
    return run_collector(tmp_path, "file", files, SINCE, UNTIL, NOW)


def test_time_format_reads_the_file_and_keeps_every_line(tmp_path: Path) -> None:
    bundle, outcome = collect(tmp_path, 'time_format = "%d/%m %H.%M.%S,%f"')
    assert outcome.status == "ok", outcome.error
    events = events_of(bundle, "file").sort_values("ref")
    assert list(events["time"]) == [
        ts("2024-04-05T19:34:38.12Z"),
        ts("2024-04-05T19:34:38.12Z"),  # the continuation takes its neighbour's time
        ts("2024-04-05T19:34:39.5Z"),
    ]
    assert list(events["time_quality"]) == ["assumed_tz", "inferred", "assumed_tz"]
    assert list(events["time_raw"]) == ["05/04 19.34.38,120", "", "05/04 19.34.39,5"]


def test_time_regex_picks_the_stamp_among_two(tmp_path: Path) -> None:
    text = "2024-04-05T19:00:00Z job=7 done_at=1712345678123 rc=0\n"
    bundle, _ = collect(
        tmp_path, 'time_format = "epoch_ms"\ntime_regex = "done_at=(?P<time>[0-9.]+)"', text
    )
    assert list(events_of(bundle, "file")["time"]) == [ts("2024-04-05T19:34:38.123Z")]


def test_a_format_that_reads_no_line_is_a_config_error_naming_file_and_line(
    tmp_path: Path,
) -> None:
    _, outcome = collect(tmp_path, 'time_format = "%Y-%m-%d %H:%M:%S"')
    assert outcome.status == "failed"
    assert outcome.error == (
        f"{tmp_path / 'config.toml'}: file[0].time_format '%Y-%m-%d %H:%M:%S' reads no "
        "timestamp in the first lines of app.log (line 1: '05/04 19.34.38,120 worker 3 started')"
    )


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('time_format = "%m %H:%M:%S"', "file[0]: time_format '%m %H:%M:%S' has no day"),
        ('time_format = "%d/%m %H:%M %Q"', "file[0]: time_format '%d/%m %H:%M %Q': %Q is not"),
        ('time_regex = "no group"', "file[0]: time_regex 'no group' has no group"),
        (
            'format = "prometheus-query-range"\ntime_format = "epoch_s"',
            "file[0].time_format and time_regex are for plain logs (format = 'log' or 'auto') "
            "and the app's stamps in 'kubectl-logs' or 'cri' files, not format = "
            "'prometheus-query-range'",
        ),
        ("time_format = 5", "file[0].time_format must be"),
    ],
)
def test_bad_layouts_are_config_errors_at_load(tmp_path: Path, table: str, message: str) -> None:
    path = config(tmp_path, table)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value).startswith(f"{path}: {message}")


# A pod whose app writes its own clock as day.month.year and "14h34:38" (no known layout),
# after the runtime's RFC 3339 stamp: kubectl logs --timestamps output, and the node's CRI file.
APP_LINES = ("05.04.2024 19h34:38 worker 3 started", "05.04.2024 19h34:41 worker 3 stopped")
KUBECTL = "".join(f"2024-04-05T19:34:3{8 + i}.5Z {line}\n" for i, line in enumerate(APP_LINES))
CRI = "".join(f"2024-04-05T19:34:3{8 + i}.5Z stdout F {line}\n" for i, line in enumerate(APP_LINES))


@pytest.mark.parametrize(("fmt", "text"), [("kubectl-logs", KUBECTL), ("cri", CRI)])
def test_time_format_reads_the_apps_own_stamp_after_the_runtimes(
    tmp_path: Path, fmt: str, text: str
) -> None:
    table = f'format = "{fmt}"\ntime_format = "%d.%m.%Y %Hh%M:%S"'
    bundle, outcome = collect(tmp_path, table, text)
    assert outcome.status == "ok", outcome.error
    events = events_of(bundle, "file").sort_values("ref")
    assert list(events["source"]) == ["kubernetes", "kubernetes"]
    assert list(events["time"]) == [ts("2024-04-05T19:34:38.5Z"), ts("2024-04-05T19:34:39.5Z")]
    assert list(events["embedded_time"]) == [
        ts("2024-04-05T19:34:38Z"),
        ts("2024-04-05T19:34:41Z"),
    ]
    (tmp_path / "plain").mkdir()
    without, _ = collect(tmp_path / "plain", f'format = "{fmt}"', text)
    assert events_of(without, "file")["embedded_time"].isna().all()  # no layout: not read


def test_an_app_layout_that_reads_no_line_names_the_line(tmp_path: Path) -> None:
    _, outcome = collect(tmp_path, 'format = "cri"\ntime_format = "%Y/%m/%d %H:%M:%S"', CRI)
    assert outcome.status == "failed"
    assert outcome.error is not None
    assert "reads no timestamp in the first lines of app.log (line 1: '2024-04-05T19:34:38.5Z" in (
        outcome.error
    )


def test_an_inferred_layout_is_said_in_the_bundle(tmp_path: Path) -> None:
    text = "".join(
        f"{5521 + i} node-17 hw state_change {1712345678 + 5 * i} 1 Component State Change\n"
        for i in range(4)
    )
    bundle, outcome = collect(tmp_path, "", text)
    events = events_of(bundle, "file")
    assert list(events["time"]) == [
        ts("2024-04-05T19:34:38Z"),
        ts("2024-04-05T19:34:43Z"),
        ts("2024-04-05T19:34:48Z"),
        ts("2024-04-05T19:34:53Z"),
    ]
    manifest = json.loads((bundle / "manifest.json").read_text())
    messages = [w["message"] for w in manifest["sources"]["file"]["warnings"]]
    assert messages == [
        "app.log: timestamps read as time_format = 'epoch_s (a number from 1712257200 to "
        "1712437200 anywhere in the line, in s)', a layout inferred from the sampled "
        "lines that no known layout matched and the incident window"
    ]
    assert outcome.status == "ok"


def test_a_file_read_in_pieces_learns_its_layout_in_each_and_says_it_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from incident_timeline.collector.files import pieces

    monkeypatch.setattr(pieces, "PIECE", 4096)  # ~60 lines a piece
    t0 = ts("2024-04-05T19:30:00Z")
    text = "".join(
        f"{(t0 + pd.Timedelta(milliseconds=250 * i)):%Y%m%d-%H:%M:%S}:"
        f"{(250 * i) % 1000:03d}|Step_LSC|30002312|onStandStepChanged {i}\n"
        for i in range(600)
    )
    bundle, outcome = collect(tmp_path, "", text)
    assert outcome.status == "ok", outcome.error
    events = events_of(bundle, "file")
    assert len(events) == 600 and (events["time_quality"] == "assumed_tz").all()
    assert events["time"].iloc[599] == t0 + pd.Timedelta(milliseconds=250 * 599)
    manifest = json.loads((bundle / "manifest.json").read_text())
    messages = [w["message"] for w in manifest["sources"]["file"]["warnings"]]
    assert messages == [
        "app.log: timestamps read as time_format = '%Y%m%d-%H:%M:%S:%L', a layout inferred "
        "from the sampled lines that no known layout matched and the incident window"
    ]

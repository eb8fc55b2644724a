"""Real logs from ``../shared/data``, read in place (loghub's licence forbids copying them).

loghub ships, next to each ``<System>_2k.log``, a structured CSV giving every line's date and
time fields as written: every parsed timestamp must equal them, to the last digit. The other
samples (k8s/, extra/) must parse without losing a line. Without ``../shared/data`` these tests
skip, except under ``CI=true`` where that is a failure.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest

from incident_timeline.collector.files.collector import detect_format, parse
from incident_timeline.collector.formats import Context
from incident_timeline.collector.lines import split_lines
from incident_timeline.timeline.timestamps.engine import parse_timestamps
from tests import support
from tests.support import shared

SHARED = support.SHARED / "data"
YEAR = 2005  # the year given to year-less stamps (Android, Linux, OpenSSH): any year works
WINDOW = (pd.Timestamp(f"{YEAR}-01-01", tz="UTC"), pd.Timestamp(f"{YEAR + 1}-01-01", tz="UTC"))


def strp(fmt: str) -> Callable[[str], pd.Timestamp]:
    def read(text: str) -> pd.Timestamp:
        return pd.Timestamp(datetime.strptime(text, fmt), tz="UTC")

    return read


def dated(text: str, fmt: str) -> pd.Timestamp:
    return strp(fmt)(f"{YEAR} {text}")


# system: (the timestamp as written, from the CSV's fields; the instant it means)
TRUTH: dict[str, Callable[[pd.Series], tuple[str, pd.Timestamp]]] = {
    "Android": lambda r: (
        f"{r.Date} {r.Time}",
        dated(f"{r.Date} {r.Time}", "%Y %m-%d %H:%M:%S.%f"),
    ),
    "Apache": lambda r: (r.Time, strp("%a %b %d %H:%M:%S %Y")(r.Time)),
    "BGL": lambda r: (r.Timestamp, pd.Timestamp(int(r.Timestamp), unit="s", tz="UTC")),
    "HDFS": lambda r: (f"{r.Date} {r.Time}", strp("%y%m%d %H%M%S")(f"{r.Date} {r.Time}")),
    "Hadoop": lambda r: (f"{r.Date} {r.Time}", strp("%Y-%m-%d %H:%M:%S,%f")(f"{r.Date} {r.Time}")),
    # syslog pads a one-digit day with a space, which the CSV's Date field leaves out
    "Linux": lambda r: (
        f"{r.Month} {r.Date:>2} {r.Time}",
        dated(f"{r.Month} {r.Date} {r.Time}", "%Y %b %d %H:%M:%S"),
    ),
    "OpenSSH": lambda r: (
        f"{r.Date} {r.Day} {r.Time}",
        dated(f"{r.Date} {r.Day} {r.Time}", "%Y %b %d %H:%M:%S"),
    ),
    "OpenStack": lambda r: (
        f"{r.Date} {r.Time}",
        strp("%Y-%m-%d %H:%M:%S.%f")(f"{r.Date} {r.Time}"),
    ),
    "Spark": lambda r: (f"{r.Date} {r.Time}", strp("%y/%m/%d %H:%M:%S")(f"{r.Date} {r.Time}")),
    "Windows": lambda r: (f"{r.Date} {r.Time}", strp("%Y-%m-%d %H:%M:%S")(f"{r.Date} {r.Time}")),
    "Zookeeper": lambda r: (
        f"{r.Date} {r.Time}",
        strp("%Y-%m-%d %H:%M:%S,%f")(f"{r.Date} {r.Time}"),
    ),
}


@pytest.mark.parametrize("system", sorted(TRUTH))
def test_loghub_timestamps_equal_the_structured_truth(system: str) -> None:
    folder = shared("data", "loghub", system)
    lines = pd.Series(
        (folder / f"{system}_2k.log").read_text(errors="replace").splitlines(), dtype="string"
    )
    truth = pd.read_csv(
        folder / f"{system}_2k.log_structured.csv", dtype=str, keep_default_na=False
    )
    assert len(truth) == len(lines) == 2000
    got = parse_timestamps(lines, "UTC", WINDOW)
    expected = [TRUTH[system](row) for row in truth.itertuples()]
    assert list(got["time_raw"]) == [raw for raw, _ in expected]
    assert list(got["time"]) == [when for _, when in expected]


def sample_files() -> list[Path]:
    if not SHARED.exists():
        return []
    return sorted(
        p
        for folder in ("k8s", "extra")
        for p in (SHARED / folder).rglob("*")
        if p.is_file() and p.suffix != ".SOURCE"
    )


@pytest.mark.parametrize(
    "path", sample_files() or [SHARED / "k8s"], ids=lambda p: str(p.relative_to(SHARED))
)
def test_every_real_sample_parses_without_losing_a_line(path: Path) -> None:
    data = shared("data", str(path.relative_to(SHARED))).read_bytes()
    ctx = Context(
        ref=f"raw/file/{path.name}",
        stream=path.name,
        fallback_time=pd.Timestamp("2024-01-01", tz="UTC"),
        window_end=pd.Timestamp("2024-12-31", tz="UTC"),
    )
    fmt = detect_format(data).name
    if fmt not in ("log", "kubectl-logs", "cri"):
        fmt = "log"  # JSON-lines logs are plain logs to the file collector
    events = parse(fmt, data, ctx).events
    assert len(events) == len(split_lines(data.decode("utf-8", errors="replace")))
    assert events["time"].notna().all()


EXPECTED_SHARE = {  # files where every line carries a timestamp the parser must find
    "apache-combined.log": 1.0,
    "nginx-combined-tz0330.log": 1.0,
    "syslog-rfc3164.log": 1.0,
    "go-log-layout-rsyncd.log": 1.0,
    "logrus-text.log": 1.0,
    "zap-json-epoch-caddy.log": 1.0,
    "docker-compose-ts-redis-flask.log": 1.0,
    "bunyan.log": 1.0,
    "pino.log": 1.0,
    "ecs-json.log": 1.0,
    "mongodb-json.log": 1.0,
    "nginxplus-status-json.log": 1.0,
}


@pytest.mark.parametrize("name", sorted(EXPECTED_SHARE))
def test_k8s_samples_have_every_timestamp_found(name: str) -> None:
    lines = pd.Series(
        shared("data", "k8s", name).read_text(errors="replace").splitlines(), dtype="string"
    )
    got = parse_timestamps(lines, "UTC", WINDOW)
    assert got["time"].notna().mean() >= EXPECTED_SHARE[name]

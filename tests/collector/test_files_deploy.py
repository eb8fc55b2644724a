"""[[file]] kind = "deploy": deploy log lines become deploy events with version and actor."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from incident_timeline.collector.config import load_config
from incident_timeline.collector.errors import ConfigError
from incident_timeline.collector.files.deploy import deploy_summary, line_fields
from tests.support import ROOT, cli


def test_logfmt_line() -> None:
    line = (
        "deploy pipeline=checkout-api#1843 actor=alice.chen action=rollback version=v2.3.3 "
        'from=v2.3.4 reason="5xx after v2.3.4"'
    )
    fields = line_fields(line)
    assert fields == {
        "version": "v2.3.3",
        "previous_version": "v2.3.4",
        "actor": "alice.chen",
        "action": "rollback",
        "pipeline": "checkout-api#1843",
        "reason": "5xx after v2.3.4",
        "rollback": "true",
    }
    assert deploy_summary(fields, line) == (
        'Rollback to v2.3.3 (from v2.3.4): rollback, pipeline checkout-api#1843, "5xx after v2.3.4"'
    )


def test_json_line_and_image_tag() -> None:
    line = json.dumps(
        {"event": "deploy_started", "triggered_by": "bob", "image": "reg.io/shop/api:1.4.0-rc1"}
    )
    assert line_fields(line) == {
        "actor": "bob",
        "action": "deploy_started",
        "image": "reg.io/shop/api:1.4.0-rc1",
        "version": "1.4.0-rc1",
    }


def test_prose_line() -> None:
    fields = line_fields("Rolled back checkout-api to 2.3.3 after errors")
    assert fields == {"version": "2.3.3", "rollback": "true"}
    assert deploy_summary(fields, "x") == "Rollback to 2.3.3"
    assert line_fields("restarted the cache") == {}
    assert deploy_summary({}, "restarted the cache") == "restarted the cache"


def test_bad_kind_is_a_clear_error(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[[file]]\npath = "x.log"\nkind = "deploys"\n')
    with pytest.raises(ConfigError, match=r"file\[0\]\.kind 'deploys' is not one of log, deploy"):
        load_config(config)


def test_example_deploy_log_gives_deploy_events(tmp_path: Path) -> None:
    out = tmp_path / "b"
    cli(["collect", "-c", str(ROOT / "config.example.toml"), "-o", str(out)])
    rows = [
        json.loads(line)
        for line in cli(
            ["timeline", str(out), "--source", "file", "-f", "jsonl"]
        ).output.splitlines()
    ]
    deploys = [r for r in rows if r["stream"] == "ci/deploy"]
    assert {r["kind"] for r in deploys} == {"deploy"}
    assert [(r["time"][11:19], r["actor"], r["summary"]) for r in deploys[2:3] + deploys[6:7]] == [
        ("14:02:05", "ci-bot", "Deploy v2.3.4 (from v2.3.3): start, pipeline checkout-api#1842"),
        (
            "14:22:40",
            "alice.chen",
            "Rollback to v2.3.3 (from v2.3.4): rollback, pipeline checkout-api#1843, "
            '"5xx after v2.3.4"',
        ),
    ]
    assert deploys[2]["labels"]["commit"] == "9f3c2a1"

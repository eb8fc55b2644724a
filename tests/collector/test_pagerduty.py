"""The pagerduty collector, driven through ``incident collect`` against the PagerDuty double
(a real HTTP server on loopback, held to PagerDuty's OpenAPI document)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from incident_timeline.collector.files.collector import parse
from incident_timeline.collector.formats import Context
from incident_timeline.collector.pagerduty.formats import parse_pagerduty_log_entries
from incident_timeline.collector.prometheus.queryrange import fingerprint
from tests.doubles.openapi import validate
from tests.doubles.pagerduty import PagerDutyDouble, incident, serving
from tests.doubles.pagerduty_story import DEDUP_KEY, GROUP_KEY, ID, many_entries, story
from tests.support import cli, utc

TOKEN = "u+Zk3-very-secret-pd-key"
TOKEN_ENV = "PD_TEST_TOKEN"


@pytest.fixture
def double(monkeypatch: pytest.MonkeyPatch) -> Iterator[PagerDutyDouble]:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    with serving(story(PagerDutyDouble(token=TOKEN))) as d:
        yield d
    # whatever a test made it serve fits the spec (ten of each kind: a storm is one builder's)
    kinds: dict[tuple[str, int], int] = {}
    for served in d.served:
        key = (served.operation, served.status)
        kinds[key] = kinds.get(key, 0) + 1
        if kinds[key] <= 10:
            validate(served.operation, served.status, served.body, items=3)


def config(tmp_path: Path, double: PagerDutyDouble, extra: str = "") -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f'[pagerduty]\nurl = "{double.url}"\ntoken_env = "{TOKEN_ENV}"\nretries = 2\n{extra}'
    )
    return path


def collect(tmp_path: Path, double: PagerDutyDouble, *args: str, code: int = 0) -> Any:
    out = tmp_path / "bundle"
    result = cli(["collect", "-c", str(config(tmp_path, double)), *args, "-o", str(out)], code)
    return out, result


def events(bundle: Path) -> pd.DataFrame:
    frame = pd.read_parquet(bundle / "events" / "pagerduty.parquet")
    frame["labels"] = frame["labels"].map(json.loads)
    return frame.sort_values(["time", "ref"], kind="stable").reset_index(drop=True)


def manifest(bundle: Path) -> dict[str, Any]:
    return json.loads((bundle / "manifest.json").read_text())


def test_pagerduty_incident_gives_window_title_and_the_paging_record(
    tmp_path: Path, double: PagerDutyDouble
) -> None:
    bundle, result = collect(tmp_path, double, "--pagerduty-incident", ID, "--pad", "30m")
    assert "Window (UTC): 2026-03-10T08:42:04Z .. 2026-03-10T10:28:31Z (1 h 46 min 27 s)" in (
        result.output
    )
    m = manifest(bundle)
    assert m["window"] == {"since": "2026-03-10T08:42:04Z", "until": "2026-03-10T10:28:31Z"}
    assert m["title"] == "Checkout API 5xx rate above 5 %"
    section = {k: m["incident"][k] for k in ("id", "number", "urgency", "priority", "service")}
    assert section == {
        "id": ID,
        "number": 1042,
        "urgency": "high",
        "priority": "P1",
        "service": "checkout-api",
    }
    assert m["incident"]["escalation_policy"] == "Checkout on-call"
    assert m["incident"]["responders"] == ["Jane Doe", "Raj Patel"]  # from the overview
    assert m["sources"]["pagerduty"]["status"] == "ok"
    assert m["sources"]["pagerduty"]["counts"] == {
        "incidents": 2,  # Q1ABCDE, and Q2OLDER still open in the window; not Q3FARAWAY
        "log_entries": 17,
        "notes": 2,
        "alerts": 1,
        "outside_window": 1,  # Q2OLDER's trigger, the evening before
        "requests": 7,
        "events": 20,
    }
    frame = events(bundle)
    mine = frame[frame["stream"] == ID]
    notify = mine[mine["kind"] == "page_notify"]
    assert [
        (str(t), lab["user"], lab["notify_channel"])
        for t, lab in zip(notify["time"], notify["labels"], strict=True)
    ] == [
        ("2026-03-10 09:12:05+00:00", "Jane Doe", "push"),
        ("2026-03-10 09:12:06+00:00", "Jane Doe", "sms"),
        ("2026-03-10 09:14:06+00:00", "Jane Doe", "phone"),
        ("2026-03-10 09:17:05+00:00", "Raj Patel", "sms"),
    ]
    [escalate] = mine[mine["kind"] == "page_escalate"].itertuples()
    assert (escalate.time, escalate.labels["escalation_level"], escalate.labels["assignees"]) == (
        utc("2026-03-10T09:17:04Z"),
        "2",
        "Raj Patel",
    )
    [ack] = mine[mine["kind"] == "page_ack"].itertuples()
    assert (ack.time, ack.actor, ack.summary) == (
        utc("2026-03-10T09:19:42Z"),
        "Raj Patel",
        "Acknowledged by Raj Patel.",
    )
    notes = mine[mine["kind"] == "note"]
    assert list(zip(notes["time"].astype(str), notes["actor"], notes["summary"], strict=True)) == [
        (
            "2026-03-10 09:22:15+00:00",
            "Raj Patel",
            "Note added: Rolled back to v2.3.3; error ratio falling",
        ),
        (
            "2026-03-10 09:22:15+00:00",
            "Raj Patel",
            "Note by Raj Patel: Rolled back to v2.3.3; error ratio falling",
        ),
        ("2026-03-10 09:58:40+00:00", "Jane Doe", "Note added: Resolved. Postmortem to follow."),
        (
            "2026-03-10 09:58:40+00:00",
            "Jane Doe",
            "Note by Jane Doe: Resolved. Postmortem to follow.",
        ),
    ]
    # on the merged timeline each note appears once (its annotation entry is folded into it)
    merged = cli(["timeline", str(bundle), "--grep", "Postmortem to follow", "-f", "csv"])
    [_header, only] = merged.output.splitlines()
    assert only.endswith(",raw/pagerduty/Q1ABCDE/notes.json#/notes/1")
    assert list(mine["kind"]) == [
        "page_alert",
        "page_trigger",
        "page_notify",
        "page_notify",
        "page_notify",
        "page_escalate",
        "page_notify",
        "page_ack",
        "note",
        "note",
        "page_assign",
        "page_delegate",
        "page_snooze",
        "page_urgency",
        "page_unack",
        "page_resolve",
        "note",
        "note",
    ]
    actors = dict(zip(mine["kind"], mine["actor"], strict=False))
    assert (actors["page_trigger"], actors["page_unack"], actors["page_resolve"]) == (
        "Alertmanager",
        "checkout-api",
        "Alertmanager",
    )
    [alert] = mine[mine["kind"] == "page_alert"].itertuples()
    assert {k: alert.labels[k] for k in ("dedup_key", "alertname", "fingerprint")} == {
        "dedup_key": DEDUP_KEY,
        "alertname": "HighErrorRate",
        # the same alert's fingerprint in Alertmanager and in Prometheus ALERTS
        "fingerprint": fingerprint(
            {"alertname": "HighErrorRate", "service": "checkout-api", "severity": "page"}
        ),
    }
    report = cli(["report", str(bundle), "-o", str(tmp_path / "pm.md")])
    assert report.exit_code == 0
    text = (tmp_path / "pm.md").read_text()
    assert text.startswith("# Postmortem: Checkout API 5xx rate above 5 %\n")
    first = mine.iloc[1]
    assert first["ref"] == f"raw/pagerduty/{ID}/log_entries/0000.json#/log_entries/0"
    raw = json.loads((bundle / first["ref"].split("#")[0]).read_text())
    assert raw["log_entries"][0]["id"] == first["labels"]["log_entry"]


def test_the_request_carries_token_accept_and_utc(tmp_path: Path, double: PagerDutyDouble) -> None:
    collect(tmp_path, double, "--since", "2026-03-10T09:00:00Z", "--until", "2026-03-10T10:00:00Z")
    path, query, headers = double.requests[0]
    assert (path, headers["authorization"], headers["accept"]) == (
        "/incidents",
        f"Token token={TOKEN}",
        "application/vnd.pagerduty+json;version=2",
    )
    assert (query["since"], query["until"], query["time_zone"]) == (
        ["2026-03-09T09:00:00Z"],  # lookback 1d: incidents opened before the window
        ["2026-03-10T10:00:00Z"],
        ["UTC"],
    )
    logs = [q for p, q, _ in double.requests if p == f"/incidents/{ID}/log_entries"]
    assert (logs[0]["include[]"], logs[0]["is_overview"]) == (["channels"], ["false"])


def test_filters_reach_the_listing(tmp_path: Path, double: PagerDutyDouble) -> None:
    path = config(
        tmp_path,
        double,
        'service_ids = ["PSVC001"]\nteam_ids = ["PTEAM01"]\nurgencies = ["high"]\n'
        'statuses = ["resolved"]\n',
    )
    out = tmp_path / "b"
    cli(
        [
            "collect",
            "-c",
            str(path),
            "--since",
            "2026-03-10T09:00:00Z",
            "--until",
            "2026-03-10T10:00:00Z",
            "-o",
            str(out),
        ]
    )
    _, query, _ = double.requests[0]
    assert {k: query[k] for k in ("service_ids[]", "team_ids[]", "urgencies[]", "statuses[]")} == {
        "service_ids[]": ["PSVC001"],
        "team_ids[]": ["PTEAM01"],
        "urgencies[]": ["high"],
        "statuses[]": ["resolved"],
    }
    assert manifest(out)["sources"]["pagerduty"]["counts"]["incidents"] == 1


def test_since_until_win_over_the_incident(tmp_path: Path, double: PagerDutyDouble) -> None:
    bundle, _ = collect(
        tmp_path, double, "--pagerduty-incident", "1042", "--since", "2026-03-10T09:00:00Z"
    )
    assert manifest(bundle)["window"] == {
        "since": "2026-03-10T09:00:00Z",
        "until": "2026-03-10T10:28:31Z",
    }
    assert manifest(bundle)["incident"]["id"] == ID


def test_an_open_incident_runs_to_now(tmp_path: Path, double: PagerDutyDouble) -> None:
    opened = (pd.Timestamp.now("UTC") - pd.Timedelta("2h")).floor("s")
    double.add(incident("Q6OPEN", 3001, "Still burning", opened.isoformat().replace("+00:00", "Z")))
    before = pd.Timestamp.now("UTC").floor("s")
    bundle, _ = collect(tmp_path, double, "--pagerduty-incident", "Q6OPEN", "--pad", "1h")
    window = manifest(bundle)["window"]
    assert pd.Timestamp(window["since"]) == opened - pd.Timedelta("1h")
    assert before <= pd.Timestamp(window["until"]) <= pd.Timestamp.now("UTC")  # now, not padded


def test_twelve_thousand_log_entries_come_complete(tmp_path: Path, double: PagerDutyDouble) -> None:
    storm = "Q5STORM"
    double.add(
        incident(
            storm, 3000, "Paging storm", "2026-03-10T09:00:00Z", resolved="2026-03-10T13:00:00Z"
        ),
        many_entries(storm, 12_000, "2026-03-10T09:00:00Z"),
    )
    bundle, _ = collect(tmp_path, double, "--pagerduty-incident", storm, "--pad", "0s")
    frame = events(bundle)
    entries = frame[(frame["stream"] == storm) & (frame["kind"] == "page_notify")]
    ids = [lab["log_entry"] for lab in entries["labels"]]
    assert len(ids) == len(set(ids)) == 12_000
    assert manifest(bundle)["sources"]["pagerduty"]["status"] == "ok"
    over = [s for s in double.served if s.status == 400]
    assert over == []  # split before the ceiling, never past it
    queries = [q for p, q, _ in double.requests if p == f"/incidents/{storm}/log_entries"]
    assert max(int(q.get("offset", ["0"])[0]) + int(q["limit"][0]) for q in queries) <= 10_000


def test_rate_limit_waits_ratelimit_reset(tmp_path: Path, double: PagerDutyDouble) -> None:
    double.rate_limited, double.rate_reset = 1, 1
    stamps: list[float] = []
    original = double.handle

    def timed(*args: Any) -> Any:
        stamps.append(time.monotonic())
        return original(*args)

    double.handle = timed  # type: ignore[method-assign]
    bundle, _ = collect(
        tmp_path, double, "--since", "2026-03-10T09:00:00Z", "--until", "2026-03-10T10:00:00Z"
    )
    assert [s.status for s in double.served[:2]] == [429, 200]
    assert stamps[1] - stamps[0] >= 1.0
    assert manifest(bundle)["sources"]["pagerduty"]["status"] == "ok"


def test_bad_token_is_clear_and_never_written(
    tmp_path: Path, double: PagerDutyDouble, monkeypatch: pytest.MonkeyPatch
) -> None:
    double.token = "the-right-one"
    double.echo_auth = True  # the 401 body repeats the header it got
    bundle, result = collect(
        tmp_path,
        double,
        "--since",
        "2026-03-10T09:00:00Z",
        "--until",
        "2026-03-10T10:00:00Z",
        code=3,
    )
    source = manifest(bundle)["sources"]["pagerduty"]
    assert source["status"] == "failed"
    assert source["error"] == (
        "PagerDuty rejected the API token (HTTP 401); check $PD_TEST_TOKEN (a REST API "
        "key, sent as 'Token token=...')"
    )
    assert source["error"] in result.output
    assert TOKEN not in result.output
    for file in bundle.rglob("*"):
        if file.is_file():
            assert TOKEN.encode() not in file.read_bytes(), file


def test_forbidden_not_found_and_server_errors(tmp_path: Path, double: PagerDutyDouble) -> None:
    out = tmp_path / "missing"
    result = cli(
        [
            "collect",
            "-c",
            str(config(tmp_path, double)),
            "--pagerduty-incident",
            "Q1NOPE00",
            "-o",
            str(out),
        ],
        1,
    )
    assert "Error: no incident Q1NOPE00; check the id or the account" in result.output
    bundle, _ = collect(
        tmp_path,
        double,
        "--pagerduty-incident",
        "Q1NOPE00",
        "--since",
        "2026-03-10T09:00:00Z",
        "--until",
        "2026-03-10T10:00:00Z",
        code=3,
    )
    m = manifest(bundle)
    assert m["incident"] == {
        "id": "Q1NOPE00",
        "error": "no incident Q1NOPE00; check the id or the account",
    }
    assert m["sources"]["pagerduty"]["status"] == "partial"
    assert m["sources"]["pagerduty"]["error"] == "no incident Q1NOPE00; check the id or the account"

    double.fail = {f"/incidents/{ID}/notes": 503}
    other = tmp_path / "other"
    cli(
        [
            "collect",
            "-c",
            str(config(tmp_path, double)),
            "--since",
            "2026-03-10T09:00:00Z",
            "--until",
            "2026-03-10T10:00:00Z",
            "-o",
            str(other),
        ],
        3,
    )
    source = manifest(other)["sources"]["pagerduty"]
    assert source["status"] == "partial"
    assert [w["message"] for w in source["warnings"]] == [
        f"incident {ID} notes: PagerDuty failed on /incidents/{ID}/notes (HTTP 503: Internal "
        "Server Error); try again later"
    ]
    double.fail = {}
    double.forbidden.add(TOKEN)
    denied = tmp_path / "denied"
    cli(["collect", "-c", str(config(tmp_path, double)), "--last", "1h", "-o", str(denied)], 3)
    assert manifest(denied)["sources"]["pagerduty"]["error"] == (
        "the PagerDuty API token may not read /incidents (HTTP 403)"
    )


def test_unknown_types_are_kept_and_a_cut_export_is_partial(tmp_path: Path) -> None:
    doc = {
        "log_entries": [
            {
                "id": "R1",
                "type": "acknowledgement_log_entry",
                "created_at": "2026-03-10T09:19:42Z",
                "summary": "Acknowledged by Raj Patel.",
                "agent": {"summary": "Raj Patel"},
            },
            {
                "id": "R2",
                "type": "hologram_log_entry",
                "created_at": "2026-03-10T09:20:00Z",
                "summary": "Something new",
                "incident": {"id": ID},
            },
        ],
        "limit": 2,
        "offset": 0,
        "more": True,
    }
    parsed = parse_pagerduty_log_entries(doc, Context(ref="raw/x", stream=ID))
    assert list(parsed.events["kind"]) == ["page_ack", "page_event"]
    assert json.loads(parsed.events["labels"][1])["log_entry_type"] == "hologram_log_entry"
    export = tmp_path / "pd.json"
    export.write_text(json.dumps(doc))
    path = tmp_path / "config.toml"
    path.write_text('[[file]]\npath = "pd.json"\n')
    out = tmp_path / "b"
    cli(
        [
            "collect",
            "-c",
            str(path),
            "--since",
            "2026-03-10T09:00:00Z",
            "--until",
            "2026-03-10T10:00:00Z",
            "-o",
            str(out),
        ],
        3,
    )
    source = manifest(out)["sources"]["file"]
    assert source["status"] == "partial"
    assert [w["message"] for w in source["warnings"]] == [
        'pd.json: the page says "more": true: the export is incomplete; export every page '
        "(offset += limit until more is false) or collect with [pagerduty]"
    ]


def test_the_page_meets_alertmanager_by_dedup_key() -> None:
    # Alertmanager's webhook shows the group key whose sha256 its PagerDuty receiver sends
    line = json.dumps(
        {
            "version": "4",
            "groupKey": GROUP_KEY,
            "status": "firing",
            "receiver": "pagerduty",
            "alerts": [
                {
                    "status": "firing",
                    "labels": {"alertname": "HighErrorRate"},
                    "startsAt": "2026-03-10T09:11:58Z",
                    "fingerprint": "x",
                }
            ],
        }
    )
    parsed = parse("alertmanager-webhook", line.encode(), Context(ref="raw/w", stream="w"))
    assert json.loads(parsed.events["labels"][0])["dedup_key"] == DEDUP_KEY


def test_more_than_the_ceiling_in_one_second_keeps_what_came(
    tmp_path: Path, double: PagerDutyDouble, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The same path as 10,000 entries in one second, at a ceiling of 300 (both sides' constant)
    monkeypatch.setattr("incident_timeline.collector.pagerduty.api.CEILING", 300)
    monkeypatch.setattr("tests.doubles.pagerduty.CEILING", 300)
    burst = "Q7BURST"
    entries = many_entries(burst, 350, "2026-03-10T09:30:00Z")
    for entry in entries:
        entry["created_at"] = "2026-03-10T09:30:00Z"
    double.add(
        incident(burst, 3002, "Burst", "2026-03-10T09:30:00Z", resolved="2026-03-10T09:40:00Z"),
        entries,
    )
    bundle, _ = collect(tmp_path, double, "--pagerduty-incident", burst, code=3)
    source = manifest(bundle)["sources"]["pagerduty"]
    assert source["status"] == "partial"
    assert [w["message"] for w in source["warnings"]] == [
        f"incident {burst}: /incidents/{burst}/log_entries: more than 300 log_entries at "
        f"2026-03-10T09:30:00Z; /incidents/{burst}/log_entries: more than 300 log_entries; "
        "PagerDuty lists no further"
    ]
    frame = events(bundle)
    assert int((frame["stream"] == burst).sum()) == 300


def test_the_report_header_names_the_paged_incident(
    tmp_path: Path, double: PagerDutyDouble
) -> None:
    bundle, _ = collect(tmp_path, double, "--pagerduty-incident", ID, "--pad", "30m")
    cli(["report", str(bundle)], exit_code=None)
    head = (bundle / "postmortem.md").read_text().split("## ")[0]
    assert f"| **Incident** | `{ID}` (#1042), `Q2OLDER` |" in head  # both in the window
    assert f"| **Priority (`{ID}`)** | P1 |" in head
    assert "| **Service** | checkout-api |" in head
    assert "| **Escalation policy** | Checkout on-call |" in head
    assert "| **Responders** | Jane Doe, Raj Patel |" in head
    assert "| **Urgency (PagerDuty)** | high |" in head

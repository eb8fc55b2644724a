"""Accepted corrections shift the right rows and keep the originals; records exported twice
count once on the timeline."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from incident_timeline.timeline.merge import deduplicate, merge_events
from incident_timeline.timeline.schema import make_events
from incident_timeline.timeline.trust.findings import (
    Correction,
    Finding,
    apply_corrections,
    corrections_payload,
    findings_frame,
    parse_corrections,
)

T0 = pd.Timestamp("2026-02-17 14:00:00", tz="UTC")


def s(seconds: float) -> pd.Timestamp:
    return T0 + pd.Timedelta(seconds=seconds)


def rows(
    stream: str, times: list[float], file: str = "raw/f/a.log", **extra: object
) -> pd.DataFrame:
    return make_events(
        time=[s(t) for t in times],
        source="kubernetes",
        stream=stream,
        kind="log",
        summary=[f"at {t}" for t in times],
        ref=[f"{file}#L{i + 1}" for i in range(len(times))],
        **extra,
    )


NODE = Correction(
    id="node_clock:node-b",
    description="node-b 2.4 s ahead",
    shift_ns=-2_400_000_000,
    columns=("time", "embedded_time"),
    streams=("ns/b/app",),
    refs=("raw/k/events.json#/items/7",),
    since=s(10),
    until=s(100),
)


def test_a_node_correction_shifts_its_streams_and_events_inside_its_span() -> None:
    events = pd.concat(
        [
            rows("ns/b/app", [5, 20, 50], embedded_time=[s(5), s(19.9), pd.NaT]),
            rows("ns/a/app", [20]),
            make_events(
                time=[s(30)],
                source="kubernetes",
                stream="ns/pod/b",
                kind="k8s_event",
                summary=["Killing"],
                labels=[{"node": "node-b"}],
                ref=["raw/k/events.json#/items/7"],
            ),
        ],
        ignore_index=True,
    )
    fixed, counts = apply_corrections(events, [NODE])
    assert counts == {"node_clock:node-b": 3}
    assert fixed["time"].tolist() == [s(5), s(17.6), s(47.6), s(20), s(27.6)]
    assert fixed["embedded_time"].iloc[1] == s(17.5) and pd.isna(fixed["embedded_time"].iloc[2])
    assert fixed["time_quality"].tolist() == [
        "exact",
        "corrected",
        "corrected",
        "exact",
        "corrected",
    ]
    assert json.loads(fixed["labels"].iloc[1]) == {
        "correction": "node_clock:node-b",
        "embedded_time_original": "2026-02-17T14:00:19.900000000Z",
        "time_original": "2026-02-17T14:00:20.000000000Z",
    }
    assert json.loads(fixed["labels"].iloc[4])["node"] == "node-b"
    assert events["time"].iloc[1] == s(20)  # the input is not changed


def test_two_corrections_on_one_row_add_up_and_keep_the_first_original() -> None:
    zone = Correction(
        id="app_clock:pgbouncer",
        description="read as UTC−05:00",
        shift_ns=18_000 * 10**9,
        columns=("embedded_time",),
        streams=("ns/b/app",),
    )
    events = rows("ns/b/app", [20], embedded_time=[s(20 - 18000)])
    fixed, counts = apply_corrections(events, [NODE, zone])
    assert counts == {"node_clock:node-b": 1, "app_clock:pgbouncer": 1}
    assert fixed["embedded_time"].iloc[0] == s(17.6)
    labels = json.loads(fixed["labels"].iloc[0])
    assert labels["correction"] == "node_clock:node-b,app_clock:pgbouncer"
    assert labels["embedded_time_original"] == "2026-02-17T09:00:20.000000000Z"


def test_no_corrections_or_no_match_changes_nothing() -> None:
    events = rows("ns/a/app", [1, 2])
    for corrections in ([], [NODE]):
        fixed, _ = apply_corrections(events, corrections)
        pd.testing.assert_frame_equal(fixed, events)


def test_corrections_file_round_trip_and_errors() -> None:
    payload = json.loads(json.dumps(corrections_payload([NODE])))
    assert payload["version"] == 1
    assert payload["corrections"][0]["shift_seconds"] == -2.4
    assert payload["corrections"][0]["since"] == "2026-02-17T14:00:10.000Z"
    assert parse_corrections(payload) == [NODE]
    with pytest.raises(ValueError, match="no 'corrections' list"):
        parse_corrections({"version": 1})
    with pytest.raises(ValueError, match="malformed correction"):
        parse_corrections({"corrections": [{"id": "x"}]})
    bad = {**payload["corrections"][0], "columns": ["message"]}
    with pytest.raises(ValueError, match="columns must be some of"):
        parse_corrections({"corrections": [bad]})


def test_findings_become_warning_events_and_say_when_corrected() -> None:
    finding = Finding(
        id="node_clock:node-b",
        kind="clock",
        check="node_clock",
        time=s(0),
        end=s(60),
        subject="node/node-b",
        summary="node-b clock 2.4 s ahead",
        detail="…",
        ref="metrics/t.parquet#/data/result/1/values/0",
        labels={"offset_seconds": "2.400"},
        correction=NODE,
    )
    [row] = findings_frame([finding], applied=["node_clock:node-b"]).to_dict("records")
    assert (row["source"], row["kind"], row["severity"], row["stream"]) == (
        "integrity",
        "clock",
        "warning",
        "node/node-b",
    )
    assert row["summary"] == "node-b clock 2.4 s ahead [corrected]"
    assert json.loads(row["labels"]) == {
        "check": "node_clock",
        "corrected": "yes",
        "finding": "node_clock:node-b",
        "offset_seconds": "2.400",
    }
    assert findings_frame([]).empty


def test_the_same_lines_in_two_saves_count_once_but_repeats_in_one_file_stay() -> None:
    first = rows("ns/p/app", [1, 2, 2], file="raw/f/logs-1420.txt")  # two equal lines at 2 s
    first.loc[2, "summary"] = "at 2"
    second = rows("ns/p/app", [1, 2, 3], file="raw/f/logs-1530.txt")
    merged = merge_events([first, second])
    unique = deduplicate(merged)
    assert unique["ref"].tolist() == [
        "raw/f/logs-1420.txt#L1",
        "raw/f/logs-1420.txt#L2",
        "raw/f/logs-1420.txt#L3",
        "raw/f/logs-1530.txt#L3",
    ]
    assert deduplicate(merge_events([first]))["ref"].tolist() == first["ref"].tolist()


def test_pagerduty_entries_and_alertmanager_alerts_by_id_across_snapshots() -> None:
    def page(msg: str, file: str) -> pd.DataFrame:
        return make_events(
            time=[s(33)],
            source="pagerduty",
            stream="Q1",
            kind="page_trigger",
            summary=["Triggered"],
            message=[msg],
            labels=[{"log_entry": "R3D7", "incident": "Q1"}],
            ref=[f"{file}#/0"],
        )

    def alert(state: str, file: str) -> pd.DataFrame:
        return make_events(
            time=[s(30)],
            source="alertmanager",
            stream=file.rsplit("/")[-1],
            kind="alert_firing",
            summary=[f"HighErrorRate {state}"],
            labels=[{"fingerprint": "3a75", "state": state}],
            ref=[f"{file}#/0"],
        )

    merged = merge_events(
        [
            page("{...v1}", "raw/pd/a.json"),
            page("{...v2}", "raw/pd/b.json"),
            alert("suppressed", "raw/am/1420.json"),
            alert("active", "raw/am/1530.json"),
        ]
    )
    assert deduplicate(merged)["ref"].tolist() == ["raw/am/1420.json#/0", "raw/pd/a.json#/0"]


def test_a_note_added_entry_gives_way_to_the_note_with_its_text() -> None:
    def note(t: float, actor: str, labels: dict[str, str], summary: str) -> pd.DataFrame:
        return make_events(
            time=[s(t)],
            source="pagerduty",
            stream="Q1",
            kind="note",
            actor=actor,
            summary=[summary],
            labels=[labels],
            ref=[f"raw/pd/{summary[:4]}{t}#/0"],
        )

    merged = merge_events(
        [
            note(90, "Alice Chen", {"log_entry": "RFEM"}, "Note added"),
            note(90.4, "Alice Chen", {"note": "PWNJ"}, "Note by Alice Chen: looking"),
            note(200, "Alice Chen", {"log_entry": "R6J2"}, "Note added"),  # its note is missing
            note(300, "Bob Li", {"log_entry": "R7K3"}, "Note added"),
            note(300, "Alice Chen", {"note": "PX"}, "Note by Alice Chen: other"),
        ]
    )
    assert deduplicate(merged)["summary"].tolist() == [
        "Note by Alice Chen: looking",
        "Note added",
        "Note added",
        "Note by Alice Chen: other",
    ]


def test_the_same_silence_from_the_live_api_and_an_amtool_export_is_one_event() -> None:
    # Issue 8 item 9: identity is the silence id, not the whole record (the state moved on
    # between the export and the collection; the stream and the file differ).
    from incident_timeline.collector.alertmanager.formats import parse_silences
    from incident_timeline.collector.formats import Context

    silence = {
        "id": "b3f1c2d4-0000-4000-8000-000000000001",
        "matchers": [{"name": "alertname", "value": "HighErrorRate", "isRegex": False}],
        "startsAt": "2026-02-17T14:20:00Z",
        "endsAt": "2026-02-17T16:20:00Z",
        "createdBy": "alice",
        "comment": "deploy rollback in progress",
        "status": {"state": "active"},
    }
    later = {**silence, "status": {"state": "expired"}}
    live = parse_silences(
        [silence], Context(ref="raw/alertmanager/api/silences.json", stream="silences")
    ).events
    export = parse_silences(
        [later], Context(ref="raw/file/amtool.json", stream="amtool.json")
    ).events
    unique = deduplicate(merge_events([live, export]))
    assert unique["ref"].tolist() == ["raw/file/amtool.json#/0"]  # first on the total key
    other = parse_silences(
        [{**silence, "id": "another"}], Context(ref="raw/file/b.json", stream="b.json")
    ).events
    assert len(deduplicate(merge_events([live, other]))) == 2

"""Key events find the incident's own errors: ids of every shape normalised, JSON lines by
their message, new signatures first, heartbeats and history left out, one row per rollout."""

from __future__ import annotations

import json

import pandas as pd

from incident_timeline.timeline.changes import rollouts
from incident_timeline.timeline.keyevents import error_signature, json_text, key_events
from incident_timeline.timeline.schema import make_events
from incident_timeline.timeline.window import Window

T0 = pd.Timestamp("2026-02-17 14:00:00", tz="UTC")
WINDOW = Window(T0.to_pydatetime(), (T0 + pd.Timedelta(hours=1)).to_pydatetime())


def events(rows: list[tuple[float, str, str, str]], labels: list[dict[str, str]] | None = None):  # type: ignore[no-untyped-def]
    """(seconds, kind, severity, summary) rows; ref is the row number."""
    return make_events(
        time=[T0 + pd.Timedelta(seconds=r[0]) for r in rows],
        source="kubernetes",
        stream="checkout/deployment/checkout-api",
        kind=[r[1] for r in rows],
        severity=[r[2] for r in rows],
        summary=[r[3] for r in rows],
        labels=labels or [{} for _ in rows],
        ref=[f"raw/k#L{i}" for i in range(len(rows))],
    )


def test_ids_of_every_shape_share_a_signature() -> None:
    lines = pd.Series(
        [
            "order ord_8fK2mQ91x failed from 10.0.0.7:443 after 1m30.5s for 'bob'",
            "order ord_55195894 failed from 10.0.0.9:443 after 250ms for 'alice'",
            "order ord_Ab9xQ2pLm failed from fe80::1%eth0 after 2s for 'eve'",
            "order cus_NffrFeUfNVaHib failed from 2001:db8:0:0:0:0:2:1 after 3h for 'x'",
        ],
        dtype="string",
    )
    assert set(error_signature(lines)) == {
        "order ord_<n> failed from <ip> after <dur> for '<str>'"
    } | {"order cus_<n> failed from <ip> after <dur> for '<str>'"}
    assert error_signature(pd.Series(["at 14:02:05 in Foo::Bar"], dtype="string"))[0] == (
        "at <n>:<n>:<n> in Foo::Bar"
    )


def test_json_lines_by_level_message_and_error() -> None:
    line = json.dumps(
        {"ts": "x", "level": "error", "msg": "db pool exhausted", "error": "pq: too many", "id": 7}
    )
    assert json_text(line) == "error: db pool exhausted (pq: too many)"
    nested = json.dumps({"log": {"level": "ERROR"}, "message": "boom", "trace": "ab12"})
    assert json_text(nested) == "ERROR: boom"
    assert json_text('{"a": 1}') == '{"a": 1}'
    assert json_text("not json") == "not json"
    rows = [
        (1, "log", "error", json.dumps({"level": "error", "msg": "db down", "req": i}))
        for i in range(3)
    ]
    key = key_events(events(rows))
    assert key["summary"].tolist() == ["error: db down (×3 in window)"]


def test_new_signatures_rank_before_noisy_old_ones() -> None:
    old = [(float(i), "log", "error", f"legacy{chr(97 + i % 3)} warning spam") for i in range(90)]
    new = [(1500.0, "log", "error", "db pool exhausted"), (1501.0, "log", "error", "panic")]
    alert = [(1600.0, "alert_firing", "critical", "HighErrorRate firing")]
    key = key_events(events(old + new + alert), WINDOW, max_errors=2)
    assert key["summary"].tolist() == [
        "3 more error signatures (90 events) not listed, the first: legacya warning spam",
        "db pool exhausted",
        "panic",
        "HighErrorRate firing",
    ]


def test_heartbeats_and_events_outside_the_window_are_not_key_events() -> None:
    rows = [
        (-3600.0, "deploy", "info", "Deploy v1 of api: 1 step 13:00:00"),
        (0.0, "alert_firing", "info", "Watchdog firing"),
        (10.0, "alert_firing", "info", "AlwaysOn firing"),
        (3590.0, "alert_firing", "info", "AlwaysOn firing"),
        (600.0, "alert_firing", "critical", "HighErrorRate firing"),
        (3700.0, "page_trigger", "critical", "later page"),
    ]
    names = ["Deploy", "Watchdog", "AlwaysOn", "AlwaysOn", "HighErrorRate", ""]
    key = key_events(events(rows, [{"alertname": n} if n else {} for n in names]), WINDOW)
    assert key["summary"].tolist() == ["HighErrorRate firing"]
    assert key_events(events(rows[1:2], [{"alertname": "Watchdog"}])).empty


def test_one_row_per_rollout_and_a_rollback_to_an_earlier_replicaset() -> None:
    steps = [
        (130, "Scaled up replica set api-6d8f7b9c5d from 0 to 1"),
        (167, "Scaled down replica set api-5c9d7f6b8 from 4 to 3"),
        (167, "Scaled up replica set api-6d8f7b9c5d from 1 to 2"),
        (280, "Scaled down replica set api-5c9d7f6b8 to 0 from 1"),
        (1361, "Scaled up replica set api-5c9d7f6b8 to 1 from 0"),
        (1510, "Scaled down replica set api-6d8f7b9c5d to 0 from 1"),
        (2400, "Scaled up replica set api-5c9d7f6b8 to 6 from 4"),
    ]
    labels = {"kind": "Deployment", "name": "api", "namespace": "shop"}
    frame = events(
        [(t, "deploy", "info", f"Deployment api: ScalingReplicaSet: {m}") for t, m in steps],
        [labels] * len(steps),
    )
    found = rollouts(frame)
    assert [(r.kind, r.steps, r.new_replicaset, r.old_replicaset) for r in found] == [
        ("deploy", 4, "api-6d8f7b9c5d", "api-5c9d7f6b8"),
        ("rollback", 2, "api-5c9d7f6b8", "api-6d8f7b9c5d"),
        ("scale", 1, "api-5c9d7f6b8", None),
    ]
    key = key_events(frame, WINDOW)
    assert key["summary"].tolist() == [
        "Rollout of deployment shop/api: ReplicaSet api-6d8f7b9c5d replacing api-5c9d7f6b8, "
        "4 ReplicaSet steps 14:02:10–14:04:40",
        "Rollback of deployment shop/api: ReplicaSet api-5c9d7f6b8 replacing api-6d8f7b9c5d, "
        "2 ReplicaSet steps 14:22:41–14:25:10",
        "Scale of deployment shop/api: ReplicaSet api-5c9d7f6b8, 1 ReplicaSet step 14:40:00",
    ]


def test_the_kubernetes_collectors_rollout_rows_give_revision_and_version() -> None:
    labels = {
        "kind": "Deployment",
        "name": "api",
        "namespace": "shop",
        "revision": "4",
        "replicaset": "api-7c9",
        "images": "api=reg/shop/api:v2.3.3,proxy=envoy:1.30",
        "rollback": "true",
        "step": "start",
    }
    frame = events([(60, "deploy", "warning", "api rolled back to revision 2")], [labels])
    [change] = rollouts(frame)
    assert (change.kind, change.version, change.revision, change.new_replicaset) == (
        "rollback",
        "v2.3.3",
        "4",
        "api-7c9",
    )


def test_live_collector_labels_are_read_when_present() -> None:
    labels = {"kind": "Deployment", "name": "api", "image": "reg/api:v9.1", "revision": "7"}
    frame = events([(5, "deploy", "info", "Deployment api: rolled out")], [labels])
    [change] = rollouts(frame)
    assert (change.kind, change.version) == ("deploy", "v9.1")
    assert change.summary == "Deploy v9.1 of deployment api: revision 7, 1 step 14:00:05"


def test_a_deploy_log_that_names_no_target_says_none_of_it() -> None:
    # A CI pipeline's rollback lines (`action=rollback version=v2.3.3 from=v2.3.4`) often name
    # no deployment: the summary leaves the target out rather than printing "None".
    lines = [
        {
            "pipeline": "api#7",
            "rollback": "true",
            "version": "v2.3.3",
            "previous_version": "v2.3.4",
        },
        {"pipeline": "api#7", "status": "success", "version": "v2.3.3"},
    ]
    frame = make_events(
        time=[T0, T0 + pd.Timedelta(seconds=150)],
        source="file",
        stream="ci-deploy.log",
        kind="deploy",
        summary=["rollback v2.3.3", "finish v2.3.3"],
        labels=lines,
        ref=["raw/file/ci-deploy.log#L1", "raw/file/ci-deploy.log#L2"],
    )
    [change] = rollouts(frame)
    assert change.summary == (
        "Rollback to v2.3.3 (from v2.3.4): pipeline api#7, 2 steps 14:00:00–14:02:30, success"
    )

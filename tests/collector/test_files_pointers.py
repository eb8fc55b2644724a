"""Issue 8, item 5: a field of the wrong type costs its record only, and the manifest names
the bad field by its JSON pointer (RFC 6901), in every JSON export format: the issue's
``count: "5"``, ``labels: "x"``, ``agent: "x"`` (and ``values: [["x","y"]]``, see
test_files_hostile.py), and one per other format. The other records are events as before."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from incident_timeline.collector.bundle import read_manifest
from incident_timeline.collector.files.collector import FileCollector, FileSource
from tests.collector import kubernetes_scenario as k8s
from tests.support import ROOT, events_of, run_collector

EXPORTS = ROOT / "examples" / "checkout-incident" / "exports"
SINCE = datetime(2026, 2, 17, 13, tzinfo=UTC)
UNTIL = datetime(2026, 2, 17, 16, tzinfo=UTC)


def example(name: str) -> Any:
    return json.loads((EXPORTS / name).read_text())


def three(records: list[Any]) -> list[Any]:
    """Three records (copies of the first when there are fewer)."""
    return [copy.deepcopy(records[min(i, len(records) - 1)]) for i in range(3)]


def _events() -> tuple[Any, str]:
    doc = example("events.json")
    doc["items"] = doc["items"][:3]
    doc["items"][1]["count"] = "5"
    return doc, '/items/1/count: "5" is a string, not an integer'


def _alerts() -> tuple[Any, str]:
    doc = three(example("alertmanager/alerts.json"))
    doc[1]["labels"] = "x"
    return doc, '/1/labels: "x" is a string, not an object'


def _log_entries() -> tuple[Any, str]:
    doc = example("pagerduty/log_entries.json")
    doc["log_entries"] = doc["log_entries"][:3]
    doc["log_entries"][1]["agent"] = "x"
    return doc, '/log_entries/1/agent: "x" is a string, not an object'


def _silences() -> tuple[Any, str]:
    doc = three(example("alertmanager/silences.json"))
    for i, silence in enumerate(doc):
        silence["id"] = f"silence-{i}"
    doc[1]["matchers"][0]["isRegex"] = "false"
    return doc, '/1/matchers/0/isRegex: "false" is a string, not a boolean'


def _notes() -> tuple[Any, str]:
    doc = example("pagerduty/notes.json")
    doc["notes"] = three(doc["notes"])
    doc["notes"][1]["user"] = ["Alice"]
    return doc, '/notes/1/user: ["Alice"] is an array, not an object'


def _pd_alerts() -> tuple[Any, str]:
    alert = {
        "id": "PA1",
        "alert_key": "k",
        "status": "triggered",
        "created_at": "2026-02-17T14:13:32Z",
        "summary": "HighErrorRate",
        "incident": {"id": "Q1"},
    }
    doc = {"alerts": three([alert])}
    doc["alerts"][1]["created_at"] = 1771337612
    return doc, "/alerts/1/created_at: 1771337612 is an integer, not a string"


def _slack() -> tuple[Any, str]:
    message = {"type": "message", "user": "U1", "text": "rolling back", "ts": "1771337700.000100"}
    doc = three([message])
    doc[1]["reply_count"] = "2"
    return doc, '/1/reply_count: "2" is a string, not an integer'


def _pods() -> tuple[Any, str]:
    items = [p for p in k8s.pods() if p["status"].get("containerStatuses")][:3]
    doc = {"apiVersion": "v1", "kind": "List", "items": [{"kind": "Pod", **p} for p in items]}
    doc["items"][1]["status"]["containerStatuses"][0]["restartCount"] = "3"
    return doc, '/items/1/status/containerStatuses/0/restartCount: "3" is a string, not an integer'


def _workloads() -> tuple[Any, str]:
    objects = k8s.workloads()
    items = [{"kind": "Deployment", **objects["deployments"][0]}]
    items += [{"kind": "ReplicaSet", **rs} for rs in objects["replicasets"]]
    # a StatefulSet whose annotations a hand edit broke, between the Deployment and its sets
    broken = {"kind": "StatefulSet", "metadata": {"name": "cache", "annotations": "x"}}
    doc = {
        "apiVersion": "v1",
        "kind": "List",
        "items": copy.deepcopy([items[0], broken, *items[1:]]),
    }
    return doc, '/items/1/metadata/annotations: "x" is a string, not an object'


CASES: dict[str, Callable[[], tuple[Any, str]]] = {
    "kubectl-events": _events,
    "alertmanager-alerts": _alerts,
    "amtool-alerts": _alerts,
    "alertmanager-silences": _silences,
    "pagerduty-log-entries": _log_entries,
    "amtool-silences": _silences,
    "pagerduty-notes": _notes,
    "pagerduty-alerts": _pd_alerts,
    "slack-messages": _slack,
    "kubectl-pods": _pods,
    "kubectl-workloads": _workloads,
}


def collect(tmp_path: Path, name: str, fmt: str, data: bytes) -> tuple[Path, Any]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / name).write_bytes(data)
    (tmp_path / "app.log").write_text("2026-02-17T14:05:00Z started\n")
    sources = [FileSource(path=name, format=fmt), FileSource(path="app.log")]
    return run_collector(
        tmp_path / "out", "file", FileCollector(sources, tmp_path), SINCE, UNTIL, UNTIL
    )


@pytest.mark.parametrize("fmt", sorted(CASES))
def test_a_wrong_typed_field_is_named_by_its_pointer(tmp_path: Path, fmt: str) -> None:
    document, reason = CASES[fmt]()
    whole = copy.deepcopy(document)
    mended, good = collect(
        tmp_path / "good", "export.json", fmt, json.dumps(_without(whole)).encode()
    )
    data = json.dumps(document).encode()
    out, outcome = collect(tmp_path, "export.json", fmt, data)
    assert outcome.status == "partial"
    pointer = reason.split(":", 1)[0]
    record = "/".join(pointer.split("/")[: 2 if pointer.split("/")[1].isdigit() else 3])
    warnings = read_manifest(out)["sources"]["file"]["warnings"]
    assert [w for w in warnings if w["kind"] == "unparsed"] == [
        {
            "kind": "unparsed",
            "message": f"export.json: 1 record(s) unreadable as {fmt}, kept as unparsed events "
            f"(first at {reason})",
            "ref": f"raw/file/export.json#{pointer}",
            "partial": True,
        }
    ]
    events = events_of(out)
    unparsed = events.loc[events["kind"] == "unparsed"]
    assert unparsed["ref"].tolist() == [f"raw/file/export.json#{record}"]
    assert json.loads(unparsed["message"].item()) == _at(document, record)
    assert json.loads(unparsed["labels"].item()) == {"reason": reason}
    # every other record gives the events it gives in a file without the bad record
    fine = events.loc[(events["kind"] != "unparsed") & (events["stream"] != "app.log")]
    assert not fine.empty
    before = events_of(mended)
    before = before.loc[before["stream"] != "app.log"]
    assert sorted(fine["ref"]) == sorted(_shifted(r, record) for r in before["ref"])
    assert sorted(fine["summary"]) == sorted(before["summary"])
    assert "raw/file/app.log#L1" in set(events["ref"])  # the next file is read too
    assert (out / "raw/file/export.json").read_bytes() == data
    assert good.status == "ok", good.error


def _at(document: Any, pointer: str) -> Any:
    node = document
    for part in pointer.strip("/").split("/"):
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def _without(document: Any) -> Any:
    """The same document without record 1 (the one each case breaks)."""
    records = (
        document
        if isinstance(document, list)
        else next(v for v in document.values() if isinstance(v, list) and v)
    )
    del records[1]
    return document


def _shifted(ref: str, record: str) -> str:
    """A ref into the document without record 1, as a ref into the whole one."""
    base, _, number = record.rpartition("/")
    head = f"raw/file/export.json#{base}/"
    if not ref.startswith(head):
        return ref
    index, sep, rest = ref[len(head) :].partition("/")
    return f"{head}{int(index) + (int(index) >= int(number))}{sep}{rest}"


def test_a_wrong_typed_field_in_a_webhook_line_is_named_inside_the_line(tmp_path: Path) -> None:
    lines = (EXPORTS / "alertmanager/webhook.jsonl").read_text().splitlines()
    lines.insert(1, lines[0])
    bad = json.loads(lines[1])
    bad["payload"]["alerts"][0]["labels"] = "x"
    lines[1] = json.dumps(bad)
    out, outcome = collect(
        tmp_path, "hook.jsonl", "alertmanager-webhook", ("\n".join(lines) + "\n").encode()
    )
    assert outcome.status == "partial"
    reason = 'line 2: /payload/alerts/0/labels: "x" is a string, not an object'
    assert read_manifest(out)["sources"]["file"]["warnings"] == [
        {
            "kind": "warning",
            "message": "hook.jsonl: 1 line(s) not read as webhook payloads, kept as unparsed "
            f"events (first: {reason})",
            "ref": None,
            "partial": True,
        }
    ]
    events = events_of(out)
    assert events.loc[events["kind"] == "unparsed", "ref"].tolist() == ["raw/file/hook.jsonl#L2"]
    assert (events["kind"] == "alert_notify").sum() == 2

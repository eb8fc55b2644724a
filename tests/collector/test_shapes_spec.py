"""The record shapes the JSON export formats check (collector/shapes.py) are held to the
official API documents in shared/specs: every field a shape names is a field of the API's
schema (of one of its kinds, for polymorphic records such as PagerDuty's log entries), with
the same JSON type. A shape stricter or looser than the API would drop good records or pass
bad ones. And the checker itself: pointers, JSON types, null and absent fields."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pytest
import yaml

from incident_timeline.collector.alertmanager import shapes as am
from incident_timeline.collector.kubernetes import shapes as k8s
from incident_timeline.collector.pagerduty import shapes as pd
from incident_timeline.collector.shapes import INTEGER, STRING, ArrayOf, MapOf, Spec, mismatch
from tests.support import shared

# Read by our parsers but not declared by the API document, each for a documented reason.
UNDECLARED = {
    # PagerDuty's Channel is "polymorphic, different per channel type" (the spec's own
    # description): a notify entry's channel carries the notification, as PagerDuty sends it.
    "LogEntry/channel/notification",
}


def _pointer(doc: Any, ref: str) -> Any:
    node = doc
    for part in ref.lstrip("#/").split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def _deref(doc: Any, node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        node = _pointer(doc, node["$ref"])
    return node


def _parts(doc: Any, node: Any) -> list[Any]:
    """The node and every schema it is made of (allOf, oneOf, anyOf), dereferenced."""
    node = _deref(doc, node)
    found = [node]
    for key in ("allOf", "oneOf", "anyOf"):
        for part in node.get(key, []):
            found += _parts(doc, part)
    return found


def _types(doc: Any, node: Any) -> set[str]:
    types: set[str] = set()
    for part in _parts(doc, node):
        kind = part.get("type")
        types |= set(kind) if isinstance(kind, list) else ({kind} if kind else set())
        if "properties" in part or "additionalProperties" in part:
            types.add("object")
    return types


def _check(doc: Any, spec: Spec, nodes: list[Any], path: str, problems: list[str]) -> None:
    if isinstance(spec, str):
        expected = {"number": {"number", "integer"}}.get(spec, {spec})
        found = set().union(*(_types(doc, n) for n in nodes))
        if not found & expected:
            problems.append(f"{path}: {spec} in the shape, {sorted(found)} in the spec")
        return
    parts = [p for n in nodes for p in _parts(doc, n)]
    if isinstance(spec, ArrayOf):
        items = [p["items"] for p in parts if "items" in p]
        if not items:
            problems.append(f"{path}: an array in the shape, not in the spec")
        else:
            _check(doc, spec.item, items, path + "/*", problems)
        return
    if isinstance(spec, MapOf):
        values = [p["additionalProperties"] for p in parts if "additionalProperties" in p]
        values = [v for v in values if isinstance(v, dict)]
        if not values:
            problems.append(f"{path}: a map in the shape, not in the spec")
        else:
            _check(doc, spec.value, values, path + "/*", problems)
        return
    assert isinstance(spec, Mapping)
    for key, inner in spec.items():
        found = [p["properties"][key] for p in parts if key in p.get("properties", {})]
        if f"{path}/{key}".split("/", 1)[1] in {u.split("/", 1)[1] for u in UNDECLARED}:
            continue
        if not found:
            problems.append(f"{path}/{key}: not a field in the spec")
        else:
            _check(doc, inner, found, f"{path}/{key}", problems)


def _problems(doc: Any, spec: Spec, schemas: list[Any], name: str) -> list[str]:
    problems: list[str] = []
    _check(doc, spec, schemas, name, problems)
    return problems


def test_kubernetes_shapes_are_the_apis_types() -> None:
    doc = json.loads(shared("specs", "kubernetes", "swagger.json").read_text())
    defs = doc["definitions"]
    events = [defs["io.k8s.api.core.v1.Event"], defs["io.k8s.api.events.v1.Event"]]
    workloads = [
        defs[f"io.k8s.api.apps.v1.{kind}"]
        for kind in ("Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "ControllerRevision")
    ]
    assert _problems(doc, k8s.EVENT, events, "Event") == []
    assert _problems(doc, k8s.POD, [defs["io.k8s.api.core.v1.Pod"]], "Pod") == []
    assert _problems(doc, k8s.WORKLOAD, workloads, "Workload") == []


def test_alertmanager_shapes_are_the_apis_types() -> None:
    doc = yaml.safe_load(shared("specs", "alertmanager", "openapi.yaml").read_text())
    defs = doc["definitions"]
    assert _problems(doc, am.ALERT, [defs["gettableAlert"]], "gettableAlert") == []
    assert _problems(doc, am.SILENCE, [defs["gettableSilence"]], "gettableSilence") == []


def test_pagerduty_shapes_are_the_apis_types() -> None:
    doc = json.loads(shared("specs", "pagerduty", "openapiv3.json").read_text())
    schemas = doc["components"]["schemas"]
    entries = [s for name, s in schemas.items() if name.endswith("LogEntry")]
    assert _problems(doc, pd.LOG_ENTRY, entries, "LogEntry") == []
    assert _problems(doc, pd.NOTE, [schemas["IncidentNote"]], "IncidentNote") == []
    assert _problems(doc, pd.ALERT, [schemas["Alert"]], "Alert") == []


def test_the_spec_check_catches_a_wrong_type_and_an_unknown_field() -> None:
    doc = yaml.safe_load(shared("specs", "alertmanager", "openapi.yaml").read_text())
    wrong = {**am.SILENCE, "createdBy": INTEGER, "createdAt": STRING}
    assert _problems(doc, wrong, [doc["definitions"]["gettableSilence"]], "S") == [
        "S/createdBy: integer in the shape, ['string'] in the spec",
        "S/createdAt: not a field in the spec",
    ]


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ({"count": "5"}, '/items/3/count: "5" is a string, not an integer'),
        ({"count": True}, "/items/3/count: true is a boolean, not an integer"),
        ({"count": None, "metadata": None}, None),  # null is as good as absent
        (
            {"metadata": {"annotations": {"a/b": 1}}},
            "/items/3/metadata/annotations/a~1b: 1 is an integer, not a string",
        ),
        ({"series": {"count": 2}, "source": []}, "/items/3/source: [] is an array, not an object"),
        ({"unknown": object}, None),  # fields a shape does not name are not looked at
        ("x", '/items/3: "x" is a string, not an object'),
    ],
)
def test_mismatch_names_the_first_bad_field(value: Any, reason: str | None) -> None:
    assert mismatch(value, k8s.EVENT, "/items/3") == reason

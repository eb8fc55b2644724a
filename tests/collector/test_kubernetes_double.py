"""The Kubernetes API double held to what no one here wrote: every JSON body it serves
validates against the official OpenAPI document (``../shared/specs/kubernetes/swagger.json``,
with no property the schema does not define) and deserializes with the ``kubernetes`` client's
own models."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from functools import cache
from typing import Any

import httpx
import jsonschema
import pytest

from tests.collector import kubernetes_scenario as sc
from tests.doubles.kubernetes import Running, serve
from tests.support import shared

HTTP = httpx.Client()  # one client: a new one per request costs a TLS context each


@cache
def spec() -> dict[str, Any]:
    """The OpenAPI v2 document (skips, or fails under CI=true, when absent)."""
    return json.loads(shared("specs", "kubernetes", "swagger.json").read_text())


@cache
def _routes() -> list[tuple[re.Pattern[str], str]]:
    """(path regex, response definition) for every GET in the spec with a schema."""
    out = []
    for template, item in spec()["paths"].items():
        schema = (((item.get("get") or {}).get("responses") or {}).get("200") or {}).get("schema")
        if not schema or "$ref" not in schema:
            continue
        pattern = re.sub(r"\{[^}]+\}", "[^/]+", template.rstrip("/"))
        out.append((re.compile(f"^{pattern}/?$"), schema["$ref"].rsplit("/", 1)[1]))
    return out


def definition_for(path: str, status: int) -> str:
    """The spec's definition for a response to ``path`` (errors are meta/v1 Status)."""
    if status != 200:
        return "io.k8s.apimachinery.pkg.apis.meta.v1.Status"
    for pattern, name in _routes():
        if pattern.match(path):
            return name
    raise AssertionError(f"no operation in the spec serves {path}")


def unknown_keys(data: Any, schema: dict[str, Any], where: str = "") -> Iterator[str]:
    """Keys the schema does not define (swagger definitions do not forbid them themselves)."""
    if "$ref" in schema:
        schema = spec()["definitions"][schema["$ref"].rsplit("/", 1)[1]]
    if isinstance(data, dict) and "properties" in schema:
        for key, value in data.items():
            if key not in schema["properties"]:
                yield f"{where}/{key}"
            else:
                yield from unknown_keys(value, schema["properties"][key], f"{where}/{key}")
    elif isinstance(data, dict) and isinstance(schema.get("additionalProperties"), dict):
        for key, value in data.items():
            yield from unknown_keys(value, schema["additionalProperties"], f"{where}/{key}")
    elif isinstance(data, list) and "items" in schema:
        for i, value in enumerate(data):
            yield from unknown_keys(value, schema["items"], f"{where}/{i}")


def check_body(path: str, status: int, body: Any) -> str:
    """Validate ``body`` against its definition; returns the definition's name."""
    name = definition_for(path, status)
    whole = {"$ref": f"#/definitions/{name}", "definitions": spec()["definitions"]}
    jsonschema.Draft4Validator(whole).validate(body)
    assert list(unknown_keys(body, whole)) == [], f"{path}: keys not in {name}"
    return name


def model_name(definition: str) -> str:
    """The client's model class for a definition (``io.k8s.api.core.v1.PodList`` ->
    ``V1PodList``; events keep their group, as the generator names them)."""
    parts = definition.split(".")
    kind, version = parts[-1], parts[-2]
    if definition == "io.k8s.apimachinery.pkg.version.Info":
        return "VersionInfo"
    if kind.startswith("Event"):
        group = "Core" if parts[-3] == "core" else "Events"
        return f"{group}{version.capitalize()}{kind}"
    return f"{version.capitalize()}{kind}"


@pytest.fixture
def double() -> Iterator[Running]:
    running = serve(sc.cluster())
    yield running
    running.stop()


def paths() -> list[str]:
    ns = f"/namespaces/{sc.NS}"
    apps = [f"/apis/apps/v1{ns}/{r}" for r in ("deployments", "replicasets", "statefulsets")]
    apps += ["/apis/apps/v1/controllerrevisions", "/apis/apps/v1/daemonsets"]
    return [
        "/version",
        "/api",
        "/api/v1",
        "/apis",
        "/apis/apps/v1",
        "/apis/events.k8s.io/v1",
        "/api/v1/pods",
        f"/api/v1{ns}/pods?labelSelector=app%3Dcheckout-api&limit=1",
        f"/api/v1{ns}/pods/{sc.POD_A}",
        f"/api/v1{ns}/pods/nope",
        f"/api/v1{ns}/events?limit=4",
        "/api/v1/events?fieldSelector=involvedObject.kind%3DPod",
        f"/apis/events.k8s.io/v1{ns}/events",
        f"/apis/apps/v1{ns}/deployments/checkout-api",
        f"/api/v1{ns}/pods/{sc.POD_B}/log",  # two containers, none named: 400 Status
        *apps,
    ]


def test_every_body_validates_against_the_spec_and_the_client_models(double: Running) -> None:
    from kubernetes import client

    api = client.ApiClient()
    seen = set()
    for path in paths():
        response = HTTP.get(double.url + path)
        assert response.headers["content-type"] == "application/json", path
        name = check_body(path.split("?")[0], response.status_code, response.json())
        model = getattr(client, model_name(name))
        # the client's own deserializer: pydantic models, dates parsed
        value = api.deserialize(response.text, model.__name__, "application/json")
        assert isinstance(value, model), path
        seen.add(name)
    assert {
        "io.k8s.api.core.v1.PodList",
        "io.k8s.api.core.v1.EventList",
        "io.k8s.api.events.v1.EventList",
        "io.k8s.api.apps.v1.ReplicaSetList",
        "io.k8s.api.apps.v1.ControllerRevisionList",
        "io.k8s.apimachinery.pkg.apis.meta.v1.Status",
        "io.k8s.apimachinery.pkg.apis.meta.v1.APIResourceList",
        "io.k8s.apimachinery.pkg.version.Info",
    } <= seen


def test_error_statuses_validate_and_say_what_the_server_says(double: Running) -> None:
    cluster = double.cluster
    cluster.forbidden.add(("list", "pods", "payments"))
    cluster.throttle[r"/events$"] = [1, 2]
    cluster.expire_continues = 1
    forbidden = HTTP.get(double.url + "/api/v1/namespaces/payments/pods")
    throttled = HTTP.get(double.url + f"/api/v1/namespaces/{sc.NS}/events")
    first = HTTP.get(double.url + f"/api/v1/namespaces/{sc.NS}/events?limit=2").json()
    expired = HTTP.get(
        double.url
        + f"/api/v1/namespaces/{sc.NS}/events?limit=2&continue={first['metadata']['continue']}"
    )
    for response in (forbidden, throttled, expired):
        check_body("/api/v1/pods", response.status_code, response.json())
    assert forbidden.status_code == 403
    assert forbidden.json()["message"] == (
        'pods is forbidden: User "system:serviceaccount:incident:collector" cannot list '
        'resource "pods" in API group "" in the namespace "payments"'
    )
    assert (throttled.status_code, throttled.headers["retry-after"]) == (429, "2")
    assert throttled.json()["details"] == {"retryAfterSeconds": 2}
    assert (expired.status_code, expired.json()["reason"]) == (410, "Expired")


def test_the_log_endpoint_streams_chunks_with_the_kubelets_semantics(double: Running) -> None:
    url = double.url + f"/api/v1/namespaces/{sc.NS}/pods/{sc.POD_B}/log"
    since = "2026-02-17T14:00:00Z"
    with HTTP.stream(
        "GET", url, params={"container": "app", "sinceTime": since, "timestamps": "true"}
    ) as response:
        assert response.headers["transfer-encoding"] == "chunked"
        body = b"".join(response.iter_raw())
    served = sc.log_lines()[(sc.NS, sc.POD_B, "app", False)]
    lines = body.decode().splitlines()
    assert (
        lines[0] == "2026-02-17T14:00:01.000123456Z 2026-02-17T14:00:01.250Z INFO request ok n=11"
    )
    assert len(lines) == sum(1 for ns, _ in served if ns >= 1771336800 * 10**9)
    capped = HTTP.get(url, params={"container": "app", "limitBytes": "100"})
    assert len(capped.content) == 100
    previous = HTTP.get(url, params={"container": "app", "previous": "true"})
    assert previous.status_code == 400
    assert previous.json()["message"] == (
        f'previous terminated container "app" in pod "{sc.POD_B}" not found'
    )

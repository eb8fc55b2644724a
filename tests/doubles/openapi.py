"""Hold a test double's responses to an official OpenAPI 3.0 document: the schema of the
operation's response for that status, ``$ref`` resolved inside the document, validated with
openapi-schema-validator's read validator (readOnly properties are expected in responses)."""

from __future__ import annotations

import functools
import json
from typing import Any

from jsonschema.exceptions import ValidationError
from openapi_schema_validator import OAS30ReadValidator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from tests.support import shared

BASE = "urn:spec"
ACK = "/components/schemas/AcknowledgeLogEntry/allOf/1/properties/type/enum"
CHANNEL = "/components/schemas/Channel"
# The channel types the Channel schema's own description lists (for service and user agents).
CHANNEL_TYPES = [
    "auto",
    "email",
    "api",
    "nagios",
    "timeout",
    "sms",
    "website",
    "web_trigger",
    "note",
]


@functools.cache
def pagerduty_spec() -> dict[str, Any]:
    """PagerDuty's document with its one known bug fixed: AcknowledgeLogEntry's type enum says
    ``acknowledgement_log_entry`` while LogEntry's (and the live API) say
    ``acknowledge_log_entry``, so no acknowledgement could ever validate. The fix is asserted
    to be needed, so a corrected upstream document makes this fail and be removed."""
    path = shared("specs", "pagerduty", "openapiv3.json")  # skips without ../shared
    spec: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    node = _pointer(spec, ACK)
    assert node == ["acknowledgement_log_entry"], node
    node[:] = ["acknowledge_log_entry"]
    _fix_channel(_pointer(spec, CHANNEL))
    return spec


def _fix_channel(channel: dict[str, Any]) -> None:
    """Channel is a ``oneOf`` of five variants (Nagios, API, Email, WebTrigger, Website) that
    differ only in prose ("Will be `api`"), none constraining ``type``: every channel object
    matches all of them, so ``oneOf`` (exactly one) rejects every log entry. Its description
    also names types no variant covers (auto, timeout, sms, note). Held instead to what the
    description says: an object whose ``type`` is one of the listed channel types."""
    variants = channel.pop("oneOf")
    assert all("enum" not in v["properties"]["type"] for v in variants), variants
    for name in CHANNEL_TYPES:
        assert f"`{name}`" in channel["description"], name
    channel["properties"]["type"] = {**channel["properties"]["type"], "enum": CHANNEL_TYPES}


def _pointer(doc: Any, pointer: str) -> Any:
    for part in pointer.strip("/").split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        doc = doc[int(part)] if isinstance(doc, list) else doc[part]
    return doc


def _escape(part: str) -> str:
    return part.replace("~", "~0").replace("/", "~1")


def response_schema(spec: dict[str, Any], path: str, status: int) -> str | None:
    """The JSON pointer of GET ``path``'s response ``status`` schema (None if there is none)."""
    pointer = f"/paths/{_escape(path)}/get/responses"
    responses = _pointer(spec, pointer)
    key = str(status) if str(status) in responses else "default"
    if key not in responses:
        return None
    pointer = f"{pointer}/{key}"
    response = _pointer(spec, pointer)
    while "$ref" in response:
        pointer = response["$ref"].removeprefix("#")
        response = _pointer(spec, pointer)
    if "schema" not in response.get("content", {}).get("application/json", {}):
        return None
    return f"{pointer}/content/{_escape('application/json')}/schema"


@functools.cache
def _registry() -> Registry:
    resource = Resource.from_contents(pagerduty_spec(), default_specification=DRAFT4)
    return Registry().with_resource(BASE, resource)


def validate(path: str, status: int, body: Any, *, items: int | None = None) -> None:
    """Raise AssertionError when ``body`` does not fit GET ``path``'s ``status`` response.

    An error status the operation does not declare (a 404 on a list, a 5xx) is held to the
    generic error schema every declared error shares. ``items`` checks only the first that
    many records of each top-level list (a 12,000-entry storm is one builder's output, and a
    log entry costs ~25 ms against the spec's 17-way ``oneOf``)."""
    if items is not None and isinstance(body, dict):
        body = {k: v[:items] if isinstance(v, list) else v for k, v in body.items()}
    spec = pagerduty_spec()
    pointer = response_schema(spec, path, status)
    if pointer is None and status >= 400:
        pointer = response_schema(spec, "/incidents/{id}", 404)
    assert pointer is not None, f"GET {path} declares no {status} response"
    validator = OAS30ReadValidator({"$ref": f"{BASE}#{pointer}"}, registry=_registry())
    try:
        validator.validate(body)
    except ValidationError as exc:
        where = "/".join(str(p) for p in exc.absolute_path)
        raise AssertionError(f"GET {path} {status}: at /{where}: {exc.message}") from None

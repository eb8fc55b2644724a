"""The shape of one record of a JSON export, and the first place a record breaks it.

A format declares the types of the fields its parser reads (``Format.shape``), as its
system's API documents them; the ``[[file]]`` collector checks every record before parsing,
so a wrong-typed field (``count: "5"``, ``labels: "x"``, ``agent: "x"``) costs its record
only and is named by its JSON pointer (RFC 6901), e.g. ``/items/3/count: "5" is a string, not
an integer``. Fields a shape does not name are not checked, a missing field or JSON ``null``
is allowed (the parsers read every field as optional), and JSON's types are told apart as
RFC 8259 has them (``true`` is not a number).

A spec is a type name (``STRING``, ``INTEGER``, ...), a mapping of field names to specs (an
object with those fields), ``ArrayOf(spec)`` (every item) or ``MapOf(spec)`` (every value).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any, Union

STRING, INTEGER, NUMBER, BOOLEAN, OBJECT, ARRAY = (
    "string",
    "integer",
    "number",
    "boolean",
    "object",
    "array",
)


@dataclasses.dataclass(frozen=True)
class ArrayOf:
    """An array whose every item has the shape ``item``."""

    item: Spec


@dataclasses.dataclass(frozen=True)
class MapOf:
    """An object whose every value has the shape ``value`` (a label set)."""

    value: Spec


Spec = Union[str, Mapping[str, "Spec"], ArrayOf, MapOf]  # noqa: UP007 (a recursive alias)


def json_type(value: Any) -> str:
    """The JSON type name of a parsed JSON value."""
    if isinstance(value, bool):
        return BOOLEAN
    if isinstance(value, int):
        return INTEGER
    if isinstance(value, float):
        return NUMBER
    if isinstance(value, str):
        return STRING
    if isinstance(value, list):
        return ARRAY
    return OBJECT if isinstance(value, dict) else "null"


def _fits(value: Any, expected: str) -> bool:
    found = json_type(value)
    return found == expected or (expected == NUMBER and found == INTEGER)


def _article(name: str) -> str:
    return f"an {name}" if name[0] in "aeiou" else f"a {name}"


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def mismatch(value: Any, spec: Spec, pointer: str = "") -> str | None:
    """``"<pointer>: <value> is a <type>, not a <type>"`` for the first field of ``value`` (in
    document order) that breaks ``spec``, or None when it has the shape."""
    if value is None:
        return None
    if isinstance(spec, str):
        expected = spec
    elif isinstance(spec, ArrayOf):
        expected = ARRAY
    else:
        expected = OBJECT
    if not _fits(value, expected):
        shown = json.dumps(value, ensure_ascii=False)
        shown = shown if len(shown) <= 40 else shown[:37] + "..."
        return (
            f"{pointer or '/'}: {shown} is {_article(json_type(value))}, not {_article(expected)}"
        )
    if isinstance(spec, ArrayOf):
        return _first(((f"{pointer}/{i}", v, spec.item) for i, v in enumerate(value)))
    if isinstance(spec, MapOf):
        return _first((f"{pointer}/{_escape(k)}", v, spec.value) for k, v in value.items())
    if isinstance(spec, Mapping):
        return _first((f"{pointer}/{_escape(k)}", value[k], spec[k]) for k in value if k in spec)
    return None


def _first(parts: Any) -> str | None:
    for pointer, value, spec in parts:
        found = mismatch(value, spec, pointer)
        if found is not None:
            return found
    return None

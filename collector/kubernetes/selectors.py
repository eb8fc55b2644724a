"""Label selectors on the client side, for objects the server cannot filter for us (the
workloads that own the selected pods, and pods known only from events). The grammar is
apimachinery's (``pkg/labels/selector.go``): ``k=v``, ``k==v``, ``k!=v``, ``k``, ``!k``,
``k in (a,b)``, ``k notin (a,b)``, joined by commas."""

from __future__ import annotations

import re
from collections.abc import Mapping

from incident_timeline.collector.errors import ConfigError

_SET = re.compile(r"^(?P<key>[^\s!=(),]+)\s+(?P<op>in|notin)\s+\((?P<values>[^)]*)\)$")
_KEY = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?$")


def terms(selector: str) -> list[str]:
    """The comma-separated requirements of ``selector`` (commas inside ``(...)`` kept)."""
    parts, depth, current = [], 0, ""
    for char in selector:
        depth += (char == "(") - (char == ")")
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    return [p.strip() for p in [*parts, current] if p.strip()]


def matches(selector: str | None, labels: Mapping[str, str]) -> bool:
    """Whether ``labels`` satisfy ``selector`` (None or "" selects everything)."""
    return all(_term(term, labels) for term in terms(selector or ""))


def check_selector(selector: str | None, where: str) -> None:
    """A ConfigError naming ``where`` when ``selector`` cannot be parsed."""
    try:
        matches(selector, {})
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _term(term: str, labels: Mapping[str, str]) -> bool:
    found = _SET.match(term)
    if found:
        values = {v.strip() for v in found["values"].split(",")}
        return (labels.get(found["key"]) in values) == (found["op"] == "in")
    if "!=" in term:
        key, value = (p.strip() for p in term.split("!=", 1))
        return labels.get(_key(key, term)) != value
    if "=" in term:
        key, value = (p.strip() for p in re.split("==?", term, maxsplit=1))
        return labels.get(_key(key, term)) == value
    if term.startswith("!"):
        return _key(term[1:].strip(), term) not in labels
    return _key(term, term) in labels


def _key(key: str, term: str) -> str:
    if not _KEY.match(key):
        raise ValueError(f"label selector {term!r}: {key!r} is not a label key")
    return key

"""A PagerDuty REST API v2 double: a real HTTP server on loopback serving the endpoints the
``pagerduty`` collector uses, in the shapes of the official OpenAPI document
(``../shared/specs/pagerduty/openapiv3.json``; tests/collector/test_pagerduty_double.py checks
every response it served against the schema of its operation).

Behaviour modelled, with where it comes from:
- ``Authorization: Token token=<key>`` (spec securitySchemes.api_key); anything else is 401, a
  token listed in ``forbidden`` is 403; error bodies ``{"error": {"message", "code", "errors"}}``
  (spec components/responses).
- Classic offset pagination: ``limit`` (at most 100 for /incidents, spec), ``offset``, ``more``,
  ``total`` (null unless ``total=true``, spec offset_total); ``offset + limit`` above 10,000 is a
  400 (python-pagerduty ITERATION_LIMIT and PagerDuty staff; the spec is silent).
- ``since``/``until``: /incidents filter on ``created_at`` in ``[since, until)``; without them the
  last month (spec since_incidents); ``date_range=all`` ignores them; naive values are read in
  ``time_zone`` (spec incident_list_time_zone), and timestamps are rendered in it.
- 429 with ``ratelimit-limit``, ``ratelimit-remaining``, ``ratelimit-reset`` headers and the
  body ``{"error":{"message":"Rate Limit Exceeded","code":2020}}`` (heimweh/go-pagerduty's test
  of a real answer; PagerDuty's rate-limit docs).
- ``include[]=channels`` gives log entries their full channel (with the notification); without
  it the channel is only its ``type``. ``is_overview=true`` keeps the major state changes.
Exact error wording beyond those cited is the double's own.
"""

from __future__ import annotations

import bisect
import dataclasses
import functools
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tests.doubles.loopback import serve

CEILING = 10_000
OVERVIEW = {
    "trigger_log_entry",
    "acknowledge_log_entry",
    "unacknowledge_log_entry",
    "escalate_log_entry",
    "assign_log_entry",
    "resolve_log_entry",
    "urgency_change_log_entry",
}
API = "https://api.pagerduty.com"
WEB = "https://acme.pagerduty.com"


@dataclasses.dataclass
class Served:
    """One response the double gave: its operation (spec path), status and body."""

    operation: str
    status: int
    body: Any
    query: dict[str, list[str]]


@dataclasses.dataclass
class PagerDutyDouble:
    """The account's data and the switches tests flip (``rate_limited``, ``fail``...)."""

    token: str
    incidents: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    log_entries: dict[str, list[dict[str, Any]]] = dataclasses.field(default_factory=dict)
    notes: dict[str, list[dict[str, Any]]] = dataclasses.field(default_factory=dict)
    alerts: dict[str, list[dict[str, Any]]] = dataclasses.field(default_factory=dict)
    forbidden: set[str] = dataclasses.field(default_factory=set)
    rate_limited: int = 0  # answer this many next requests with 429
    rate_reset: int = 1  # ratelimit-reset seconds sent with a 429
    fail: dict[str, int] = dataclasses.field(default_factory=dict)  # path prefix -> status
    echo_auth: bool = False  # 401 bodies echo the Authorization header (as some proxies do)
    now: datetime = datetime(2026, 3, 10, 12, tzinfo=UTC)
    served: list[Served] = dataclasses.field(default_factory=list)
    requests: list[tuple[str, dict[str, list[str]], dict[str, str]]] = dataclasses.field(
        default_factory=list
    )
    url: str = ""

    def add(
        self,
        incident: dict[str, Any],
        log_entries: list[dict[str, Any]] = (),  # type: ignore[assignment]
        notes: list[dict[str, Any]] = (),  # type: ignore[assignment]
        alerts: list[dict[str, Any]] = (),  # type: ignore[assignment]
    ) -> None:
        """Put an incident and its records into the account."""
        self.incidents.append(incident)
        self.log_entries[incident["id"]] = sorted(
            log_entries, key=lambda e: _parse(e["created_at"])
        )
        self.notes[incident["id"]] = list(notes)
        self.alerts[incident["id"]] = list(alerts)

    # ------------------------------------------------------------------ routing
    def handle(self, path: str, query: dict[str, list[str]], headers: dict[str, str]) -> Any:
        """(operation, status, body, extra headers) for one GET."""
        self.requests.append((path, query, headers))
        parts = [p for p in path.split("/") if p]
        operation = _operation(parts)
        if operation is None:
            return "unknown", 404, _error(2100, "Not Found", [f"no route {path}"]), {}
        auth = headers.get("authorization", "")
        if auth != f"Token token={self.token}":
            errors = ["Authentication failed"]
            if self.echo_auth:
                errors.append(f"received Authorization: {auth}")
            return operation, 401, _error(2006, "Authentication failed", errors), {}
        if self.token in self.forbidden:
            return operation, 403, _error(2010, "Access Denied", ["token lacks access"]), {}
        if self.rate_limited > 0:
            self.rate_limited -= 1
            limit_headers = {
                "ratelimit-limit": "960",
                "ratelimit-remaining": "0",
                "ratelimit-reset": str(self.rate_reset),
            }
            return (
                operation,
                429,
                {"error": {"message": "Rate Limit Exceeded", "code": 2020}},
                (limit_headers),
            )
        for prefix, status in self.fail.items():
            if path.startswith(prefix):
                return operation, status, _error(2000, "Internal Server Error", []), {}
        try:
            status, body = self._route(operation, parts, query)
        except BadRequest as exc:
            status, body = 400, _error(2001, "Invalid Input Provided", [str(exc)])
        return operation, status, body, {}

    def _route(self, operation: str, parts: list[str], query: dict[str, list[str]]) -> Any:
        zone = _zone(query)
        if operation == "/incidents":
            return 200, self._page("incidents", self._incidents(query, zone), query, zone, 100)
        if operation == "/log_entries":
            return 200, self._page(
                "log_entries", self._account_entries(query, zone), query, zone, None
            )
        incident = self._find(parts[1])
        if incident is None:
            return 404, _error(2100, "Not Found", [f"Incident {parts[1]} not found"])
        if operation == "/incidents/{id}":
            return 200, {"incident": _render(incident, zone)}
        if operation == "/incidents/{id}/notes":
            return 200, {"notes": [_render(n, zone) for n in self.notes[incident["id"]]]}
        if operation == "/incidents/{id}/alerts":
            alerts = self.alerts[incident["id"]]
            statuses = query.get("statuses[]")
            if statuses:
                alerts = [a for a in alerts if a["status"] in statuses]
            if "alert_key" in query:
                alerts = [a for a in alerts if a.get("alert_key") == query["alert_key"][0]]
            return 200, self._page("alerts", alerts, query, zone, None)
        entries = self._entries(self.log_entries[incident["id"]], query, zone)
        return 200, self._page("log_entries", entries, query, zone, None)

    def _find(self, key: str) -> dict[str, Any] | None:
        for incident in self.incidents:
            if key in (incident["id"], str(incident["incident_number"])):
                return incident
        return None

    # ------------------------------------------------------------------ filters
    def _incidents(self, query: dict[str, list[str]], zone: ZoneInfo) -> list[dict[str, Any]]:
        found = list(self.incidents)
        if query.get("date_range") != ["all"]:
            until = _time(query, "until", zone) or self.now
            since = _time(query, "since", zone) or until - timedelta(days=30)
            if until - since > timedelta(days=183):
                raise BadRequest("The maximum range of since and until is 6 months")
            found = [i for i in found if since <= _parse(i["created_at"]) < until]
        for key, field in (("statuses[]", "status"), ("urgencies[]", "urgency")):
            if key in query:
                found = [i for i in found if i[field] in query[key]]
        if "service_ids[]" in query:
            found = [i for i in found if i["service"]["id"] in query["service_ids[]"]]
        if "team_ids[]" in query:
            wanted = set(query["team_ids[]"])
            found = [i for i in found if wanted & {t["id"] for t in i.get("teams", [])}]
        return sorted(found, key=lambda i: (_parse(i["created_at"]), i["id"]))

    def _account_entries(self, query: dict[str, list[str]], zone: ZoneInfo) -> list[dict[str, Any]]:
        incidents = self.incidents
        if "team_ids[]" in query:
            wanted = set(query["team_ids[]"])
            incidents = [i for i in incidents if wanted & {t["id"] for t in i.get("teams", [])}]
        entries = [e for i in incidents for e in self.log_entries[i["id"]]]
        entries.sort(key=lambda e: (_parse(e["created_at"]), e["id"]))
        return self._entries(entries, query, zone)

    def _entries(
        self, entries: list[dict[str, Any]], query: dict[str, list[str]], zone: ZoneInfo
    ) -> list[dict[str, Any]]:
        since, until = _time(query, "since", zone), _time(query, "until", zone)
        times = [_parse(e["created_at"]) for e in entries] if since or until else []
        lo = bisect.bisect_left(times, since) if since else 0
        hi = bisect.bisect_left(times, until) if until else len(entries)
        kept = entries[lo:hi]  # entries are kept in time order (add, _account_entries)
        if query.get("is_overview") == ["true"]:
            kept = [e for e in kept if e["type"] in OVERVIEW]
        if "channels" not in query.get("include[]", []):
            kept = [_bare_channel(e) for e in kept]
        return kept

    def _page(
        self,
        key: str,
        items: list[dict[str, Any]],
        query: dict[str, list[str]],
        zone: ZoneInfo,
        max_limit: int | None,
    ) -> dict[str, Any]:
        limit = _int(query, "limit", 25)
        offset = _int(query, "offset", 0)
        if max_limit is not None:
            limit = min(limit, max_limit)
        if limit < 1 or offset < 0:
            raise BadRequest("limit must be positive and offset not negative")
        if offset + limit > CEILING:
            raise BadRequest(f"Offset + limit must be at most {CEILING:,}; narrow the time range")
        chunk = items[offset : offset + limit]
        return {
            key: [_render(item, zone) for item in chunk],
            "limit": limit,
            "offset": offset,
            "more": offset + limit < len(items),
            "total": len(items) if query.get("total") == ["true"] else None,
        }


class BadRequest(Exception):
    """A 400 (ArgumentError) with this text in ``errors``."""


def _operation(parts: list[str]) -> str | None:
    if parts == ["incidents"]:
        return "/incidents"
    if parts == ["log_entries"]:
        return "/log_entries"
    if len(parts) == 2 and parts[0] == "incidents":
        return "/incidents/{id}"
    if (
        len(parts) == 3
        and parts[0] == "incidents"
        and parts[2] in ("log_entries", "notes", "alerts")
    ):
        return f"/incidents/{{id}}/{parts[2]}"
    return None


def _error(code: int, message: str, errors: list[str]) -> dict[str, Any]:
    return {"error": {"message": message, "code": code, "errors": errors}}


def _zone(query: dict[str, list[str]]) -> ZoneInfo:
    name = query.get("time_zone", ["UTC"])[0]
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError) as exc:
        raise BadRequest(f"time_zone {name!r} is not a time zone") from exc


def _int(query: dict[str, list[str]], key: str, default: int) -> int:
    try:
        return int(query.get(key, [default])[0])
    except ValueError as exc:
        raise BadRequest(f"{key} must be an integer") from exc


def _time(query: dict[str, list[str]], key: str, zone: ZoneInfo) -> datetime | None:
    if key not in query:
        return None
    try:
        value = datetime.fromisoformat(query[key][0].replace("Z", "+00:00"))
    except ValueError as exc:
        raise BadRequest(f"{key} is not a date-time: {query[key][0]!r}") from exc
    return value.replace(tzinfo=zone) if value.tzinfo is None else value


@functools.lru_cache(maxsize=65_536)
def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


_TIME_KEYS = ("created_at", "updated_at", "resolved_at", "last_status_change_at", "at")


def _render(item: Any, zone: ZoneInfo) -> Any:
    """Timestamps rendered in ``time_zone`` (UTC as ``Z``, others with their offset)."""
    if isinstance(item, list):
        return [_render(v, zone) for v in item]
    if not isinstance(item, dict):
        return item
    out = {}
    for key, value in item.items():
        if key in _TIME_KEYS and isinstance(value, str):
            local = _parse(value).astimezone(zone)
            text = local.isoformat()
            out[key] = text.replace("+00:00", "Z") if zone.key == "UTC" else text
        else:
            out[key] = _render(value, zone)
    return out


def _bare_channel(entry: dict[str, Any]) -> dict[str, Any]:
    channel = entry.get("channel")
    if not isinstance(channel, dict):
        return entry
    return {**entry, "channel": {"type": channel.get("type")}}


# ---------------------------------------------------------------------- the server
@contextmanager
def serving(double: PagerDutyDouble) -> Iterator[PagerDutyDouble]:
    """Serve ``double`` on a free loopback port for the block; ``double.url`` is its base URL."""

    def respond(path: str, query: dict[str, list[str]], headers: dict[str, str]) -> Any:
        operation, status, body, extra = double.handle(path, query, headers)
        double.served.append(Served(operation, status, body, query))
        return status, body, extra

    with serve(respond) as url:
        double.url = url
        yield double


# ---------------------------------------------------------------------- builders
def ref(kind: str, id: str, summary: str, path: str | None = None) -> dict[str, Any]:
    """A reference object (``user_reference``, ``service_reference``...)."""
    path = path or f"{kind}s"
    return {
        "id": id,
        "type": f"{kind}_reference",
        "summary": summary,
        "self": f"{API}/{path}/{id}",
        "html_url": f"{WEB}/{path}/{id}",
    }


def user(id: str, name: str) -> dict[str, Any]:
    """A user reference."""
    return ref("user", id, name)


def incident(
    id: str,
    number: int,
    title: str,
    created: str,
    *,
    resolved: str | None = None,
    urgency: str = "high",
    service: dict[str, Any] | None = None,
    policy: dict[str, Any] | None = None,
    assignees: list[dict[str, Any]] = (),  # type: ignore[assignment]
    priority: str | None = "P1",
    incident_key: str | None = None,
    teams: list[dict[str, Any]] = (),  # type: ignore[assignment]
) -> dict[str, Any]:
    """An incident as GET /incidents/{id} gives it."""
    status = "resolved" if resolved else ("acknowledged" if assignees else "triggered")
    body: dict[str, Any] = {
        "id": id,
        "type": "incident",
        "summary": f"[#{number}] {title}",
        "self": f"{API}/incidents/{id}",
        "html_url": f"{WEB}/incidents/{id}",
        "incident_number": number,
        "title": title,
        "created_at": created,
        "updated_at": resolved or created,
        "status": status,
        "incident_key": incident_key or f"key-{id}",
        "service": service or ref("service", "PSVC001", "checkout-api", "service-directory"),
        "assignments": [
            {"at": created, "assignee": a} for a in ([] if resolved else list(assignees))
        ],
        "assigned_via": "escalation_policy",
        "last_status_change_at": resolved or created,
        "resolved_at": resolved,
        "first_trigger_log_entry": {
            "id": f"R{id}TRIG",
            "type": "trigger_log_entry_reference",
            "summary": "Triggered through the API",
            "self": f"{API}/log_entries/R{id}TRIG",
            "html_url": f"{WEB}/incidents/{id}/log_entries/R{id}TRIG",
        },
        "alert_counts": {
            "all": 1,
            "triggered": 0 if resolved else 1,
            "resolved": int(bool(resolved)),
        },
        "escalation_policy": policy
        or ref("escalation_policy", "PEP0001", "Checkout on-call", "escalation_policies"),
        "teams": list(teams),
        "urgency": urgency,
    }
    if resolved is None:
        del body["resolved_at"]  # an open incident: the field is null or absent
    if priority:
        body["priority"] = {
            "id": f"PPRI{priority}",
            "type": "priority",
            "summary": priority,
            "self": f"{API}/priorities/PPRI{priority}",
            "html_url": None,
            "name": priority,
            "description": "",
        }
    return body


def log_entry(
    incident_id: str,
    n: int,
    type: str,
    at: str,
    summary: str,
    agent: dict[str, Any],
    channel: dict[str, Any],
    **extra: Any,
) -> dict[str, Any]:
    """One log entry of ``incident_id`` (``type`` without ``_log_entry``)."""
    entry_id = f"R{incident_id}{n:05d}"
    return {
        "id": entry_id,
        "type": f"{type}_log_entry",
        "summary": summary,
        "self": f"{API}/log_entries/{entry_id}",
        "html_url": f"{WEB}/incidents/{incident_id}/log_entries/{entry_id}",
        "created_at": at,
        "agent": agent,
        "channel": channel,
        "service": ref("service", "PSVC001", "checkout-api", "service-directory"),
        "incident": {
            **ref("incident", incident_id, "Checkout API 5xx"),
            "type": "incident_reference",
        },
        "teams": [],
        "contexts": [],
        **extra,
    }


def note(incident_id: str, n: int, at: str, who: dict[str, Any], content: str) -> dict[str, Any]:
    """A note as GET /incidents/{id}/notes gives it."""
    return {
        "id": f"N{incident_id}{n:03d}",
        "user": who,
        "channel": {"summary": "The PagerDuty website or APIs"},
        "content": content,
        "created_at": at,
        "updated_at": at,
    }


def alert(
    incident_id: str,
    n: int,
    at: str,
    alert_key: str,
    summary: str,
    details: dict[str, Any],
    *,
    status: str = "resolved",
    severity: str = "critical",
) -> dict[str, Any]:
    """An alert as GET /incidents/{id}/alerts gives it."""
    alert_id = f"A{incident_id}{n:03d}"
    return {
        "id": alert_id,
        "type": "alert",
        "summary": summary,
        "self": f"{API}/incidents/{incident_id}/alerts/{alert_id}",
        "html_url": f"{WEB}/alerts/{alert_id}",
        "created_at": at,
        "status": status,
        "alert_key": alert_key,
        "service": ref("service", "PSVC001", "checkout-api", "service-directory"),
        "body": {"type": "alert_body", "contexts": [], "details": details},
        "incident": {**ref("incident", incident_id, summary), "type": "incident_reference"},
        "suppressed": False,
        "severity": severity,
        "integration": {
            **ref(
                "inbound_integration", "PINT001", "Alertmanager", "services/PSVC001/integrations"
            ),
            "type": "events_api_v2_inbound_integration_reference",
        },
    }

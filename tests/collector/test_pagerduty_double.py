"""The PagerDuty double is held to PagerDuty's OpenAPI document: every response it serves, on
every route and status, validates against the schema of its operation; and its paging,
filtering and error behaviour is what the collector's tests rely on."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.doubles.openapi import validate
from tests.doubles.pagerduty import PagerDutyDouble, serving
from tests.doubles.pagerduty_story import ID, many_entries, story

TOKEN = "u+double-test-token"
HEADERS = {
    "Authorization": f"Token token={TOKEN}",
    "Accept": "application/vnd.pagerduty+json;version=2",
}
OPERATIONS = {
    "/incidents",
    "/incidents/{id}",
    "/incidents/{id}/log_entries",
    "/log_entries",
    "/incidents/{id}/notes",
    "/incidents/{id}/alerts",
}


@pytest.fixture
def double() -> Iterator[PagerDutyDouble]:
    d = story(PagerDutyDouble(token=TOKEN))
    d.add(
        {**d.incidents[0], "id": "Q4STORM", "incident_number": 2000}, many_entries("Q4STORM", 250)
    )
    with serving(d):
        yield d


def get(
    double: PagerDutyDouble, path: str, headers: dict[str, str] | None = None, **params: object
) -> httpx.Response:
    return httpx.get(double.url + path, params=params, headers=headers or HEADERS)  # type: ignore[arg-type]


def test_every_response_fits_the_spec(double: PagerDutyDouble) -> None:
    day = {"since": "2026-03-10T00:00:00Z", "until": "2026-03-11T00:00:00Z", "time_zone": "UTC"}
    get(double, "/incidents", **day, total="true")
    get(double, "/incidents", date_range="all", time_zone="Europe/Paris")
    get(double, "/incidents", since="2025-01-01T00:00:00Z", until="2026-03-11T00:00:00Z")  # 400
    get(double, f"/incidents/{ID}")
    get(double, "/incidents/1042")
    get(double, "/incidents/QNOSUCH")  # 404
    get(double, f"/incidents/{ID}/log_entries", **{"include[]": "channels"}, limit=100)
    get(double, f"/incidents/{ID}/log_entries", is_overview="true")
    get(double, "/incidents/Q4STORM/log_entries", limit=100, offset=200, total="true")
    get(double, "/incidents/Q4STORM/log_entries", limit=100, offset=9_950)  # 400: the ceiling
    get(double, "/log_entries", **day, **{"team_ids[]": "PTEAM01"})
    get(double, f"/incidents/{ID}/notes")
    get(double, f"/incidents/{ID}/alerts", **{"statuses[]": "resolved"})
    get(double, "/incidents/QNOSUCH/notes")  # 404
    get(double, "/incidents", headers={"Authorization": "Token token=wrong"})  # 401
    double.forbidden.add(TOKEN)
    get(double, "/incidents")  # 403
    double.forbidden.clear()
    double.rate_limited = 1
    assert get(double, f"/incidents/{ID}/alerts").status_code == 429
    double.fail = {"/incidents/": 503}
    get(double, f"/incidents/{ID}/notes")
    statuses = {(s.operation, s.status) for s in double.served}
    assert {op for op, status in statuses if status == 200} == OPERATIONS
    assert {status for _, status in statuses} == {200, 400, 401, 403, 404, 429, 503}
    for served in double.served:
        validate(served.operation, served.status, served.body)


def test_offset_pagination_and_the_ceiling(double: PagerDutyDouble) -> None:
    first = get(double, "/incidents/Q4STORM/log_entries", limit=100, total="true").json()
    assert (first["limit"], first["offset"], first["more"], first["total"]) == (100, 0, True, 250)
    last = get(double, "/incidents/Q4STORM/log_entries", limit=100, offset=200).json()
    assert (len(last["log_entries"]), last["more"], last["total"]) == (50, False, None)
    over = get(double, "/incidents/Q4STORM/log_entries", limit=100, offset=9_901)
    assert over.status_code == 400
    assert over.json()["error"]["code"] == 2001
    assert get(double, "/incidents", limit=500, date_range="all").json()["limit"] == 100


def test_since_until_time_zone_and_filters(double: PagerDutyDouble) -> None:
    ids = lambda r: [i["id"] for i in r.json()["incidents"]]  # noqa: E731
    day = {"since": "2026-03-10T00:00:00Z", "until": "2026-03-11T00:00:00Z"}
    assert ids(get(double, "/incidents", **day)) == [ID, "Q4STORM"]
    # naive since/until are read in time_zone: 10:12:04 in Paris is 09:12:04 UTC
    paris = {"since": "2026-03-10T10:12:04", "until": "2026-03-11T00:00:00"}
    assert ids(get(double, "/incidents", **paris, time_zone="Europe/Paris")) == [ID, "Q4STORM"]
    assert ids(get(double, "/incidents", **paris, time_zone="UTC")) == []
    rendered = get(double, f"/incidents/{ID}", time_zone="Europe/Paris").json()["incident"]
    assert rendered["created_at"] == "2026-03-10T10:12:04+01:00"
    assert ids(get(double, "/incidents", date_range="all", **{"urgencies[]": "low"})) == ["Q2OLDER"]
    assert ids(get(double, "/incidents", date_range="all", **{"statuses[]": "acknowledged"})) == [
        "Q2OLDER"
    ]
    assert ids(get(double, "/incidents", date_range="all", **{"team_ids[]": "PTEAM01"})) == [
        ID,
        "Q4STORM",
    ]
    bare = get(double, f"/incidents/{ID}/log_entries").json()["log_entries"][1]["channel"]
    full = get(double, f"/incidents/{ID}/log_entries", **{"include[]": "channels"}).json()
    assert bare == {"type": "auto"}
    assert full["log_entries"][1]["channel"]["notification"]["type"] == "push_notification"


def test_errors_and_rate_limit_headers(double: PagerDutyDouble) -> None:
    missing = get(double, "/incidents/QNOSUCH")
    assert (missing.status_code, missing.json()["error"]["message"]) == (404, "Not Found")
    double.rate_limited, double.rate_reset = 1, 7
    limited = get(double, "/incidents")
    assert limited.status_code == 429
    assert {
        k: limited.headers[k] for k in ("ratelimit-limit", "ratelimit-remaining", "ratelimit-reset")
    } == {
        "ratelimit-limit": "960",
        "ratelimit-remaining": "0",
        "ratelimit-reset": "7",
    }
    assert get(double, "/incidents").status_code == 200

"""One incident's paging record for the PagerDuty double: a checkout-api alert from Alertmanager
pages Jane Doe (push, SMS, phone), escalates to level 2 (Raj Patel), who acknowledges, notes,
reassigns, delegates, snoozes and changes urgency; the ack times out; the API resolves it.
Plus a second, older incident still open into the window, and one outside it."""

from __future__ import annotations

import hashlib
from typing import Any

from tests.doubles.pagerduty import PagerDutyDouble, alert, incident, log_entry, note, ref, user

ID = "Q1ABCDE"
CREATED = "2026-03-10T09:12:04Z"
RESOLVED = "2026-03-10T09:58:31Z"
JANE = user("PJANE01", "Jane Doe")
RAJ = user("PRAJ002", "Raj Patel")
WEI = user("PWEI003", "Wei Zhang")
SERVICE = ref("service", "PSVC001", "checkout-api", "service-directory")
INTEGRATION = {
    **ref("integration", "PINT001", "Alertmanager", "services/PSVC001/integrations"),
}
# Alertmanager's PagerDuty notifier sends dedup_key = sha256 hex of the group key
# (notify/pagerduty/pagerduty.go: DedupKey: key.Hash()); the webhook shows the same groupKey.
GROUP_KEY = '{}/{severity="page"}:{alertname="HighErrorRate"}'
DEDUP_KEY = hashlib.sha256(GROUP_KEY.encode()).hexdigest()
FIRING_DETAILS = (
    "Labels:\n"
    " - alertname = HighErrorRate\n"
    " - service = checkout-api\n"
    " - severity = page\n"
    "Annotations:\n"
    " - summary = 5xx ratio above 5 %\n"
    "Source: http://prometheus:9090/graph?g0.expr=x\n"
)


def notification(kind: str, at: str, who: dict[str, Any], address: str | None) -> dict[str, Any]:
    """A notify entry's channel (with include[]=channels): the notification sent."""
    sent: dict[str, Any] = {"type": f"{kind}_notification", "started_at": at, "status": "success"}
    sent["user"] = who
    if address:
        sent["address"] = address
    return {"type": "auto", "notification": sent}


def entries(incident_id: str = ID) -> list[dict[str, Any]]:
    """The log entries of the story, oldest first."""
    e = log_entry
    i = incident_id
    return [
        e(i, 1, "trigger", CREATED, "Triggered through the API.", INTEGRATION, {"type": "api"}),
        e(
            i,
            2,
            "notify",
            "2026-03-10T09:12:05Z",
            "Notified Jane Doe via push notification.",
            SERVICE,
            notification("push", "2026-03-10T09:12:05Z", JANE, None),
            user=JANE,
        ),
        e(
            i,
            3,
            "notify",
            "2026-03-10T09:12:06Z",
            "Notified Jane Doe via SMS.",
            SERVICE,
            notification("sms", "2026-03-10T09:12:06Z", JANE, "+15555550100"),
            user=JANE,
        ),
        e(
            i,
            4,
            "notify",
            "2026-03-10T09:14:06Z",
            "Notified Jane Doe via phone call.",
            SERVICE,
            notification("phone", "2026-03-10T09:14:06Z", JANE, "+15555550100"),
            user=JANE,
        ),
        e(
            i,
            5,
            "escalate",
            "2026-03-10T09:17:04Z",
            "Escalated to level 2 by timeout.",
            SERVICE,
            {"type": "timeout"},
            assignees=[RAJ],
        ),
        e(
            i,
            6,
            "notify",
            "2026-03-10T09:17:05Z",
            "Notified Raj Patel via SMS.",
            SERVICE,
            notification("sms", "2026-03-10T09:17:05Z", RAJ, "+15555550111"),
            user=RAJ,
        ),
        e(
            i,
            7,
            "acknowledge",
            "2026-03-10T09:19:42Z",
            "Acknowledged by Raj Patel.",
            RAJ,
            {"type": "website"},
            acknowledgement_timeout=1800,
        ),
        e(
            i,
            8,
            "annotate",
            "2026-03-10T09:22:15Z",  # adding a note logs an annotation with its text
            "Note added",
            RAJ,
            {"type": "note", "summary": "Rolled back to v2.3.3; error ratio falling"},
        ),
        e(
            i,
            9,
            "assign",
            "2026-03-10T09:23:00Z",
            "Assigned to Jane Doe by Raj Patel.",
            RAJ,
            {"type": "website"},
            assignees=[JANE],
        ),
        e(
            i,
            10,
            "delegate",
            "2026-03-10T09:25:00Z",
            "Reassigned to Wei Zhang by Raj Patel.",
            RAJ,
            {"type": "website"},
            assignees=[WEI],
        ),
        e(
            i,
            11,
            "snooze",
            "2026-03-10T09:26:00Z",
            "Snoozed for 30 minutes by Raj Patel.",
            RAJ,
            {"type": "website"},
            changed_actions=[{"type": "unacknowledge", "at": "2026-03-10T09:56:00Z"}],
        ),
        e(
            i,
            12,
            "urgency_change",
            "2026-03-10T09:30:00Z",
            "Urgency changed from high to low.",
            RAJ,
            {"type": "website"},
        ),
        e(
            i,
            13,
            "unacknowledge",
            "2026-03-10T09:56:00Z",
            "Unacknowledged due to timeout.",
            SERVICE,
            {"type": "timeout"},
        ),
        e(i, 14, "resolve", RESOLVED, "Resolved through the API.", INTEGRATION, {"type": "api"}),
        e(
            i,
            15,
            "annotate",
            "2026-03-10T09:58:40Z",
            "Note added",
            JANE,
            {"type": "note", "summary": "Resolved. Postmortem to follow."},
        ),
    ]


def story(double: PagerDutyDouble) -> PagerDutyDouble:
    """Load the story into ``double``: the incident, an older one still open, an unrelated one."""
    double.add(
        incident(
            ID,
            1042,
            "Checkout API 5xx rate above 5 %",
            CREATED,
            resolved=RESOLVED,
            incident_key=DEDUP_KEY,
            teams=[ref("team", "PTEAM01", "Payments")],
        ),
        entries(),
        [
            note(ID, 1, "2026-03-10T09:22:15Z", RAJ, "Rolled back to v2.3.3; error ratio falling"),
            note(ID, 2, "2026-03-10T09:58:40Z", JANE, "Resolved. Postmortem to follow."),
        ],
        [
            alert(
                ID,
                1,
                CREATED,
                DEDUP_KEY,
                "[FIRING:1] HighErrorRate checkout-api",
                {"firing": FIRING_DETAILS, "num_firing": "1", "num_resolved": "0"},
            )
        ],
    )
    old = "Q2OLDER"
    double.add(
        incident(
            old,
            1039,
            "Disk 90 % full on db-2",
            "2026-03-09T22:00:00Z",
            urgency="low",
            assignees=[WEI],
            priority=None,
        ),
        [
            log_entry(
                old,
                1,
                "trigger",
                "2026-03-09T22:00:00Z",
                "Triggered through the API.",
                INTEGRATION,
                {"type": "api"},
            ),
            log_entry(
                old,
                2,
                "annotate",
                "2026-03-10T09:40:00Z",
                "Note added",
                WEI,
                {"type": "note", "summary": "Still growing; will clean up after checkout"},
            ),
        ],
    )
    far = "Q3FARAWAY"
    double.add(
        incident(far, 1001, "Old outage", "2026-02-01T10:00:00Z", resolved="2026-02-01T11:00:00Z"),
        [
            log_entry(
                far,
                1,
                "trigger",
                "2026-02-01T10:00:00Z",
                "Triggered through the API.",
                INTEGRATION,
                {"type": "api"},
            )
        ],
    )
    return double


def many_entries(incident_id: str, count: int, start: str = CREATED) -> list[dict[str, Any]]:
    """``count`` notify entries one second apart from ``start`` (a paging storm)."""
    from datetime import datetime, timedelta

    t0 = datetime.fromisoformat(start.replace("Z", "+00:00"))
    out = []
    for n in range(count):
        at = (t0 + timedelta(seconds=n)).isoformat().replace("+00:00", "Z")
        out.append(
            log_entry(
                incident_id,
                n,
                "notify",
                at,
                "Notified Jane Doe via email.",
                SERVICE,
                notification("email", at, JANE, "jane@example.com"),
                user=JANE,
            )
        )
    return out

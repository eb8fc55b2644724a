"""The fields the Alertmanager formats read, typed as Alertmanager's API v2 OpenAPI document
declares them (``gettableAlert``, ``gettableSilence``; label sets map names to strings) and, for
the webhook payload, as its documentation gives it (docs/configuration.md, ``<webhook_config>``:
``receiver``, ``status``, ``alerts[]`` with ``labels``, ``startsAt``, ``fingerprint``, ...).
See `collector.shapes`; a test holds the API fields to the OpenAPI document."""

from __future__ import annotations

from incident_timeline.collector.shapes import BOOLEAN, STRING, ArrayOf, MapOf, Spec

LABELS: Spec = MapOf(STRING)
ALERT: Spec = {
    "labels": LABELS,
    "annotations": LABELS,
    "fingerprint": STRING,
    "startsAt": STRING,
    "endsAt": STRING,
    "updatedAt": STRING,
    "generatorURL": STRING,
    "receivers": ArrayOf({"name": STRING}),
    "status": {"state": STRING, "silencedBy": ArrayOf(STRING), "inhibitedBy": ArrayOf(STRING)},
}
SILENCE: Spec = {
    "id": STRING,
    "matchers": ArrayOf({"name": STRING, "value": STRING, "isRegex": BOOLEAN, "isEqual": BOOLEAN}),
    "startsAt": STRING,
    "endsAt": STRING,
    "createdBy": STRING,
    "comment": STRING,
    "status": {"state": STRING},
}
WEBHOOK: Spec = {
    "receiver": STRING,
    "status": STRING,
    "groupKey": STRING,
    "commonLabels": LABELS,
    "alerts": ArrayOf(
        {"labels": LABELS, "fingerprint": STRING, "startsAt": STRING, "endsAt": STRING}
    ),
}

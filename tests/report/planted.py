"""A small bundle with a secret of every kind planted where evidence carries text: pod log
lines (text and JSON), a Kubernetes event message, a PagerDuty note, an alert annotation
(a JSON field that becomes a label), and lookalikes that must survive."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support import cli

JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJjaGVja291dCIsImV4cCI6MTc3MTMzNzYwMH0"
    ".Zq3hQ0d2v1bS8l9yWm4xT7kC6pR5nE2aF0gH1jK3LmN"
)
PEM_LINE = "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gunVTLw7onLRnrq0"
# Each value must not survive in any shared output.
SECRETS: dict[str, str] = {
    "bearer": "b7Hq2Zt9LmX4cVw8Ns3Kd1Pe",
    "pagerduty": "y_NbAkKc66ryYTWUXYEu",
    "jwt": JWT,
    "jwt-signature": JWT.rsplit(".", 1)[1],
    "aws-id": "AKIAIOSFODNN7EXAMPLE",
    "aws-secret": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "github": "ghp_R2d2C3poBb8Lq5Zx1Wy7Tv4Ns6Mk9Jh0Gf3D",
    "slack": "xoxb-2048163264-1281632641282-Qm9vRt2Xc8Lp4Zs7Nk1Wd5Hy",
    "url-password": "Tr0ub4dor&3horse",
    "logfmt-password": "hunter2-prod-db",
    "json-password": "c0rrect horse battery",
    "api-key": "AIzaSyD-8f3kQ2mW7vX9pL4tR6yB1nC5hJ0eU",
    "routing-key": "R0UT1NGKEYa9b8c7d6e5f4a3b2c1d0e9f8",
    "secret-quoted": "s3cr3t with spaces",
    "private-key": PEM_LINE,
    "event-token": "ghs_K8sEv3ntT0kenAbCdEfGhIjKlMnOpQrStUv",
    "note-secret": "n0te-S3cret-Value-42",
    "annotation-key": "ann0tati0n-api-key-9f8e7d",
    "custom": "CUST0MER9981",
}
# Ordinary identifiers that look like secrets and must stay.
KEEP = {
    "uuid": "123e4567-e89b-12d3-a456-426614174000",
    "git-sha": "9fceb02d0ae598e95dc970b74767f19372d61af8",
    "trace-id": "4bf92f3577b34da6a3ce929d0e0e4736",
    "span-id": "00f067aa0ba902b7",
    "digest": "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
}
S = SECRETS
LOG_LINES = [
    f"GET /v1/orders Authorization: Bearer {S['bearer']} status=200 trace_id={KEEP['trace-id']}",
    f'calling pagerduty with "Authorization: Token token={S["pagerduty"]}" '
    f"request_id={KEEP['uuid']}",
    f"session jwt {S['jwt']} accepted span_id={KEEP['span-id']}",
    f"aws_access_key_id={S['aws-id']} aws_secret_access_key={S['aws-secret']}",
    f"git clone https://x-access-token:{S['github']}@github.com/acme/checkout "
    f"commit={KEEP['git-sha']}",
    f"posting to slack with {S['slack']} image={KEEP['digest']}",
    f"connecting to postgres://checkout:{S['url-password']}@db.internal:5432/orders",
    f'level=error msg="login failed" user=svc password={S["logfmt-password"]}',
    json.dumps({"level": "warn", "msg": "config", "password": S["json-password"]}),
    json.dumps({"level": "info", "api_key": S["api-key"], "routing_key": S["routing-key"]}),
    f'loaded settings secret="{S["secret-quoted"]}"',
    "-----BEGIN RSA PRIVATE KEY-----",
    PEM_LINE,
    "-----END RSA PRIVATE KEY-----",
    f"x-customer-id: {S['custom']} looked up",
]


def build(tmp: Path) -> Path:
    """Write the exports and a config, run ``incident collect``; returns the bundle."""
    exports = tmp / "exports"
    exports.mkdir(parents=True)
    pod = "[pod/checkout-api-7f9c8d6b5-x2x9z/checkout-api]"
    lines = [f"{pod} 2026-02-17T14:05:{i:02d}.000000000Z {t}" for i, t in enumerate(LOG_LINES)]
    (exports / "logs.txt").write_text("\n".join(lines) + "\n")
    (exports / "events.json").write_text(json.dumps(_k8s_events()))
    (exports / "notes.json").write_text(json.dumps(_notes()))
    (exports / "alerts.json").write_text(json.dumps(_alerts()))
    (tmp / "config.toml").write_text(
        '[incident]\ntitle = "Planted secrets"\n'
        'since = "2026-02-17T14:00:00Z"\nuntil = "2026-02-17T15:00:00Z"\n'
        "[redact]\npatterns = ['x-customer-id: (\\w+)']\n"
        '[[file]]\npath = "exports/logs.txt"\nformat = "kubectl-logs"\nnamespace = "checkout"\n'
        '[[file]]\npath = "exports/events.json"\nformat = "kubectl-events"\n'
        '[[file]]\npath = "exports/notes.json"\nformat = "pagerduty-notes"\nstream = "Q1"\n'
        '[[file]]\npath = "exports/alerts.json"\nformat = "alertmanager-alerts"\n'
    )
    bundle = tmp / "bundle"
    cli(["collect", "-c", str(tmp / "config.toml"), "-o", str(bundle)])
    return bundle


def _k8s_events() -> dict[str, object]:
    message = (
        f'Failed to pull image "ghcr.io/acme/checkout@{KEEP["digest"]}": unauthorized: '
        f"token={S['event-token']}"
    )
    item = {
        "apiVersion": "v1",
        "kind": "Event",
        "count": 1,
        "firstTimestamp": "2026-02-17T14:06:00Z",
        "lastTimestamp": "2026-02-17T14:06:00Z",
        "involvedObject": {
            "kind": "Pod",
            "name": "checkout-api-7f9c8d6b5-x2x9z",
            "namespace": "checkout",
        },
        "metadata": {"name": "checkout-api.1", "namespace": "checkout", "uid": KEEP["uuid"]},
        "reason": "Failed",
        "message": message,
        "source": {"component": "kubelet", "host": "node-a"},
        "type": "Warning",
    }
    return {"apiVersion": "v1", "kind": "List", "items": [item]}


def _notes() -> dict[str, object]:
    note = {
        "id": "PNOTE01",
        "user": {"id": "PALICE1", "type": "user_reference", "summary": "Alice Chen"},
        "channel": {"summary": "The PagerDuty website"},
        "content": f"Rotated the DB creds; old one was secret={S['note-secret']}. "
        f"Debug header was Authorization: Bearer {S['jwt']}",
        "created_at": "2026-02-17T14:20:00Z",
        "updated_at": "2026-02-17T14:20:00Z",
    }
    return {"notes": [note]}


def _alerts() -> list[dict[str, object]]:
    return [
        {
            "annotations": {"summary": "checkout 5xx", "api_key": S["annotation-key"]},
            "endsAt": "2026-02-17T14:30:00Z",
            "fingerprint": "3a75914380186ddb",
            "receivers": [{"name": "pagerduty-checkout"}],
            "startsAt": "2026-02-17T14:10:00Z",
            "status": {"inhibitedBy": [], "silencedBy": [], "state": "active"},
            "updatedAt": "2026-02-17T14:10:00Z",
            "generatorURL": "http://prometheus:9090/graph",
            "labels": {"alertname": "HighErrorRate", "service": "checkout-api"},
        }
    ]

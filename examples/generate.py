#!/usr/bin/env python3
"""Generate the bundled example incident under examples/checkout-incident/.

The story: checkout-api v2.3.4 went out at 14:02 UTC on 2026-02-17 with db_pool_size lowered
from 50 to 5; from 14:10 about 30% of requests failed with 503 until a rollback finished at
14:25. The generator writes the raw evidence as the real tools would have exported it (kubectl,
Prometheus, Alertmanager/amtool, PagerDuty, a CI log) plus truth.json, the facts tests assert.

It is deterministic: one seed, no wall clock, stable ordering, "\\n" line endings.

    python examples/generate.py          # rewrite the generated files
    python examples/generate.py --check  # exit 1 and list files that differ from the committed ones
    python examples/generate.py --clean DIR  # the same story without the planted traps, in DIR

README.md in the same folder is written by hand; the demo configuration is config.example.toml
at the root.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

SEED = 20260217
OUT = Path(__file__).resolve().parent / "checkout-incident"

DAY = "2026-02-17"
NS = "checkout"
APP = "checkout-api"
CONTAINERS = ("checkout-api", "pgbouncer")
OLD_RS, NEW_RS = "checkout-api-5c9d7f6b8", "checkout-api-6d8f7b9c5d"
GOOD, BAD = "v2.3.3", "v2.3.4"
POOL_SIZE = {GOOD: 50, BAD: 5}
IMAGE = "registry.example.com/shop/checkout-api:{}"
PGB_IMAGE = "registry.example.com/infra/pgbouncer:1.22.1"
SEC, MS = 10**9, 10**6
SKEW = {"node-a": 0, "node-b": 2_400 * MS}  # node-b's clock runs 2.4 s ahead
NEW_YORK = -5 * 3600 * SEC  # pgbouncer writes naive America/New_York time (EST, UTC-5)
POD_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # what Kubernetes uses for generated names


def at(clock: str, day: str = DAY) -> int:
    """'14:10:03.412' on the incident day as nanoseconds since the epoch (UTC)."""
    hms, _, frac = clock.partition(".")
    seconds = int(datetime.fromisoformat(f"{day}T{hms}+00:00").timestamp())
    return seconds * SEC + int((frac + "000000000")[:9])


SINCE, UNTIL = at("14:00:00"), at("15:30:00")
INCIDENT_START = at("14:09:40")  # pgbouncer starts refusing clients
FIRST_5XX = at("14:10:03.412318")  # true time of the first 5xx line (node-a: no skew)
FIRST_PGB_WARNING = at("14:09:40.118")
PANIC_AT = at("14:14:52.731")
SNAPSHOT = at("14:20:00")  # checkout-logs-1420.txt and the Alertmanager snapshots
EXPORT = at("15:30:00")  # checkout-logs-1530.txt
GAP = (at("14:40:00"), at("14:46:00"))  # scrape gap of the first rollback pod, end exclusive
STEP = 15 * SEC


@dataclass(frozen=True)
class Traps:
    """The traps planted on purpose (README, "Traps"); `CLEAN` tells the story without them."""

    skew: dict[str, int]  # node -> how far its clock is ahead (ns)
    pgbouncer_offset: int  # pgbouncer's naive local time minus UTC (ns)
    gap: tuple[int, int]  # scrape gap of GAP_POD, end exclusive
    keep_gone_logs: bool  # the log exports also hold pods deleted before they were taken


PLANTED = Traps(SKEW, NEW_YORK, GAP, keep_gone_logs=False)
CLEAN = Traps({"node-a": 0, "node-b": 0}, 0, (0, 0), keep_gone_logs=True)

# label, replica set, node, created, started, deleted ("" = outside the window)
POD_PLAN = [
    ("O1", OLD_RS, "node-a", "", "", "14:02:47.210"),
    ("O2", OLD_RS, "node-b", "", "", "14:03:24.180"),
    ("O3", OLD_RS, "node-a", "", "", "14:04:01.305"),
    ("O4", OLD_RS, "node-b", "", "", "14:04:40.122"),
    ("N1", NEW_RS, "node-a", "14:02:10.153", "14:02:14.602", "14:25:10.240"),
    ("N2", NEW_RS, "node-b", "14:02:47.215", "14:02:52.118", "14:24:32.190"),
    ("N3", NEW_RS, "node-a", "14:03:24.186", "14:03:26.044", "14:23:55.170"),
    ("N4", NEW_RS, "node-b", "14:04:01.311", "14:04:03.250", "14:19:30.412"),
    ("N5", NEW_RS, "node-b", "14:19:31.020", "14:19:33.310", "14:23:18.160"),
    ("R1", OLD_RS, "node-a", "14:22:41.108", "14:22:43.016", ""),
    ("R2", OLD_RS, "node-b", "14:23:18.166", "14:23:20.240", ""),
    ("R3", OLD_RS, "node-a", "14:23:55.175", "14:23:57.098", ""),
    ("R4", OLD_RS, "node-b", "14:24:32.196", "14:24:34.305", ""),
]
DELETED_BY_HAND = "N4"  # Alice deletes it at 14:19:30; N5 replaces it
GAP_POD = "R1"  # the rollback pod on node-a that starts first

# time, replica set, direction, to, from (-1: the replica set was just created, no "from")
SCALING = [
    ("14:02:10.150", NEW_RS, "up", 1, -1),
    ("14:02:47.205", OLD_RS, "down", 3, 4),
    ("14:02:47.212", NEW_RS, "up", 2, 1),
    ("14:03:24.176", OLD_RS, "down", 2, 3),
    ("14:03:24.183", NEW_RS, "up", 3, 2),
    ("14:04:01.300", OLD_RS, "down", 1, 2),
    ("14:04:01.308", NEW_RS, "up", 4, 3),
    ("14:04:40.118", OLD_RS, "down", 0, 1),
    ("14:22:41.102", OLD_RS, "up", 1, 0),
    ("14:23:18.155", NEW_RS, "down", 3, 4),
    ("14:23:18.163", OLD_RS, "up", 2, 1),
    ("14:23:55.165", NEW_RS, "down", 2, 3),
    ("14:23:55.172", OLD_RS, "up", 3, 2),
    ("14:24:32.185", NEW_RS, "down", 1, 2),
    ("14:24:32.193", OLD_RS, "up", 4, 3),
    ("14:25:10.235", NEW_RS, "down", 0, 1),
]

CI_LOG = """\
2026-02-16T16:38:02Z deploy pipeline=checkout-api#1839 actor=ci-bot action=start version=v2.3.3 \
from=v2.3.2 commit=4be19d0
2026-02-16T16:40:31Z deploy pipeline=checkout-api#1839 actor=ci-bot action=finish status=success \
version=v2.3.3 duration=149s
2026-02-17T14:02:05Z deploy pipeline=checkout-api#1842 actor=ci-bot action=start version=v2.3.4 \
from=v2.3.3 commit=9f3c2a1 image=registry.example.com/shop/checkout-api:v2.3.4
2026-02-17T14:02:09Z deploy pipeline=checkout-api#1842 actor=ci-bot action=apply \
target=deployment/checkout-api namespace=checkout
2026-02-17T14:02:10Z deploy pipeline=checkout-api#1842 actor=ci-bot action=wait \
msg="waiting for rollout to finish"
2026-02-17T14:04:41Z deploy pipeline=checkout-api#1842 actor=ci-bot action=finish status=success \
version=v2.3.4 duration=156s
2026-02-17T14:22:40Z deploy pipeline=checkout-api#1843 actor=alice.chen action=rollback \
version=v2.3.3 from=v2.3.4 reason="5xx after v2.3.4"
2026-02-17T14:22:41Z deploy pipeline=checkout-api#1843 actor=alice.chen action=wait \
msg="waiting for rollout to finish"
2026-02-17T14:25:11Z deploy pipeline=checkout-api#1843 actor=alice.chen action=finish \
status=success version=v2.3.3 duration=151s
"""

# method, path, status when fine, weight, typical duration in ms
ROUTES = [
    ("GET", "/api/v1/cart", 200, 35, 18),
    ("POST", "/api/v1/cart/items", 201, 20, 27),
    ("POST", "/api/v1/checkout", 200, 25, 41),
    ("GET", "/api/v1/shipping/quote", 200, 15, 22),
    ("GET", "/api/v1/orders/{}", 200, 5, 15),
]
ERROR_SHARE = 0.30  # share of requests failing with 503 on v2.3.4 once the pool is exhausted
PROBE_FAIL_SHARE = 0.20

PANIC_LINES = [
    "panic: runtime error: invalid memory address or nil pointer dereference",
    "goroutine 1 [running]:",
    "runtime/debug.Stack()",
    "\t/usr/local/go/src/runtime/debug/stack.go:26 +0x5e",
    "github.com/example/shop/checkout-api/internal/httpx.Recover.func1.1()",
    "\t/src/internal/httpx/recover.go:24 +0x6b",
    "panic({0x9a1e20?, 0xe2c5b0?})",
    "\t/usr/local/go/src/runtime/panic.go:770 +0x132",
    (
        "github.com/example/shop/checkout-api/internal/order.(*Service).Place(0xc0002b8000, "
        "{0xb0c2f8, 0xc00041e1e0}, 0xc0003a2090)"
    ),
    "\t/src/internal/order/service.go:142 +0x1ce",
    (
        "github.com/example/shop/checkout-api/internal/api.(*Handler).Checkout(0xc000118a80, "
        "{0xb0a0d0, 0xc0004c6000}, 0xc0004b4240)"
    ),
    "\t/src/internal/api/checkout.go:58 +0x2a4",
    "net/http.HandlerFunc.ServeHTTP(0xc0004b4120?, {0xb0a0d0?, 0xc0004c6000?}, 0x0?)",
    "\t/usr/local/go/src/net/http/server.go:2171 +0x29",
]

RATIO_EXPR = (
    'sum by (service) (rate(http_requests_total{namespace="checkout",code=~"5.."}[1m])) '
    '/ sum by (service) (rate(http_requests_total{namespace="checkout"}[1m]))'
)
# error_ratio samples that shape the crossings of 0.05 (up at 14:11:15, down at 14:26:45)
RATIO_ANCHORS = {
    "14:10:00": 0.0062,
    "14:10:15": 0.0131,
    "14:10:30": 0.0224,
    "14:10:45": 0.0318,
    "14:11:00": 0.0437,
    "14:11:15": 0.073,
    "14:11:30": 0.118,
    "14:11:45": 0.164,
    "14:12:00": 0.207,
    "14:12:15": 0.243,
    "14:12:30": 0.271,
    "14:25:30": 0.104,
    "14:25:45": 0.093,
    "14:26:00": 0.081,
    "14:26:15": 0.067,
    "14:26:30": 0.056,
    "14:26:45": 0.041,
    "14:27:00": 0.027,
    "14:27:15": 0.016,
    "14:27:30": 0.0083,
    "14:27:45": 0.0042,
}
ALERT = {
    "pending": (at("14:11:30"), at("14:13:15")),
    "firing": (at("14:13:30"), at("14:28:45")),
}
ALERT_STARTS, ALERT_ENDS = at("14:13:30.512"), at("14:29:00.512")
ALERT_LABELS = {"alertname": "HighErrorRate", "namespace": NS, "service": APP, "severity": "page"}
ALERT_ANNOTATIONS = {
    "description": "More than 5% of checkout-api requests failed with 5xx for 2 minutes.",
    "runbook_url": "https://runbooks.example.com/checkout/high-error-rate",
    "summary": "checkout-api 5xx ratio above 5%",
}
GENERATOR_URL = (
    "http://prometheus:9090/graph?g0.expr=" + quote_plus(RATIO_EXPR + " > 0.05") + "&g0.tab=1"
)
SILENCE = {
    "created": at("14:18:05.220"),
    "ends": at("16:18:05.220"),
    "by": "alice.chen",
    "comment": "Rollback of checkout-api in progress; silencing HighErrorRate while it rolls out",
}
WEBHOOK_RECEIVED = {"firing": at("14:13:31.200"), "resolved": at("14:29:01.700")}

PD_INCIDENT = ("Q1CHKT5XYZABCD", 4211, "HighErrorRate: checkout-api 5xx ratio above 5%")
PD_USER = ("PALICE1", "Alice Chen")
PD_SERVICE = ("PCHK001", "checkout-api")
PD_NOTES = [
    ("14:17:30", "Looking at checkout 5xx; deploy v2.3.4 went out at 14:02."),
    (
        "14:33:05",
        (
            "Rolled back to v2.3.3. v2.3.4 lowered db_pool_size from 50 to 5; pgbouncer "
            "max_client_conn was hit. Follow-up in the postmortem."
        ),
    ),
]
# time, type, summary
PD_LOG = [
    ("14:13:33", "trigger_log_entry", "Triggered through the API"),
    ("14:13:34", "notify_log_entry", "Notified Alice Chen by SMS"),
    ("14:16:47", "acknowledge_log_entry", "Acknowledged by Alice Chen"),
    ("14:17:30", "annotate_log_entry", "Note added"),
    ("14:31:12", "resolve_log_entry", "Resolved by Alice Chen"),
    ("14:33:05", "annotate_log_entry", "Note added"),
]


# ---------------------------------------------------------------- time formats


def _utc(ns: int) -> str:
    return datetime.fromtimestamp(ns // SEC, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")


def iso_s(ns: int) -> str:
    """RFC 3339 to the second, as Kubernetes event timestamps: 2026-02-17T14:02:10Z."""
    return _utc(ns) + "Z"


def iso_ms(ns: int) -> str:
    """RFC 3339 with milliseconds: app time= values, Alertmanager API v2."""
    return f"{_utc(ns)}.{ns % SEC // MS:03d}Z"


def iso_ns(ns: int) -> str:
    """RFC 3339 with exactly nine fraction digits, as kubectl logs --timestamps."""
    return f"{_utc(ns)}.{ns % SEC:09d}Z"


def go_time(ns: int) -> str:
    """Go's RFC3339Nano (trailing zeros dropped), as Alertmanager webhook payloads."""
    frac = f"{ns % SEC:09d}".rstrip("0")
    return _utc(ns) + (f".{frac}" if frac else "") + "Z"


def new_york(ns: int, offset: int = NEW_YORK) -> str:
    """Naive local time as pgbouncer writes it: 2026-02-17 09:10:03.401."""
    local = ns + offset
    return _utc(local).replace("T", " ") + f".{local % SEC // MS:03d}"


def unix(ns: int) -> int | float:
    return ns // SEC if ns % SEC == 0 else ns / SEC


def prom_float(value: float) -> str:
    """Format a sample value as Prometheus does (shortest form, never an exponent)."""
    if value == int(value):
        return str(int(value))
    text = repr(value)
    return f"{value:.12f}".rstrip("0") if "e" in text else text


# ---------------------------------------------------------------- pods


@dataclass
class Pod:
    label: str
    name: str
    rs: str
    node: str
    ip: str
    uid: str
    created: int
    started: int
    deleted: int | None
    skew: int = 0  # how far its node's clock is ahead

    @property
    def version(self) -> str:
        return BAD if self.rs == NEW_RS else GOOD

    def exists_at(self, t: int) -> bool:
        return self.created <= t and (self.deleted is None or t < self.deleted)


def new_uid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def make_pods(rng: random.Random, traps: Traps) -> dict[str, Pod]:
    pods: dict[str, Pod] = {}
    hosts = {"node-a": rng.sample(range(11, 90), 8), "node-b": rng.sample(range(11, 90), 8)}
    subnet = {"node-a": "10.42.0", "node-b": "10.42.1"}
    for label, rs, node, created, started, deleted in POD_PLAN:
        suffix = "".join(rng.choice(POD_ALPHABET) for _ in range(5))
        since_yesterday = at("16:38:12.5", "2026-02-16") + len(pods) * 37 * SEC
        pods[label] = Pod(
            label=label,
            name=f"{rs}-{suffix}",
            rs=rs,
            node=node,
            ip=f"{subnet[node]}.{hosts[node].pop()}",
            uid=new_uid(rng),
            created=at(created) if created else since_yesterday,
            started=at(started) if started else since_yesterday + 4 * SEC,
            deleted=at(deleted) if deleted else None,
            skew=traps.skew[node],
        )
    return pods


# ---------------------------------------------------------------- container logs

Record = tuple[int, str]  # (true time in ns, text as the process wrote it)
Line = tuple[int, int, str]  # (true time, runtime timestamp on the node's clock, text)


def logfmt(ns: int, level: str, msg: str, **fields: object) -> str:
    parts = [f"time={iso_ms(ns)}", f"level={level}", f'msg="{msg}"']
    for key, value in fields.items():
        text = str(value)
        parts.append(f"{key}={json.dumps(text) if (' ' in text or '=' in text) else text}")
    return " ".join(parts)


def startup_records(pod: Pod) -> list[Record]:
    t, size = pod.started + 310 * MS, POOL_SIZE[pod.version]
    return [
        (
            t,
            logfmt(
                t + pod.skew,
                "info",
                "starting checkout-api",
                version=pod.version,
                db_pool_size=size,
            ),
        ),
        (
            t + 46 * MS,
            logfmt(
                t + 46 * MS + pod.skew,
                "info",
                "connected to database",
                addr="127.0.0.1:6432",
                pool_size=size,
            ),
        ),
        (t + 49 * MS, logfmt(t + 49 * MS + pod.skew, "info", "listening", addr=":8080")),
    ]


def probe_records(pod: Pod, rng: random.Random, end: int) -> tuple[list[Record], list[int]]:
    """Kubelet readiness probes every 10 s; on v2.3.4 they fail now and then during the outage."""
    records, failures = [], []
    t = pod.started + 5 * SEC + rng.randrange(SEC)
    while t < end:
        if pod.version == BAD and t > FIRST_5XX + 5 * MS and rng.random() < PROBE_FAIL_SHARE:
            text = logfmt(
                t + pod.skew,
                "warn",
                "probe failed",
                path="/healthz",
                status=503,
                err="db pool exhausted",
            )
            failures.append(t)
        else:
            text = logfmt(t + pod.skew, "debug", "probe ok", path="/healthz")
        records.append((t, text))
        t += 10 * SEC + rng.randrange(-3 * MS, 3 * MS)
    return records, failures


def pick_route(rng: random.Random) -> tuple[str, str, int, int]:
    method, path, status, _, typical = rng.choices(ROUTES, [r[3] for r in ROUTES])[0]
    if "{}" in path:
        path = path.format(f"ord_{rng.randrange(10**7, 10**8)}")
        status = 404 if rng.random() < 0.1 else status
    duration = max(2, int(typical * rng.lognormvariate(0, 0.35)))
    return method, path, status, duration


def request_records(pod: Pod, rng: random.Random, t: int) -> list[Record]:
    method, path, status, duration = pick_route(rng)
    trace = f"{rng.getrandbits(64):016x}"
    clock = t + pod.skew
    outage = pod.version == BAD and t >= INCIDENT_START
    if outage and t > FIRST_5XX and rng.random() < ERROR_SHARE:
        return failed_request(pod, t, method, path, trace, 2000 + rng.randrange(1, 9))
    if outage and rng.random() < 0.25:
        wait = rng.randrange(300, 1900)
        early = t - (duration + 1) * MS
        return [
            (early, logfmt(early + pod.skew, "warn", "slow db acquire", wait_ms=wait)),
            (
                t,
                logfmt(
                    clock,
                    "info",
                    "request served",
                    method=method,
                    path=path,
                    status=status,
                    duration_ms=duration + wait,
                    trace_id=trace,
                ),
            ),
        ]
    return [
        (
            t,
            logfmt(
                clock,
                "info",
                "request served",
                method=method,
                path=path,
                status=status,
                duration_ms=duration,
                trace_id=trace,
            ),
        )
    ]


def failed_request(pod: Pod, t: int, method: str, path: str, trace: str, ms: int) -> list[Record]:
    early = t - 1_600_000
    return [
        (
            early,
            logfmt(
                early + pod.skew,
                "error",
                "db pool exhausted",
                err="pq: sorry, too many clients already",
                wait_ms=2000,
            ),
        ),
        (
            t,
            logfmt(
                t + pod.skew,
                "error",
                "request served",
                method=method,
                path=path,
                status=503,
                duration_ms=ms,
                trace_id=trace,
            ),
        ),
    ]


def panic_records(pod: Pod, rng: random.Random) -> list[Record]:
    """A recovered nil-pointer panic: a logfmt error, then raw stack lines, then the 500."""
    t, trace = PANIC_AT, f"{rng.getrandbits(64):016x}"
    records = [
        (
            t,
            logfmt(
                t + pod.skew,
                "error",
                "panic recovered",
                err="runtime error: invalid memory address or nil pointer dereference",
                method="POST",
                path="/api/v1/checkout",
                trace_id=trace,
            ),
        )
    ]
    for i, text in enumerate(PANIC_LINES, start=1):
        records.append((t + i * 1_000, text))
    end = t + 40_000
    records.append(
        (
            end,
            logfmt(
                end + pod.skew,
                "error",
                "request served",
                method="POST",
                path="/api/v1/checkout",
                status=500,
                duration_ms=2004,
                trace_id=trace,
            ),
        )
    )
    return records


def app_stream(pod: Pod, rng: random.Random) -> tuple[list[Record], list[int]]:
    end = pod.deleted or EXPORT
    records, failures = probe_records(pod, rng, end)
    records += startup_records(pod)
    t = pod.started + SEC + rng.randrange(SEC)
    while t < end:
        if abs(t - FIRST_5XX) > 5 * MS and abs(t - PANIC_AT) > 5 * MS:
            records += request_records(pod, rng, t)
        t += int(rng.expovariate(0.5) * SEC) + MS
    if pod.label == "N1":
        records += failed_request(
            pod, FIRST_5XX, "POST", "/api/v1/checkout", f"{rng.getrandbits(64):016x}", 2003
        )
    if pod.label == "N2":
        records += panic_records(pod, rng)
    return records, failures


def pgbouncer_stream(pod: Pod, rng: random.Random, offset: int) -> list[Record]:
    end, t0 = pod.deleted or EXPORT, pod.started + 520 * MS

    def rec(t: int, text: str) -> Record:
        return t, f"{new_york(t + pod.skew, offset)} [1] {text}"

    records = [
        rec(
            t0,
            "LOG kernel file descriptor limit: 1048576 (hard: 1048576); max_client_conn: "
            "100, max expected fd use: 112",
        ),
        rec(t0 + 1 * MS, "LOG listening on 127.0.0.1:6432"),
        rec(
            t0 + 2 * MS,
            "LOG process up: PgBouncer 1.22.1, libevent 2.1.12-stable (epoll), "
            "adns: c-ares 1.19.1, tls: OpenSSL 3.1.4 24 Oct 2023",
        ),
    ]
    for t in range(t0 + 60 * SEC, end, 60 * SEC):
        records.append(rec(t, pgbouncer_stats(rng, pod.version == BAD and t >= INCIDENT_START)))
    if pod.version == BAD:
        t = max(INCIDENT_START, t0) + rng.randrange(SEC, 6 * SEC)
        if pod.label == "N1":
            records.append(rec(FIRST_PGB_WARNING, pgbouncer_refusal(rng)))
            records.append(rec(at("14:10:03.401"), pgbouncer_refusal(rng)))
        while t < end:
            records.append(rec(t, pgbouncer_refusal(rng)))
            t += int(rng.expovariate(1 / 4) * SEC) + MS
    return records


def pgbouncer_stats(rng: random.Random, outage: bool) -> str:
    xacts = rng.randint(4, 8) if outage else rng.randint(9, 16)
    wait = rng.randint(800_000, 2_000_000) if outage else rng.randint(5, 20)
    return (
        f"LOG stats: {xacts} xacts/s, {xacts * 3 + rng.randint(0, 5)} queries/s, "
        f"in {rng.randint(4000, 5600)} B/s, out {rng.randint(8200, 9900)} B/s, "
        f"xact {rng.randint(2500, 3600)} us, query {rng.randint(700, 1100)} us, wait {wait} us"
    )


def pgbouncer_refusal(rng: random.Random) -> str:
    return (
        f"WARNING C-0x55d7c8{rng.getrandbits(16):04x}: checkout/app@127.0.0.1:"
        f"{rng.randint(40000, 60999)} pooler error: no more connections allowed (max_client_conn)"
    )


def runtime_lines(records: list[Record], skew: int, rng: random.Random) -> list[Line]:
    """Stamp each record as the container runtime does: the node's clock, a little later."""
    lines: list[Line] = []
    last = 0
    for t, text in sorted(records):
        stamp = max(t + skew + rng.randrange(80_000, 3 * MS), last + 1_000)
        lines.append((t, stamp, text))
        last = stamp
    return lines


def kubectl_logs(
    pods: list[Pod], streams: dict[tuple[str, str], list[Line]], cut: int, keep_gone: bool = False
) -> str:
    """`kubectl logs -l app=checkout-api --all-containers --prefix --timestamps` run at `cut`;
    with `keep_gone`, also the pods deleted in the window before `cut` (as a log store keeps)."""

    def shown(p: Pod) -> bool:
        gone = keep_gone and (p.name, CONTAINERS[0]) in streams and p.created <= cut
        return p.exists_at(cut) or (gone and p.deleted is not None and p.deleted >= SINCE)

    out = []
    for pod in sorted((p for p in pods if shown(p)), key=lambda p: p.name):
        for container in CONTAINERS:
            for t, stamp, text in streams[pod.name, container]:
                if t <= cut:
                    out.append(f"[pod/{pod.name}/{container}] {iso_ns(stamp)} {text}\n")
    return "".join(out)


# ---------------------------------------------------------------- Kubernetes events


@dataclass
class Ref:
    kind: str
    name: str
    uid: str
    api_version: str
    rv: int


class EventLog:
    """core/v1 Events as `kubectl get events -o json` returns them."""

    def __init__(self, rng: random.Random, skew: dict[str, int]) -> None:
        self.rng = rng
        self.skew = skew
        self.items: list[tuple[int, dict[str, Any]]] = []

    def add(
        self,
        t: int,
        ref: Ref,
        reason: str,
        message: str,
        component: str,
        node: str = "",
        container: str = "",
        last: int = 0,
        count: int = 1,
    ) -> None:
        t += self.rng.randrange(MS)
        clock = t + self.skew.get(node, 0)  # firstTimestamp and the name come from the reporter
        involved = {
            "apiVersion": ref.api_version,
            "kind": ref.kind,
            "name": ref.name,
            "namespace": NS,
            "resourceVersion": str(ref.rv),
            "uid": ref.uid,
        }
        if container:
            involved["fieldPath"] = f"spec.containers{{{container}}}"
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "count": count,
            "eventTime": None,
            "firstTimestamp": iso_s(clock),
            "lastTimestamp": iso_s((last or t) + self.skew.get(node, 0)),
            "involvedObject": involved,
            "message": message,
            "reason": reason,
            "metadata": {
                "creationTimestamp": iso_s(t + 4 * MS),
                "name": f"{ref.name}.{clock:x}",
                "namespace": NS,
                "resourceVersion": "",
                "uid": new_uid(self.rng),
            },
            "reportingComponent": component,
            "reportingInstance": node,
            "source": {"component": component, **({"host": node} if node else {})},
            "type": "Warning" if reason == "Unhealthy" else "Normal",
        }
        self.items.append((last or t, event))

    def export(self) -> dict[str, Any]:
        """Give resourceVersions in write order; list in etcd key order (by name)."""
        rv = 48_211_907
        for _, event in sorted(self.items, key=lambda item: item[0]):
            rv += self.rng.randint(3, 60)
            event["metadata"]["resourceVersion"] = str(rv)
        items = sorted((e for _, e in self.items), key=lambda e: e["metadata"]["name"])
        return {
            "apiVersion": "v1",
            "items": items,
            "kind": "List",
            "metadata": {"resourceVersion": ""},
        }


def pod_ref(pod: Pod) -> Ref:
    return Ref("Pod", pod.name, pod.uid, "v1", 48_150_000 + int(pod.uid[:3], 16))


def pod_start_events(ev: EventLog, pod: Pod, pulls: bool) -> None:
    ref, node, s = pod_ref(pod), pod.node, pod.started
    image = IMAGE.format(pod.version)
    ev.add(
        pod.created + 5 * MS,
        ref,
        "Scheduled",
        f"Successfully assigned {NS}/{pod.name} to {node}",
        "default-scheduler",
    )
    if pulls:
        pulling = pod.created + 830 * MS
        took = f"{(s - 120 * MS - pulling) // MS / 1000:.3f}s"
        ev.add(pulling, ref, "Pulling", f'Pulling image "{image}"', "kubelet", node, APP)
        ev.add(
            s - 120 * MS,
            ref,
            "Pulled",
            f'Successfully pulled image "{image}" in {took} '
            f"({took} including waiting). Image size: 48213312 bytes.",
            "kubelet",
            node,
            APP,
        )
    else:
        ev.add(
            s - 120 * MS,
            ref,
            "Pulled",
            f'Container image "{image}" already present on machine',
            "kubelet",
            node,
            APP,
        )
    ev.add(s - 60 * MS, ref, "Created", f"Created container {APP}", "kubelet", node, APP)
    ev.add(s, ref, "Started", f"Started container {APP}", "kubelet", node, APP)
    ev.add(
        s + 40 * MS,
        ref,
        "Pulled",
        f'Container image "{PGB_IMAGE}" already present on machine',
        "kubelet",
        node,
        "pgbouncer",
    )
    ev.add(s + 90 * MS, ref, "Created", "Created container pgbouncer", "kubelet", node, "pgbouncer")
    ev.add(
        s + 150 * MS, ref, "Started", "Started container pgbouncer", "kubelet", node, "pgbouncer"
    )


def build_events(
    rng: random.Random, pods: dict[str, Pod], failures: dict[str, list[int]], skew: dict[str, int]
) -> dict[str, Any]:
    ev = EventLog(rng, skew)
    deploy = Ref("Deployment", APP, new_uid(rng), "apps/v1", 48_101_522)
    sets = {
        rs: Ref("ReplicaSet", rs, new_uid(rng), "apps/v1", 48_101_530 + i)
        for i, rs in enumerate((OLD_RS, NEW_RS))
    }
    for clock, rs, way, to, was in SCALING:
        tail = f" from {was}" if was >= 0 else ""
        ev.add(
            at(clock),
            deploy,
            "ScalingReplicaSet",
            f"Scaled {way} replica set {rs} to {to}" + tail,
            "deployment-controller",
        )
    pulled: set[tuple[str, str]] = set()
    for pod in pods.values():
        if pod.created >= SINCE:
            ev.add(
                pod.created + MS,
                sets[pod.rs],
                "SuccessfulCreate",
                f"Created pod: {pod.name}",
                "replicaset-controller",
            )
            pod_start_events(ev, pod, (pod.node, pod.version) not in pulled and pod.rs == NEW_RS)
            pulled.add((pod.node, pod.version))
        if pod.deleted is not None:
            if pod.label != DELETED_BY_HAND:
                ev.add(
                    pod.deleted - 2 * MS,
                    sets[pod.rs],
                    "SuccessfulDelete",
                    f"Deleted pod: {pod.name}",
                    "replicaset-controller",
                )
            for i, container in enumerate(CONTAINERS):
                ev.add(
                    pod.deleted + (20 + 3 * i) * MS,
                    pod_ref(pod),
                    "Killing",
                    f"Stopping container {container}",
                    "kubelet",
                    pod.node,
                    container,
                )
        if failures.get(pod.label):
            times = failures[pod.label]
            ev.add(
                times[0],
                pod_ref(pod),
                "Unhealthy",
                "Readiness probe failed: HTTP probe failed with statuscode: 503",
                "kubelet",
                pod.node,
                APP,
                last=times[-1],
                count=len(times),
            )
    return ev.export()


# ---------------------------------------------------------------- Prometheus


def steps() -> range:
    return range(SINCE, UNTIL + 1, STEP)


def matrix(series: list[tuple[dict[str, str], list[tuple[int, str]]]]) -> str:
    """A query_range response body, one line, as curl saves it."""
    ordered = sorted(series, key=lambda s: sorted(s[0].items()))
    result = [
        {"metric": dict(sorted(m.items())), "values": [[unix(t), v] for t, v in values]}
        for m, values in ordered
    ]
    body = {"status": "success", "data": {"resultType": "matrix", "result": result}}
    return json.dumps(body, separators=(",", ":")) + "\n"


def error_ratio(rng: random.Random) -> list[tuple[int, str]]:
    anchors = {at(k): v for k, v in RATIO_ANCHORS.items()}
    start, end = at("14:22:45"), at("14:25:15")
    values = []
    for t in steps():
        if t in anchors:
            value = anchors[t]
        elif t < at("14:10:00") or t > at("14:27:45"):
            value = 0.002 * rng.uniform(0.45, 1.6)
        elif t < start:
            value = rng.uniform(0.265, 0.325)
        else:  # the rollback replaces v2.3.4 pods one by one
            value = 0.29 - 0.175 * (t - start) / (end - start) + rng.uniform(-0.008, 0.008)
        values.append((t, prom_float(value)))
    return values


def alert_series() -> list[tuple[dict[str, str], list[tuple[int, str]]]]:
    series = []
    for state, (first, last) in ALERT.items():
        labels = {"__name__": "ALERTS", "alertstate": state, **ALERT_LABELS}
        series.append((labels, [(t, "1") for t in steps() if first <= t <= last]))
    return series


def timex(
    rng: random.Random, metric: str, skew: dict[str, int]
) -> list[tuple[dict[str, str], list[tuple[int, str]]]]:
    series = []
    for node in ("node-a", "node-b"):
        labels = {"__name__": metric, "instance": f"{node}:9100", "job": "node", "node": node}
        synced = skew[node] == 0
        if metric == "node_timex_offset_seconds":
            # adjtimex's offset is the correction the kernel is still slewing in (positive: the
            # clock is behind). An unsynchronised node has none pending: near 0, whatever its
            # clock does; the skew shows as sync_status 0 and a large maxerror.
            centre, wobble = (0.0003, 0.0001) if synced else (0.0, 0.00002)
            values = [
                (t, prom_float(round(centre + rng.uniform(-wobble, wobble), 6))) for t in steps()
            ]
        else:
            value = {
                "node_timex_sync_status": ("1", "0"),
                "node_timex_maxerror_seconds": ("0.05", "16"),
            }
            values = [(t, value[metric][0 if synced else 1]) for t in steps()]
        series.append((labels, values))
    return series


SCRAPE_PHASE = {"node-a": 3_217 * MS, "node-b": 9_604 * MS}  # each target's offset in 15 s


def node_scrapes(
    rng: random.Random, skew: dict[str, int]
) -> tuple[list[tuple[dict[str, str], list[tuple[int, str]]]], ...]:
    """Raw samples of node_time_seconds (the node's wall clock as node_exporter reads it,
    during the scrape) and of scrape_duration_seconds, at Prometheus' scrape times (its clock),
    as `query?query=node_time_seconds[90m]&time=15:30:00Z` returns them."""
    clock, duration = [], []
    for node in ("node-a", "node-b"):
        target = {"instance": f"{node}:9100", "job": "node", "node": node}
        times, values, took = range(SINCE + SCRAPE_PHASE[node], UNTIL, STEP), [], []
        for t in times:
            spent = rng.randrange(4 * MS, 12 * MS)  # node_exporter answers in milliseconds
            read = t + spent // 2 + rng.randrange(-spent // 8, spent // 8)  # mid-scrape
            values.append((t, prom_float(round((read + skew[node]) / SEC, 6))))
            took.append((t, prom_float(round(spent / SEC, 6))))
        clock.append(({"__name__": "node_time_seconds", **target}, values))
        duration.append(({"__name__": "scrape_duration_seconds", **target}, took))
    return clock, duration


def up_series(
    pods: dict[str, Pod], gap: tuple[int, int]
) -> list[tuple[dict[str, str], list[tuple[int, str]]]]:
    series = []
    for pod in pods.values():
        labels = {
            "__name__": "up",
            "instance": f"{pod.ip}:8080",
            "job": APP,
            "namespace": NS,
            "pod": pod.name,
        }
        values = [
            (t, "1")
            for t in steps()
            if pod.started + SEC <= t
            and pod.exists_at(t)
            and not (pod.label == GAP_POD and gap[0] <= t < gap[1])
        ]
        series.append((labels, values))
    return series


# ---------------------------------------------------------------- Alertmanager


def fingerprint(labels: dict[str, str]) -> str:
    """Prometheus' label set fingerprint: FNV-1a 64 over sorted names and values."""
    h = 14695981039346656037
    for name in sorted(labels):
        for part in (name, labels[name]):
            for byte in part.encode() + b"\xff":
                h = ((h ^ byte) * 1099511628211) % 2**64
    return f"{h:016x}"


def silence_id(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def am_alerts(silence: str) -> list[dict[str, Any]]:
    """`amtool alert query -o json` at 14:20:00."""
    updated = at("14:19:59.800")
    return [
        {
            "annotations": ALERT_ANNOTATIONS,
            "endsAt": iso_ms(updated + 300 * SEC),
            "fingerprint": fingerprint(ALERT_LABELS),
            "receivers": [{"name": "pagerduty-checkout"}],
            "startsAt": iso_ms(ALERT_STARTS),
            "status": {"inhibitedBy": [], "silencedBy": [silence], "state": "suppressed"},
            "updatedAt": iso_ms(updated),
            "generatorURL": GENERATOR_URL,
            "labels": ALERT_LABELS,
        }
    ]


def am_silences(silence: str) -> list[dict[str, Any]]:
    """`amtool silence query -o json` at 14:20:00."""
    matchers = [
        {"isEqual": True, "isRegex": False, "name": name, "value": ALERT_LABELS[name]}
        for name in ("alertname", "service")
    ]
    return [
        {
            "id": silence,
            "status": {"state": "active"},
            "updatedAt": iso_ms(SILENCE["created"]),
            "comment": SILENCE["comment"],
            "createdBy": SILENCE["by"],
            "endsAt": iso_ms(SILENCE["ends"]),
            "matchers": matchers,
            "startsAt": iso_ms(SILENCE["created"]),
        }
    ]


def webhook_log() -> str:
    lines = []
    for status, received in WEBHOOK_RECEIVED.items():
        ends = "0001-01-01T00:00:00Z" if status == "firing" else go_time(ALERT_ENDS)
        alert = {
            "status": status,
            "labels": ALERT_LABELS,
            "annotations": ALERT_ANNOTATIONS,
            "startsAt": go_time(ALERT_STARTS),
            "endsAt": ends,
            "generatorURL": GENERATOR_URL,
            "fingerprint": fingerprint(ALERT_LABELS),
        }
        payload = {
            "receiver": "pagerduty-checkout",
            "status": status,
            "alerts": [alert],
            "groupLabels": {"alertname": "HighErrorRate"},
            "commonLabels": ALERT_LABELS,
            "commonAnnotations": ALERT_ANNOTATIONS,
            "externalURL": "http://alertmanager:9093",
            "version": "4",
            "groupKey": '{}:{alertname="HighErrorRate"}',
            "truncatedAlerts": 0,
        }
        wrapper = {"time": iso_ms(received), "payload": payload}
        lines.append(json.dumps(wrapper, separators=(",", ":")) + "\n")
    return "".join(lines)


# ---------------------------------------------------------------- PagerDuty

PD_API, PD_WEB = "https://api.pagerduty.com", "https://example.pagerduty.com"


def pd_id(rng: random.Random, first: str, length: int) -> str:
    chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    return first + "".join(rng.choice(chars) for _ in range(length - 1))


def pd_user() -> dict[str, Any]:
    uid, name = PD_USER
    return {
        "id": uid,
        "type": "user_reference",
        "summary": name,
        "self": f"{PD_API}/users/{uid}",
        "html_url": f"{PD_WEB}/users/{uid}",
    }


def pd_service(summary: str) -> dict[str, Any]:
    sid = PD_SERVICE[0]
    return {
        "id": sid,
        "type": "service_reference",
        "summary": summary,
        "self": f"{PD_API}/services/{sid}",
        "html_url": f"{PD_WEB}/service-directory/{sid}",
    }


def pd_log_entries(rng: random.Random) -> dict[str, Any]:
    iid, number, title = PD_INCIDENT
    incident = {
        "id": iid,
        "type": "incident_reference",
        "summary": f"[#{number}] {title}",
        "self": f"{PD_API}/incidents/{iid}",
        "html_url": f"{PD_WEB}/incidents/{iid}",
    }
    entries = []
    for clock, kind, summary in PD_LOG:
        lid = pd_id(rng, "R", 14)
        trigger = kind == "trigger_log_entry"
        by_service = kind in ("trigger_log_entry", "notify_log_entry")
        entry = {
            "id": lid,
            "type": kind,
            "summary": summary,
            "self": f"{PD_API}/log_entries/{lid}",
            "html_url": None,
            "created_at": iso_s(at(clock)),
            "agent": pd_service(f"{PD_SERVICE[1]} (Alertmanager)") if by_service else pd_user(),
            "channel": {"type": "api" if trigger else "website"},
        }
        if kind == "notify_log_entry":
            entry["channel"] = {"type": "sms"}
            entry["user"] = pd_user()
        entry |= {
            "service": pd_service(PD_SERVICE[1]),
            "incident": incident,
            "teams": [],
            "contexts": [],
        }
        entries.append(entry)
    return {"log_entries": entries, "limit": 100, "offset": 0, "more": False, "total": None}


def pd_notes(rng: random.Random) -> dict[str, Any]:
    notes = []
    for clock, content in PD_NOTES:
        stamp = iso_s(at(clock))
        notes.append(
            {
                "id": pd_id(rng, "P", 7),
                "user": pd_user(),
                "channel": {"summary": "The PagerDuty website"},
                "content": content,
                "created_at": stamp,
                "updated_at": stamp,
            }
        )
    return {"notes": notes}


# ---------------------------------------------------------------- assembly


def pretty(obj: Any, indent: int = 2, sort: bool = False) -> str:
    return json.dumps(obj, indent=indent, sort_keys=sort, ensure_ascii=False) + "\n"


def simulate(
    rng: random.Random, pods: dict[str, Pod], traps: Traps
) -> tuple[dict[tuple[str, str], list[Line]], dict[str, list[int]]]:
    """Every log line every pod wrote in the window, whether or not an export kept it."""
    streams, failures = {}, {}
    for pod in pods.values():
        old = pod.created < SINCE
        if old and not traps.keep_gone_logs:
            continue  # the v2.3.3 pods from the day before: deleted, their logs are gone
        run = replace(pod, started=SINCE - 30 * SEC) if old else pod  # only the window's part
        app, failures[pod.label] = app_stream(run, rng)
        streams[pod.name, "checkout-api"] = runtime_lines(app, pod.skew, rng)
        pgb = pgbouncer_stream(run, rng, traps.pgbouncer_offset)
        streams[pod.name, "pgbouncer"] = runtime_lines(pgb, pod.skew, rng)
        if old:
            for container in CONTAINERS:
                streams[pod.name, container] = [
                    x for x in streams[pod.name, container] if x[0] >= SINCE
                ]
    return streams, failures


def build(rng: random.Random, traps: Traps = PLANTED) -> dict[str, str]:
    pods = make_pods(rng, traps)
    streams, failures = simulate(rng, pods, traps)
    silence = silence_id(rng)
    ordered = list(pods.values())
    gone = traps.keep_gone_logs
    files = {
        "exports/checkout-logs-1420.txt": kubectl_logs(ordered, streams, SNAPSHOT, gone),
        "exports/checkout-logs-1530.txt": kubectl_logs(ordered, streams, EXPORT, gone),
        "exports/events.json": pretty(
            build_events(rng, pods, failures, traps.skew), indent=4, sort=True
        ),
        "exports/ci-deploy.log": CI_LOG,
        "exports/prometheus/error_ratio.json": matrix([({"service": APP}, error_ratio(rng))]),
        "exports/prometheus/alerts.json": matrix(alert_series()),
        "exports/prometheus/up.json": matrix(up_series(pods, traps.gap)),
        "exports/alertmanager/alerts.json": pretty(am_alerts(silence)),
        "exports/alertmanager/silences.json": pretty(am_silences(silence)),
        "exports/alertmanager/webhook.jsonl": webhook_log(),
        "exports/pagerduty/log_entries.json": pretty(pd_log_entries(rng)),
        "exports/pagerduty/notes.json": pretty(pd_notes(rng)),
    }
    clock, duration = node_scrapes(rng, traps.skew)
    files["exports/prometheus/node_time_seconds.json"] = matrix(clock)
    files["exports/prometheus/scrape_duration_seconds.json"] = matrix(duration)
    for metric in ("offset_seconds", "sync_status", "maxerror_seconds"):
        name = f"node_timex_{metric}"
        files[f"exports/prometheus/{name}.json"] = matrix(timex(rng, name, traps.skew))
    files["truth.json"] = pretty(truth(pods, streams, files, silence, traps), sort=True)
    return dict(sorted(files.items()))


# ---------------------------------------------------------------- truth


def find_line(text: str, needle: str) -> tuple[int, str]:
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            return number, line
    raise ValueError(f"{needle!r} not found")


def log_counts(text: str) -> dict[str, Any]:
    streams: dict[str, int] = {}
    served = failed = 0
    for line in text.splitlines():
        _, pod, container = line[1 : line.index("]")].split("/")
        key = f"{NS}/{pod}/{container}"
        streams[key] = streams.get(key, 0) + 1
        if 'msg="request served"' in line and line.split(" ")[1] >= iso_ns(FIRST_5XX):
            served += 1
            failed += " status=5" in line
    share = round(failed / served, 3) if served else 0.0
    return {
        "lines": len(text.splitlines()),
        "streams": streams,
        "requests_5xx": failed,
        "share_5xx_since_first": share,
    }


def pod_facts(pods: dict[str, Pod], files: dict[str, str]) -> list[dict[str, Any]]:
    facts = []
    for pod in pods.values():
        exports = [
            f
            for f in files
            if f.startswith("exports/checkout-logs") and f"[pod/{pod.name}/" in files[f]
        ]
        facts.append(
            {
                "name": pod.name,
                "replicaset": pod.rs,
                "version": pod.version,
                "node": pod.node,
                "ip": pod.ip,
                "created": iso_ms(pod.created),
                "started": iso_ms(pod.started),
                "deleted": iso_ms(pod.deleted) if pod.deleted else None,
                "log_exports": exports,
            }
        )
    return facts


def truth(
    pods: dict[str, Pod],
    streams: dict[tuple[str, str], list[Line]],
    files: dict[str, str],
    silence: str,
    traps: Traps,
) -> dict[str, Any]:
    logs = {f: log_counts(files[f]) for f in files if f.startswith("exports/checkout-logs")}
    return {
        "incident": {
            "title": "Checkout API 5xx after v2.3.4 deploy",
            "namespace": NS,
            "since": iso_s(SINCE),
            "until": iso_s(UNTIL),
        },
        "deploy": deploy_facts(),
        "root_cause": {
            "setting": "db_pool_size",
            "before": POOL_SIZE[GOOD],
            "after": POOL_SIZE[BAD],
            "bad_version": BAD,
            "good_version": GOOD,
        },
        "first_5xx": first_5xx_facts(pods, files),
        "first_pgbouncer_warning": {
            "pod": pods["N1"].name,
            "time": iso_ms(FIRST_PGB_WARNING),
            "local_time_as_logged": new_york(FIRST_PGB_WARNING, traps.pgbouncer_offset),
        },
        "errors_stop": iso_s(pods["N1"].deleted or 0),
        "error_ratio": {
            "threshold": 0.05,
            "first_above": "2026-02-17T14:11:15Z",
            "first_above_value": "0.073",
            "last_above": "2026-02-17T14:26:30Z",
            "first_below_again": "2026-02-17T14:26:45Z",
            "up_crossings": 1,
            "down_crossings": 1,
            "samples": len(steps()),
        },
        "alert": alert_facts(),
        "silence": {
            "id": silence,
            "created_by": SILENCE["by"],
            "starts_at": iso_ms(SILENCE["created"]),
            "ends_at": iso_ms(SILENCE["ends"]),
            "snapshot_at": iso_s(SNAPSHOT),
            "alert_state_in_snapshot": "suppressed",
        },
        "pagerduty": pagerduty_facts(),
        "deleted_pod": deleted_pod_facts(pods, files),
        "rollback": {
            "ci_start": "2026-02-17T14:22:40Z",
            "first_scale_up": "2026-02-17T14:22:41Z",
            "complete": "2026-02-17T14:25:10Z",
            "ci_finish": "2026-02-17T14:25:11Z",
            "pods": [p.name for p in pods.values() if p.label.startswith("R")],
        },
        "traps": trap_facts(pods, files) if traps is PLANTED else {},
        "pods": pod_facts(pods, files),
        "counts": {
            "events": files["exports/events.json"].count('"kind": "Event"'),
            "log_exports": logs,
            "log_lines_total": sum(c["lines"] for c in logs.values()),
            "simulated_lines_total": sum(len(s) for s in streams.values()),
            "ci_log_lines": len(CI_LOG.splitlines()),
        },
    }


def deploy_facts() -> dict[str, Any]:
    return {
        "pipeline": "checkout-api#1842",
        "actor": "ci-bot",
        "version": BAD,
        "previous_version": GOOD,
        "ci_start": "2026-02-17T14:02:05Z",
        "first_scale_up": "2026-02-17T14:02:10Z",
        "rollout_complete": "2026-02-17T14:04:40Z",
        "ci_finish": "2026-02-17T14:04:41Z",
        "old_replicaset": OLD_RS,
        "new_replicaset": NEW_RS,
    }


def first_5xx_facts(pods: dict[str, Pod], files: dict[str, str]) -> dict[str, Any]:
    name = "exports/checkout-logs-1420.txt"
    number, line = find_line(
        files[name], f'time={iso_ms(FIRST_5XX)} level=error msg="request served"'
    )
    return {
        "time": iso_ms(FIRST_5XX),
        "pod": pods["N1"].name,
        "node": "node-a",
        "container": "checkout-api",
        "status": 503,
        "file": name,
        "line": number,
        "runtime_timestamp": line.split(" ")[1],
    }


def alert_facts() -> dict[str, Any]:
    return {
        "name": "HighErrorRate",
        "fingerprint": fingerprint(ALERT_LABELS),
        "labels": ALERT_LABELS,
        "rule": "error_ratio > 0.05 for 2m, keep_firing_for 2m",
        "pending_first_sample": iso_s(ALERT["pending"][0]),
        "pending_last_sample": iso_s(ALERT["pending"][1]),
        "firing_first_sample": iso_s(ALERT["firing"][0]),
        "firing_last_sample": iso_s(ALERT["firing"][1]),
        "resolved": "2026-02-17T14:29:00Z",
        "starts_at": iso_ms(ALERT_STARTS),
        "ends_at": iso_ms(ALERT_ENDS),
        "webhook_firing_received": iso_ms(WEBHOOK_RECEIVED["firing"]),
        "webhook_resolved_received": iso_ms(WEBHOOK_RECEIVED["resolved"]),
    }


def pagerduty_facts() -> dict[str, Any]:
    times = {kind: iso_s(at(clock)) for clock, kind, _ in reversed(PD_LOG)}
    return {
        "incident_id": PD_INCIDENT[0],
        "incident_number": PD_INCIDENT[1],
        "triggered": times["trigger_log_entry"],
        "notified": times["notify_log_entry"],
        "acknowledged": times["acknowledge_log_entry"],
        "responder": PD_USER[1],
        "resolved": times["resolve_log_entry"],
        "notes": [{"time": iso_s(at(c)), "content": text} for c, text in PD_NOTES],
        "log_entries": len(PD_LOG),
    }


def deleted_pod_facts(pods: dict[str, Pod], files: dict[str, str]) -> dict[str, Any]:
    pod, new = pods[DELETED_BY_HAND], pods["N5"]
    return {
        "name": pod.name,
        "node": pod.node,
        "deleted_by": "alice.chen",
        "deleted_at": iso_s(pod.deleted or 0),
        "killing_event_timestamp": iso_s((pod.deleted or 0) + pod.skew),
        "replacement": new.name,
        "replacement_created": iso_s(new.created),
        "in_log_exports": any(pod.name in files[f] for f in files if "checkout-logs" in f),
        "in_events": pod.name in files["exports/events.json"],
    }


def trap_facts(pods: dict[str, Pod], files: dict[str, str]) -> dict[str, Any]:
    late = {
        f: sum(1 for line in files[f].splitlines() if line.split(" ")[1] > iso_ns(cut))
        for f, cut in (
            ("exports/checkout-logs-1420.txt", SNAPSHOT),
            ("exports/checkout-logs-1530.txt", EXPORT),
        )
    }
    gap_pod = pods[GAP_POD]
    return {
        "clock_skew": {
            "node": "node-b",
            "offset_seconds": SKEW["node-b"] / SEC,
            "node_a_offset_seconds": 0.0,
            "evidence": {
                "direct": "exports/prometheus/node_time_seconds.json (node-b value − sample "
                "time ≈ +2.4 s; scrape_duration_seconds.json bounds the latency)",
                "kernel": "node_timex_offset_seconds ≈ 0 (nothing pending), "
                "node_timex_sync_status 0, node_timex_maxerror_seconds 16",
                "events": "node-b kubelet events: firstTimestamp ≈ creationTimestamp + 2 s",
            },
            "affects": [
                "kubectl runtime timestamps of node-b pods",
                "app time= and pgbouncer times of node-b pods",
                "firstTimestamp/lastTimestamp/name of node-b kubelet events",
            ],
            "lines_stamped_after_export_time": late,
        },
        "pgbouncer_timezone": {
            "zone": "America/New_York",
            "utc_offset": "-05:00",
            "naive": True,
            "containers": "pgbouncer (all pods)",
        },
        "scrape_gap": {
            "pod": gap_pod.name,
            "instance": f"{gap_pod.ip}:8080",
            "node": gap_pod.node,
            "start": iso_s(GAP[0]),
            "end": iso_s(GAP[1]),
            "end_exclusive": True,
            "missing_samples": (GAP[1] - GAP[0]) // STEP,
            "file": "exports/prometheus/up.json",
        },
        "deleted_pod": pods[DELETED_BY_HAND].name,
        "deleted_pods_without_logs": [
            p.name for p in pods.values() if p.label[0] == "O" or p.label == DELETED_BY_HAND
        ],
        "ci_lines_before_window": sum(
            1 for line in CI_LOG.splitlines() if line[:20] < iso_s(SINCE)
        ),
        "multiline_panic": {
            "pod": pods["N2"].name,
            "time": iso_ms(PANIC_AT + SKEW["node-b"]),
            "true_time": iso_ms(PANIC_AT),
            "raw_lines": len(PANIC_LINES),
        },
    }


# ---------------------------------------------------------------- main


def write(files: dict[str, str], root: Path) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode("utf-8"))


def check(files: dict[str, str]) -> list[str]:
    """Regenerate into a temporary folder and list files that differ from OUT."""
    problems = []
    with tempfile.TemporaryDirectory() as tmp:
        write(files, Path(tmp))
        for rel in files:
            fresh, kept = Path(tmp) / rel, OUT / rel
            if not kept.exists():
                problems.append(f"missing: {rel}")
            elif kept.read_bytes() != fresh.read_bytes():
                problems.append(f"differs: {rel}")
    exports = OUT / "exports"
    extra = (p.relative_to(OUT).as_posix() for p in exports.rglob("*") if p.is_file())
    problems += [f"not generated: {rel}" for rel in sorted(extra) if rel not in files]
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="compare a fresh generation with the committed files"
    )
    parser.add_argument(
        "--clean",
        metavar="DIR",
        type=Path,
        help="write the same story without the planted traps into DIR",
    )
    args = parser.parse_args(argv)
    if args.clean is not None:
        write(build(random.Random(SEED), CLEAN), args.clean)
        print(f"wrote the clean variant under {args.clean}")
        return 0
    files = build(random.Random(SEED))
    if args.check:
        problems = check(files)
        for problem in problems:
            print(problem)
        print("example is up to date" if not problems else f"{len(problems)} file(s) differ")
        return 1 if problems else 0
    write(files, OUT)
    print(f"wrote {len(files)} files under {OUT.name}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())

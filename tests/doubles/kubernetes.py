"""A Kubernetes API double: an HTTP(S) server on loopback with the semantics the collector and
kubectl rely on, reached through a real kubeconfig file.

What it serves, as kube-apiserver does (``kubernetes/kubernetes`` and ``kubernetes/apimachinery``
are cited where a rule comes from):

- discovery: ``/version``, ``/api``, ``/api/v1``, ``/apis``, ``/apis/apps/v1``,
  ``/apis/events.k8s.io/v1``;
- lists (all namespaces or one) and gets of pods, core/v1 events, events.k8s.io/v1 events,
  Deployments, ReplicaSets, StatefulSets, DaemonSets and ControllerRevisions, with
  ``labelSelector`` and ``fieldSelector`` (equality and set-based, as
  ``apimachinery:pkg/labels/selector.go``) and ``limit``/``continue`` chunking; a continue
  token older than ``continue_ttl`` (or one of the next ``expire_continues``) answers 410
  ``Expired``, as etcd compaction makes the real one do;
- ``pods/{name}/log`` with ``container``, ``previous``, ``sinceTime``, ``sinceSeconds``,
  ``timestamps`` (RFC3339NanoFixed prefix, ``pkg/kubelet/types/constants.go``), ``tailLines``,
  ``limitBytes`` (a byte cut, possibly mid-line, as the kubelet's LimitWriter), streamed with
  chunked transfer encoding;
- errors as ``Status`` objects (``kind: Status``, ``code``, ``reason``, ``message``), RBAC's
  403 message (``staging/src/k8s.io/apiserver/pkg/endpoints/handlers/responsewriters/errors.go``),
  429 with ``Retry-After``, 401 when a bearer token is required and missing.

Every JSON body is checked against the official OpenAPI document by the tests
(``tests/collector/test_kubernetes_double.py``), and real kubectl is run against it.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import hashlib
import json
import re
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

# A log line: nanoseconds since the epoch (the runtime's clock) and the text the app wrote.
LogLine = tuple[int, str]


@dataclasses.dataclass(frozen=True)
class Rendered:
    """A log already rendered with the kubelet's timestamps (for big benches: one shared
    body, served by slicing). ``starts`` are the byte offsets of its lines."""

    data: bytes
    starts: tuple[int, ...]

    @classmethod
    def of(cls, lines: Iterable[LogLine]) -> Rendered:
        """Render ``lines`` with RFC3339NanoFixed stamps."""
        body = b"".join(f"{rfc3339(ns)} {text}\n".encode() for ns, text in lines)
        starts, at = [], 0
        while at < len(body):
            starts.append(at)
            at = body.index(b"\n", at) + 1
        return cls(body, tuple(starts))

    def since(self, ns: int | None) -> memoryview:
        """The body from the first line at or after ``ns`` (inclusive, as the kubelet)."""
        if ns is None:
            return memoryview(self.data)
        key = rfc3339(ns).encode()
        lo, hi = 0, len(self.starts)
        while lo < hi:
            mid = (lo + hi) // 2
            if self.data[self.starts[mid] : self.starts[mid] + 30] < key:
                lo = mid + 1
            else:
                hi = mid
        return memoryview(self.data)[self.starts[lo] if lo < len(self.starts) else len(self.data) :]


LogSource = list[LogLine] | Callable[[], Iterable[LogLine]] | Rendered

RESOURCES: dict[str, tuple[str, str, str]] = {
    # plural -> (group/version path, kind, list kind)
    "pods": ("api/v1", "Pod", "PodList"),
    "events": ("api/v1", "Event", "EventList"),
    "events.k8s.io": ("apis/events.k8s.io/v1", "Event", "EventList"),
    "deployments": ("apis/apps/v1", "Deployment", "DeploymentList"),
    "replicasets": ("apis/apps/v1", "ReplicaSet", "ReplicaSetList"),
    "statefulsets": ("apis/apps/v1", "StatefulSet", "StatefulSetList"),
    "daemonsets": ("apis/apps/v1", "DaemonSet", "DaemonSetList"),
    "controllerrevisions": ("apis/apps/v1", "ControllerRevision", "ControllerRevisionList"),
}
EXPIRED_MESSAGE = (
    "The provided continue parameter is too old to display a consistent list result. You can "
    "start a new list without the continue parameter, or use the continue token in this "
    "response to retrieve the remainder of the results."
)  # apiserver storage/errors: NewResourceExpired for a compacted continue token


def rfc3339(ns: int) -> str:
    """``RFC3339NanoFixed`` (``2006-01-02T15:04:05.000000000Z``), the kubelet's prefix."""
    seconds, frac = divmod(ns, 1_000_000_000)
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{frac:09d}Z"


def iso(when: datetime) -> str:
    """metav1.Time: RFC 3339, seconds precision."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def ns_of(when: datetime) -> int:
    """Nanoseconds since the epoch of an aware datetime."""
    return round(when.timestamp() * 1_000_000) * 1000


@dataclasses.dataclass
class Cluster:
    """What the double holds. Objects are plain JSON dicts; tests build them (see `pod`)."""

    objects: dict[str, list[dict[str, Any]]] = dataclasses.field(
        default_factory=lambda: {name: [] for name in RESOURCES}
    )
    # (namespace, pod, container, previous) -> lines
    logs: dict[tuple[str, str, str, bool], LogSource] = dataclasses.field(default_factory=dict)
    token: str | None = None
    user: str = "system:serviceaccount:incident:collector"
    # (verb, resource, namespace or "") that RBAC refuses
    forbidden: set[tuple[str, str, str]] = dataclasses.field(default_factory=set)
    # path regex -> [answers left, Retry-After seconds]: 429s before the real answer
    throttle: dict[str, list[int]] = dataclasses.field(default_factory=dict)
    expire_continues: int = 0
    continue_ttl: float = 300.0
    # pods whose log requests answer 404 (deleted while being collected)
    vanished: set[tuple[str, str]] = dataclasses.field(default_factory=set)
    log_chunk: int = 64 * 1024
    # pods whose log streams send a line every ``trickle_every`` seconds and never end (a
    # stuck kubelet behind the API server); paths (regex) answered only after ``released``
    trickle: set[tuple[str, str]] = dataclasses.field(default_factory=set)
    trickle_every: float = 0.5
    stall: set[str] = dataclasses.field(default_factory=set)
    released: threading.Event = dataclasses.field(default_factory=threading.Event)
    requests: list[tuple[float, str, str]] = dataclasses.field(default_factory=list)
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)

    def add(self, resource: str, *items: dict[str, Any]) -> None:
        """Store objects under ``resource`` (a key of RESOURCES)."""
        self.objects[resource].extend(items)

    def seen(self, pattern: str) -> list[tuple[float, str, str]]:
        """Requests (time, path, query) whose path matches ``pattern``."""
        return [r for r in self.requests if re.search(pattern, r[1])]


class Handler(BaseHTTPRequestHandler):
    """One request; the cluster is the server's."""

    server: DoubleServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        cluster = self.server.cluster
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        with cluster.lock:
            cluster.requests.append((time.monotonic(), parts.path, parts.query))
        if cluster.token and bearer(self.headers.get("Authorization")) != cluster.token:
            return self.status(401, "Unauthorized", "Unauthorized")
        if any(re.search(pattern, parts.path) for pattern in cluster.stall):
            cluster.released.wait()  # a stuck server: nothing until the test lets go
        for pattern, left in cluster.throttle.items():
            if left[0] > 0 and re.search(pattern, parts.path):
                left[0] -= 1
                return self.status(
                    429,
                    "TooManyRequests",
                    "Too many requests, please try again later.",
                    headers={"Retry-After": str(left[1])},
                    details={"retryAfterSeconds": left[1]},
                )
        with contextlib.suppress(BrokenPipeError):
            self.route(parts.path.rstrip("/") or "/", query)

    def route(self, path: str, query: dict[str, str]) -> None:
        discovery = self.server.discovery()
        if path in discovery:
            return self.json(200, discovery[path])
        match = re.fullmatch(
            r"/(api/v1|apis/apps/v1|apis/events\.k8s\.io/v1)"
            r"(?:/namespaces/(?P<ns>[^/]+))?/(?P<res>[a-z]+)(?:/(?P<name>[^/]+))?(?P<log>/log)?",
            path,
        )
        if not match:
            return self.status(404, "NotFound", "the server could not find the requested resource")
        group = match.group(1)
        resource = "events.k8s.io" if group.startswith("apis/events") else match["res"]
        if resource not in RESOURCES or RESOURCES[resource][0] != group:
            return self.status(404, "NotFound", "the server could not find the requested resource")
        ns, name = match["ns"], match["name"]
        plural = match["res"]
        if match["log"]:
            if not self.allowed("get", "pods/log", ns or ""):
                return None
            return self.log(ns or "", name or "", query)
        verb = "get" if name else "list"
        if not self.allowed(verb, plural, ns or "", name):
            return None
        if name:
            return self.get(resource, plural, ns, name)
        return self.list(resource, ns, query)

    def allowed(self, verb: str, resource: str, ns: str, name: str | None = None) -> bool:
        cluster = self.server.cluster
        if (verb, resource, ns) not in cluster.forbidden and (
            verb,
            resource,
            "",
        ) not in cluster.forbidden:
            return True
        group = 'API group ""' if "." not in resource and resource not in APPS else ""
        group = group or 'API group "apps"'
        what = f'{resource.split("/")[0]} "{name}"' if name else resource
        scope = f'in the namespace "{ns}"' if ns else "at the cluster scope"
        self.status(
            403,
            "Forbidden",
            f'{what} is forbidden: User "{cluster.user}" cannot {verb} resource '
            f'"{resource}" in {group} {scope}',
            details={"kind": resource, **({"name": name} if name else {})},
        )
        return False

    def get(self, resource: str, plural: str, ns: str | None, name: str) -> None:
        for item in self.server.cluster.objects[resource]:
            meta = item["metadata"]
            if meta["name"] == name and (ns is None or meta.get("namespace") == ns):
                return self.json(200, self.typed(resource, item))
        self.status(
            404, "NotFound", f'{plural} "{name}" not found', details={"name": name, "kind": plural}
        )

    def typed(self, resource: str, item: dict[str, Any]) -> dict[str, Any]:
        group, kind, _ = RESOURCES[resource]
        version = group.removeprefix("api/").removeprefix("apis/")
        return {"apiVersion": version, "kind": kind, **item}

    def list(self, resource: str, ns: str | None, query: dict[str, str]) -> None:
        cluster = self.server.cluster
        items = [
            i
            for i in cluster.objects[resource]
            if ns is None or i["metadata"].get("namespace") == ns
        ]
        try:
            items = [
                i
                for i in items
                if labels_match(query.get("labelSelector", ""), i["metadata"].get("labels") or {})
                and fields_match(query.get("fieldSelector", ""), i)
            ]
        except ValueError as exc:
            return self.status(400, "BadRequest", str(exc))
        start = 0
        token = query.get("continue")
        if token:
            try:
                state = json.loads(base64.urlsafe_b64decode(token))
            except ValueError:
                return self.status(400, "BadRequest", "continue key is not valid")
            expired = time.monotonic() - state["issued"] > cluster.continue_ttl
            with cluster.lock:
                if cluster.expire_continues > 0:
                    cluster.expire_continues -= 1
                    expired = True
            if expired:
                return self.status(410, "Expired", EXPIRED_MESSAGE)
            start = state["start"]
        limit = int(query.get("limit") or 0)
        page = items[start : start + limit] if limit else items[start:]
        meta: dict[str, Any] = {"resourceVersion": str(self.server.resource_version)}
        if limit and start + limit < len(items):
            meta["continue"] = base64.urlsafe_b64encode(
                json.dumps({"start": start + limit, "issued": time.monotonic()}).encode()
            ).decode()
            meta["remainingItemCount"] = len(items) - start - limit
        group, _, list_kind = RESOURCES[resource]
        self.json(
            200,
            {
                "apiVersion": group.removeprefix("api/").removeprefix("apis/"),
                "kind": list_kind,
                "metadata": meta,
                "items": page,  # list items carry no kind/apiVersion, as the real server's
            },
        )

    def log(self, ns: str, name: str, query: dict[str, str]) -> None:
        cluster = self.server.cluster
        pod = next(
            (
                p
                for p in cluster.objects["pods"]
                if p["metadata"]["name"] == name and p["metadata"]["namespace"] == ns
            ),
            None,
        )
        if pod is None or (ns, name) in cluster.vanished:
            return self.status(
                404, "NotFound", f'pods "{name}" not found', details={"name": name, "kind": "pods"}
            )
        names = [c["name"] for key in CONTAINER_KEYS for c in pod["spec"].get(key) or []]
        container = query.get("container") or (names[0] if len(names) == 1 else "")
        if not container:
            return self.status(
                400,
                "BadRequest",
                f"a container name must be specified for pod {name}, choose one of: "
                f"[{' '.join(names)}]",
            )
        if container not in names:
            return self.status(
                400, "BadRequest", f"container {container} is not valid for pod {name}"
            )
        previous = truthy(query.get("previous"))
        source = cluster.logs.get((ns, name, container, previous))
        if source is None and previous:
            return self.status(
                400,
                "BadRequest",
                f'previous terminated container "{container}" in pod "{name}" not found',
            )
        if (ns, name) in cluster.trickle:
            return self.stream_trickle(source, query)
        if isinstance(source, Rendered) and truthy(query.get("timestamps")):
            return self.stream_rendered(source, query)
        if isinstance(source, Rendered):
            raise NotImplementedError("a Rendered log is served with timestamps=true only")
        lines = source() if callable(source) else (source or [])
        self.stream_log(lines, query)

    def stream_rendered(self, source: Rendered, query: dict[str, str]) -> None:
        since = None
        if query.get("sinceTime"):
            since = ns_of(datetime.fromisoformat(query["sinceTime"].replace("Z", "+00:00")))
        body = source.since(since)
        if query.get("limitBytes"):
            body = body[: int(query["limitBytes"])]
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        size = self.server.cluster.log_chunk
        for at in range(0, len(body), size):
            block = body[at : at + size]
            self.wfile.write(f"{len(block):x}\r\n".encode() + block + b"\r\n")
        self.wfile.write(b"0\r\n\r\n")

    def stream_trickle(self, source: LogSource | None, query: dict[str, str]) -> None:
        """The log's lines, one every ``trickle_every`` seconds, until the test lets go."""
        lines = source() if callable(source) else source
        assert isinstance(lines, list), "a trickled log is a list of lines"
        stamps = truthy(query.get("timestamps"))
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for ns, text in lines:
            block = (((rfc3339(ns) + " ") if stamps else "") + text + "\n").encode()
            self.wfile.write(f"{len(block):x}\r\n".encode() + block + b"\r\n")
            self.wfile.flush()
            if self.server.cluster.released.wait(self.server.cluster.trickle_every):
                return

    def stream_log(self, lines: Iterable[LogLine], query: dict[str, str]) -> None:
        since = None
        if query.get("sinceTime"):
            try:
                since = ns_of(datetime.fromisoformat(query["sinceTime"].replace("Z", "+00:00")))
            except ValueError:
                return self.status(400, "BadRequest", f"invalid sinceTime {query['sinceTime']!r}")
        if query.get("sinceSeconds"):
            cut = ns_of(datetime.now(UTC) - timedelta(seconds=int(query["sinceSeconds"])))
            since = cut if since is None else max(since, cut)  # the later wins (logs.go)
        stamps = truthy(query.get("timestamps"))
        limit = int(query["limitBytes"]) if query.get("limitBytes") else None
        selected: Iterable[LogLine] = lines
        if since is not None:
            selected = (line for line in lines if line[0] >= since)  # inclusive, as the kubelet
        if query.get("tailLines"):
            selected = list(selected)[-int(query["tailLines"]) :]
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for block in blocks(selected, stamps, limit, self.server.cluster.log_chunk):
            self.wfile.write(f"{len(block):x}\r\n".encode() + block + b"\r\n")
        self.wfile.write(b"0\r\n\r\n")

    def json(self, code: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def status(
        self,
        code: int,
        reason: str,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": message,
            "reason": reason,
            "code": code,
        }
        if details:
            body["details"] = details
        self.json(code, body, headers)


SHORT = {  # kube-apiserver's short names (kubectl get deploy,rs,sts)
    "pods": ["po"],
    "events": ["ev"],
    "deployments": ["deploy"],
    "replicasets": ["rs"],
    "statefulsets": ["sts"],
    "daemonsets": ["ds"],
}
APPS = ("deployments", "replicasets", "statefulsets", "daemonsets", "controllerrevisions")
CONTAINER_KEYS = ("initContainers", "containers", "ephemeralContainers")


def bearer(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header: the scheme in any case, as
    kube-apiserver's ``staging/src/k8s.io/apiserver/pkg/authentication/request/bearertoken/
    bearertoken.go`` (``strings.ToLower(parts[0]) != "bearer"``); client-go's in-cluster config
    and the Python client's send ``bearer`` in lower case."""
    parts = (header or "").strip().split(" ")
    if len(parts) < 2 or parts[0].lower() != "bearer" or not parts[1]:
        return None
    return parts[1]


def truthy(value: str | None) -> bool:
    """A query boolean: anything but "", "0" and "false" is true (apimachinery conversion.go)."""
    return value is not None and value.lower() not in ("", "0", "false")


def blocks(lines: Iterable[LogLine], stamps: bool, limit: int | None, size: int) -> Iterator[bytes]:
    """The log body in blocks of about ``size`` bytes, cut at ``limit`` bytes in total."""
    buffer: list[bytes] = []
    held = sent = 0
    for ns, text in lines:
        data = ((rfc3339(ns) + " ") if stamps else "").encode() + text.encode() + b"\n"
        if limit is not None and sent + held + len(data) >= limit:
            buffer.append(data[: limit - sent - held])
            yield b"".join(buffer)
            return
        buffer.append(data)
        held += len(data)
        if held >= size:
            yield b"".join(buffer)
            sent += held
            buffer, held = [], 0
    if buffer:
        yield b"".join(buffer)


_SET = re.compile(r"^(?P<key>[^\s!=]+)\s+(?P<op>in|notin)\s+\((?P<values>[^)]*)\)$")


def _split(selector: str) -> list[str]:
    """Split on commas outside parentheses."""
    parts, depth, current = [], 0, ""
    for char in selector:
        depth += (char == "(") - (char == ")")
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    return [p.strip() for p in [*parts, current] if p.strip()]


def labels_match(selector: str, labels: dict[str, str]) -> bool:
    """A label selector: ``a=b``, ``a==b``, ``a!=b``, ``a``, ``!a``, ``a in (x,y)``, ``notin``."""
    for term in _split(selector):
        found = _SET.match(term)
        if found:
            values = {v.strip() for v in found["values"].split(",")}
            has = labels.get(found["key"]) in values
            if has != (found["op"] == "in"):
                return False
        elif "!=" in term:
            key, value = term.split("!=", 1)
            if labels.get(key.strip()) == value.strip():
                return False
        elif "=" in term:
            key, value = re.split("==?", term, maxsplit=1)
            if labels.get(key.strip()) != value.strip():
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif re.fullmatch(r"[A-Za-z0-9._/-]+", term):
            if term not in labels:
                return False
        else:
            raise ValueError(f"unable to parse requirement: {term!r}")
    return True


def fields_match(selector: str, item: dict[str, Any]) -> bool:
    """A field selector: dotted paths with ``=``, ``==`` or ``!=`` (no set operators)."""
    for term in _split(selector):
        negate = "!=" in term
        key, value = re.split("!=|==?", term, maxsplit=1) if "=" in term else (term, None)
        if value is None:
            raise ValueError(f"invalid selector: {term!r}; can't understand {term!r}")
        node: Any = item
        for part in key.strip().split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if (str(node if node is not None else "") == value.strip()) == negate:
            return False
    return True


class DoubleServer(ThreadingHTTPServer):
    """The server: a `Cluster` and the discovery documents."""

    daemon_threads = True

    def __init__(self, cluster: Cluster) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.cluster = cluster
        self.resource_version = 4242
        self.scheme = "http"

    @property
    def url(self) -> str:
        """The base URL."""
        return f"{self.scheme}://127.0.0.1:{self.server_address[1]}"

    def discovery(self) -> dict[str, Any]:
        """Discovery documents by path (APIVersions, APIResourceList, APIGroupList, Info)."""
        address = f"127.0.0.1:{self.server_address[1]}"

        def resources(gv: str, names: Iterable[tuple[str, str, bool]]) -> dict[str, Any]:
            return {
                "kind": "APIResourceList",
                "apiVersion": "v1",
                "groupVersion": gv,
                "resources": [
                    {
                        "name": name,
                        "singularName": "" if "/" in name else name.rstrip("s"),
                        "namespaced": True,
                        "kind": kind,
                        "verbs": ["get"] if "/" in name else ["get", "list"],
                        **({"shortNames": SHORT[name]} if name in SHORT else {}),
                    }
                    for name, kind, _ in names
                ],
            }

        group = {
            "apps": "v1",
            "events.k8s.io": "v1",
        }
        return {
            "/version": {
                "major": "1",
                "minor": "32",
                "gitVersion": "v1.32.4",
                "gitCommit": "59526cd4867447956156ae3a602fcbac10a2c335",
                "gitTreeState": "clean",
                "buildDate": "2025-04-22T16:02:27Z",
                "goVersion": "go1.23.6",
                "compiler": "gc",
                "platform": "linux/amd64",
            },
            "/api": {
                "kind": "APIVersions",
                "versions": ["v1"],
                "serverAddressByClientCIDRs": [
                    {"clientCIDR": "0.0.0.0/0", "serverAddress": address}
                ],
            },
            "/apis": {
                "kind": "APIGroupList",
                "apiVersion": "v1",
                "groups": [
                    {
                        "name": name,
                        "versions": [{"groupVersion": f"{name}/{v}", "version": v}],
                        "preferredVersion": {"groupVersion": f"{name}/{v}", "version": v},
                    }
                    for name, v in group.items()
                ],
            },
            "/api/v1": resources(
                "v1",
                [("pods", "Pod", True), ("pods/log", "Pod", True), ("events", "Event", True)],
            ),
            "/apis/apps/v1": resources(
                "apps/v1",
                [
                    ("deployments", "Deployment", True),
                    ("replicasets", "ReplicaSet", True),
                    ("statefulsets", "StatefulSet", True),
                    ("daemonsets", "DaemonSet", True),
                    ("controllerrevisions", "ControllerRevision", True),
                ],
            ),
            "/apis/events.k8s.io/v1": resources("events.k8s.io/v1", [("events", "Event", True)]),
        }


@dataclasses.dataclass
class Running:
    """A started double: its server, thread and URL."""

    server: DoubleServer
    thread: threading.Thread
    ca_file: Path | None = None

    @property
    def url(self) -> str:
        """The base URL (http or https)."""
        return self.server.url

    @property
    def cluster(self) -> Cluster:
        """The served cluster (tests change it between runs)."""
        return self.server.cluster

    def stop(self) -> None:
        """Stop serving (letting stalled and trickling answers end) and close the socket."""
        self.server.cluster.released.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    def kubeconfig(
        self,
        path: Path,
        *,
        context: str = "double",
        namespace: str | None = None,
        token: str | None = None,
        user: dict[str, Any] | None = None,
    ) -> Path:
        """Write a kubeconfig for this server (cluster, user with a bearer token or the
        ``user`` entry given, e.g. ``{"exec": {...}}``, context)."""
        cluster: dict[str, Any] = {"server": self.url}
        if self.ca_file is not None:
            cluster["certificate-authority"] = str(self.ca_file)
        ctx: dict[str, Any] = {"cluster": context, "user": context}
        if namespace:
            ctx["namespace"] = namespace
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": context, "cluster": cluster}],
            "users": [{"name": context, "user": user or {"token": token or "double-token"}}],
            "contexts": [{"name": context, "context": ctx}],
            "current-context": context,
        }
        path.write_text(json.dumps(config, indent=1))
        return path


def serve(cluster: Cluster, *, tls_dir: Path | None = None, client_certs: bool = False) -> Running:
    """Start the double on a free loopback port (HTTPS with a fresh CA when ``tls_dir``; with
    ``client_certs``, only clients presenting a certificate that CA signed get in, as
    kube-apiserver's ``--client-ca-file``: see `client_cert`)."""
    server = DoubleServer(cluster)
    ca = None
    if tls_dir is not None:
        ca, cert, key = make_certs(tls_dir)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        if client_certs:
            context.verify_mode = ssl.CERT_REQUIRED
            context.load_verify_locations(cafile=str(ca))
        server.socket = context.wrap_socket(server.socket, server_side=True)
        server.scheme = "https"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    return Running(server, thread, ca)


def make_certs(folder: Path) -> tuple[Path, Path, Path]:
    """A self-signed CA and a server certificate for 127.0.0.1 (openssl); their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    ca_key, ca, key, csr, cert = (
        folder / n for n in ("ca.key", "ca.crt", "server.key", "server.csr", "server.crt")
    )
    ext = folder / "ext.cnf"
    ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    steps = [
        [
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            ca_key,
            "-out",
            ca,
            "-days",
            "2",
            "-subj",
            "/CN=double-ca",
        ],
        [
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            key,
            "-out",
            csr,
            "-subj",
            "/CN=127.0.0.1",
        ],
        [
            "x509",
            "-req",
            "-in",
            csr,
            "-CA",
            ca,
            "-CAkey",
            ca_key,
            "-CAcreateserial",
            "-out",
            cert,
            "-days",
            "2",
            "-extfile",
            ext,
        ],
    ]
    for step in steps:
        subprocess.run(["openssl", *map(str, step)], check=True, capture_output=True)
    return ca, cert, key


def client_cert(folder: Path, user: str) -> tuple[Path, Path]:
    """A client certificate for ``user`` (CN, as the API server reads the user name) signed by
    the CA `make_certs` made in ``folder``; its certificate and key paths."""
    key, csr, cert = (folder / f"{user}.{n}" for n in ("key", "csr", "crt"))
    steps = [
        ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr,
         "-subj", f"/CN={user}"],
        ["x509", "-req", "-in", csr, "-CA", folder / "ca.crt", "-CAkey", folder / "ca.key",
         "-CAcreateserial", "-out", cert, "-days", "2"],
    ]  # fmt: skip
    for step in steps:
        subprocess.run(["openssl", *map(str, step)], check=True, capture_output=True)
    return cert, key


# ------------------------------------------------------------------ object builders for tests


def uid(ns: str, name: str) -> str:
    """A stable uid for an object (the same in every process)."""
    digest = hashlib.sha256(f"{ns}/{name}".encode()).hexdigest()
    return f"{digest[:8]}-{digest[8:12]}-4{digest[13:16]}-8{digest[17:20]}-{digest[20:32]}"


def meta(name: str, ns: str, created: datetime, **extra: Any) -> dict[str, Any]:
    """ObjectMeta with a stable uid."""
    return {
        "name": name,
        "namespace": ns,
        "uid": uid(ns, name),
        "resourceVersion": "1",
        "creationTimestamp": iso(created),
        **extra,
    }


def container_status(
    name: str,
    image: str,
    started: datetime,
    *,
    restarts: int = 0,
    last: dict[str, Any] | None = None,
    ready: bool = True,
) -> dict[str, Any]:
    """A running container's status, with its last termination if any."""
    status: dict[str, Any] = {
        "name": name,
        "image": image,
        "imageID": f"{image.split(':')[0]}@sha256:{'ab' * 32}",
        "containerID": "containerd://" + hashlib.sha256(f"{name}{image}".encode()).hexdigest(),
        "ready": ready,
        "started": ready,
        "restartCount": restarts,
        "state": {"running": {"startedAt": iso(started)}},
        "lastState": {"terminated": last} if last else {},
    }
    return status


def terminated(
    reason: str, code: int, started: datetime, finished: datetime, **extra: Any
) -> dict[str, Any]:
    """ContainerStateTerminated."""
    return {
        "exitCode": code,
        "reason": reason,
        "startedAt": iso(started),
        "finishedAt": iso(finished),
        **extra,
    }


def pod(
    name: str,
    ns: str,
    node: str,
    created: datetime,
    containers: list[tuple[str, str]],
    *,
    labels: dict[str, str] | None = None,
    statuses: list[dict[str, Any]] | None = None,
    init: list[tuple[str, str]] = (),  # type: ignore[assignment]
    init_statuses: list[dict[str, Any]] | None = None,
    owner: dict[str, Any] | None = None,
    phase: str = "Running",
) -> dict[str, Any]:
    """A Pod object: spec with containers (name, image), status with container statuses."""
    extra: dict[str, Any] = {"labels": labels or {}}
    if owner:
        extra["ownerReferences"] = [owner]
    spec: dict[str, Any] = {
        "nodeName": node,
        "containers": [{"name": c, "image": i} for c, i in containers],
    }
    if init:
        spec["initContainers"] = [{"name": c, "image": i} for c, i in init]
    status: dict[str, Any] = {
        "phase": phase,
        "hostIP": "10.0.0.7",
        "podIP": "10.244.1.9",
        "startTime": iso(created),
        "containerStatuses": statuses or [container_status(c, i, created) for c, i in containers],
    }
    if init:
        status["initContainerStatuses"] = init_statuses or []
    return {"metadata": meta(name, ns, created, **extra), "spec": spec, "status": status}


def owner_ref(kind: str, name: str, uid: str) -> dict[str, Any]:
    """An ownerReference to a controller."""
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "name": name,
        "uid": uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def template(labels: dict[str, str], images: list[tuple[str, str]]) -> dict[str, Any]:
    """A PodTemplateSpec."""
    return {
        "metadata": {"labels": labels},
        "spec": {"containers": [{"name": c, "image": i} for c, i in images]},
    }

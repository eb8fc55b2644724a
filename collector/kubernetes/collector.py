"""The ``kubernetes`` collector: every container's logs for the window (previous instances,
init containers, sidecars and ephemeral containers included), events from both event APIs,
rollouts and pod lives, through the user's kubeconfig.

In ``raw/kubernetes/``: ``version.json``; ``pods/<ns>.<page>.json``, ``events/<ns>.<page>.json``
(core/v1), ``events.k8s.io/<ns>.<page>.json``, ``apps/<resource>/<ns>.<page>.json`` (``_all``
for all namespaces); ``logs/<ns>/<pod>/<container>[.previous].log.gz``, each log as streamed.

Gentle on the API server: lists and gets share a client-side token bucket (``qps``/``burst``),
log streams are at most ``max_log_requests`` at a time. A pod whose log cannot be read makes the
source ``partial`` (each named in the manifest's warnings); a pod that vanished (404) or ended
before collection becomes a ``gap`` event; nothing readable at all fails the source. Every
request ends by the source's deadline (``SourceWriter.deadline``, from its ``budget``): a
stuck API server or a trickling log stream ends the source with "gave up after N s".

Logs are fetched ``max_log_requests`` at a time while the collector's thread reads back each
stored log, in plan order, and two worker threads parse it (`kubernetes.logbatch`).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd
import pyarrow as pa

from incident_timeline.collector.bundle import SourceWriter
from incident_timeline.collector.errors import DeadlineError, SourceError
from incident_timeline.collector.formats import Context
from incident_timeline.collector.http import RetryPolicy
from incident_timeline.collector.kubernetes import events as ev
from incident_timeline.collector.kubernetes import logs as logstream
from incident_timeline.collector.kubernetes.client import (
    KubeAPI,
    KubeAPIError,
    RateLimiter,
)
from incident_timeline.collector.kubernetes.kubeconfig import load_client
from incident_timeline.collector.kubernetes.listing import Listed, list_all
from incident_timeline.collector.kubernetes.logbatch import Batch
from incident_timeline.collector.kubernetes.pods import LogPlan, log_plans, pod_rows
from incident_timeline.collector.kubernetes.progress import Progress
from incident_timeline.collector.kubernetes.rollouts import rollout_rows
from incident_timeline.collector.kubernetes.rows import rows_frame
from incident_timeline.collector.kubernetes.scope import Scope, gone_pods
from incident_timeline.collector.kubernetes.settings import KubernetesSettings, settings_from_table
from incident_timeline.timeline.clock import Clock
from incident_timeline.timeline.window import Window

# Batches parsed at once, as many waiting: Arrow's kernels release the GIL, so two parser
# threads overlap on two cores (bench/k8s_bench.py, idle 2-core machine: 15.0 s -> 13.0 s for
# 2.25 M lines). With 4 MiB batches peak RSS rose 431 -> 492 MiB for 556 MiB of logs; 2 MiB
# batches keep it at 459 MiB (26.1 s against 31.1 s for one parser, load about 2).
PARSERS = 2
APPS = ("deployments", "replicasets", "statefulsets", "daemonsets", "controllerrevisions")
Item = tuple[dict[str, Any], tuple[str, str]]


class KubernetesCollector:
    """Collects one cluster (one kubeconfig context) for the window."""

    name: ClassVar[str] = "kubernetes"

    def __init__(
        self,
        settings: KubernetesSettings,
        base_dir: Path,
        *,
        env: Mapping[str, str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        progress: Progress | None = None,
    ) -> None:
        self.settings, self.base_dir = settings, base_dir
        self.env, self.sleep, self.progress = env, sleep, progress

    @property
    def budget(self) -> float | None:
        """Seconds the runner gives this source (``budget``; None: ``[incident]
        source_budget``)."""
        return self.settings.budget

    @classmethod
    def from_config(cls, table: Any, path: Path) -> KubernetesCollector:
        """Build from the ``[kubernetes]`` table."""
        return cls(settings_from_table(table, path), path.parent)

    def connect(self) -> tuple[KubeAPI, str | None]:
        """The API seam for these settings, and the kubeconfig context's namespace."""
        s = self.settings
        env = os.environ if self.env is None else self.env
        conn = load_client(
            s.kubeconfig, s.context, env=env, base_dir=self.base_dir, pool=s.max_log_requests + 4
        )
        policy = RetryPolicy(retries=s.retries, sleep=self.sleep)
        api = KubeAPI(
            conn.client,
            context=conn.context,
            policy=policy,
            limiter=RateLimiter(s.qps, s.burst, sleep=self.sleep),
            stream_limiter=RateLimiter(s.log_qps, s.log_burst, sleep=self.sleep),
            timeout=s.timeout,
        )
        return api, conn.namespace

    def collect(self, window: Window, out: SourceWriter, *, clock: Clock) -> dict[str, int]:
        """Collect the window into ``out``; returns counts for the manifest."""
        api, namespace = self.connect()
        api.deadline, api.budget = out.deadline, out.budget
        out.add_secrets(_credentials(api.client.configuration))
        progress = self.progress or Progress.for_terminal(enabled=self.settings.progress)
        run = _Run(api, out, window, self.settings, namespace, progress)
        try:
            run.all()
        finally:
            progress.close()
            run.counts["requests"], run.counts["retries"] = api.requests, api.retried
        return run.counts


class _Run:
    """One collection: the API, the writer, the window, what was found so far."""

    def __init__(
        self,
        api: KubeAPI,
        out: SourceWriter,
        window: Window,
        settings: KubernetesSettings,
        namespace: str | None,
        progress: Progress,
    ) -> None:
        self.api, self.out, self.window, self.s = api, out, window, settings
        self.progress = progress
        if settings.all_namespaces:
            self.scopes: list[str | None] = [None]
        else:
            self.scopes = list(settings.namespaces) or [namespace or "default"]
        self.counts: dict[str, int] = {
            "pods": 0,
            "logs": 0,
            "logs_previous": 0,
            "log_bytes": 0,
            "log_lines": 0,
            "log_lines_outside_window": 0,
            "logs_capped": 0,
            "logs_failed": 0,
            "k8s_events": 0,
            "rollout_events": 0,
            "pod_life_events": 0,
            "gaps": 0,
            "list_restarts": 0,
        }
        self.errors: list[str] = []
        self.gave_up: list[str] = []  # logs the source's deadline left unread
        self.read_any = False
        self.batch = Batch(window.since, window.until)

    def all(self) -> None:
        """Pods, events, rollouts, then every log; a SourceError when nothing was readable."""
        version = self.api.get("/version")
        if version.status in (401, 403):
            from incident_timeline.collector.kubernetes.client import status_message

            raise status_message(version, "/version", self.api.context)
        if version.status == 200:
            self.out.write_raw("version.json", version.body)
        pods, listed_scopes = self.pods()
        event_items = self.events() if self.s.events else []
        apps = self.apps() if self.s.rollouts else {}
        scope = Scope.of(self.s.selector, pods, apps)
        event_items = [i for i in event_items if scope.wants_event(i[0])]
        self.add_events(event_items, apps, scope)
        self.add_pod_lives(pods)
        self.add_gone(event_items, pods, listed_scopes, scope)
        if self.s.logs:
            self.logs(pods)
        if not self.read_any:
            raise SourceError("; ".join(self.errors) or "nothing could be read")

    # ------------------------------------------------------------------ lists

    def _path(self, group: str, resource: str, ns: str | None) -> str:
        return f"/{group}/namespaces/{ns}/{resource}" if ns else f"/{group}/{resource}"

    def _list(self, path: str, folder: str, query: list[tuple[str, str]]) -> Listed | None:
        try:
            listed = list_all(self.api, self.out, path, query, folder, self.s.page_size)
        except KubeAPIError as exc:
            self.errors.append(str(exc))
            if exc.code != 404:
                self.out.warn(str(exc), partial=True)
            return None
        self.read_any = True
        self.counts["list_restarts"] += listed.restarts
        return listed

    def pods(self) -> tuple[list[Item], set[str | None]]:
        query = [("labelSelector", self.s.selector)] if self.s.selector else []
        if self.s.field_selector:
            query.append(("fieldSelector", self.s.field_selector))
        found: list[Item] = []
        listed_scopes: set[str | None] = set()
        for ns in self.scopes:
            listed = self._list(self._path("api/v1", "pods", ns), f"pods/{ns or '_all'}", query)
            if listed is not None:
                found += list(listed)
                listed_scopes.add(ns)
        self.counts["pods"] = len(found)
        return found, listed_scopes

    def events(self) -> list[Item]:
        lists = []
        for group, folder in (("apis/events.k8s.io/v1", "events.k8s.io"), ("api/v1", "events")):
            for ns in self.scopes:
                listed = self._list(self._path(group, "events", ns), f"{folder}/{ns or '_all'}", [])
                if listed is not None:
                    lists.append(list(listed))
        return ev.unique(lists)

    def apps(self) -> dict[str, list[Item]]:
        found: dict[str, list[Item]] = {name: [] for name in APPS}
        for resource in APPS:
            for ns in self.scopes:
                listed = self._list(
                    self._path("apis/apps/v1", resource, ns),
                    f"apps/{resource}/{ns or '_all'}",
                    [],
                )
                if listed is not None:
                    found[resource] += list(listed)
        return found

    # ------------------------------------------------------------------ events

    def add_events(self, items: list[Item], apps: dict[str, list[Item]], scope: Scope) -> None:
        frame, counts, oldest = ev.event_frame(items, self.window.since, self.window.until)
        self.out.add_events(frame)
        self.counts["k8s_events"] += counts["k8s_events"]
        self.counts["k8s_events_outside_window"] = counts["k8s_events_outside_window"]
        if self.s.events and (oldest is None or oldest > pd.Timestamp(self.window.since)):
            gap = ev.ttl_gap(oldest, self.window.since, self.window.until)
            self.out.add_events(gap)
            self.counts["gaps"] += len(gap)
            self.out.warn(
                "the API server keeps events about 1 h by default (--event-ttl); "
                + ("no event was seen" if oldest is None else f"the oldest seen is {oldest}")
                + ", after the window's start: earlier events may be gone"
            )
        if apps:
            scaling = ev.scalings(items)
            wanted = {k: [i for i in v if scope.wants_workload(i[0], k)] for k, v in apps.items()}
            rows = rollout_rows(wanted, scaling)
            frame = _in_window(rows_frame(rows), self.window)
            self.out.add_events(frame)
            self.counts["rollout_events"] += len(frame)

    def add_pod_lives(self, pods: list[Item]) -> None:
        rows: list[dict[str, Any]] = []
        for pod, (file, pointer) in pods:
            for made in pod_rows([pod], Context(ref=file, stream="")):
                r: dict[str, Any] = dict(made)
                r["file"], r["pointer"] = file, pointer + r["pointer"].removeprefix("/items/0")
                rows.append(r)
        frame = _in_window(rows_frame(rows), self.window)
        self.out.add_events(frame)
        self.counts["pod_life_events"] += len(frame)

    def add_gone(
        self, items: list[Item], pods: list[Item], listed: set[str | None], scope: Scope
    ) -> None:
        """Pods the events name, in the window, that the pod list no longer has."""
        if None not in listed:
            items = [i for i in items if _namespace(i[0]) in listed]
        rows = gone_pods(items, pods, self.window)
        frame = rows_frame(rows)
        self.out.add_events(frame)
        self.counts["gaps"] += len(frame)

    # ------------------------------------------------------------------ logs

    def logs(self, pods: list[Item]) -> None:
        plans = [
            p
            for pod, _ in pods
            for p in log_plans(pod, self.window.since, self.window.until, self.s.previous)
        ]
        self.progress.start(len(plans))
        bundle_dir = self.out.bundle.path
        with (
            ThreadPoolExecutor(PARSERS, thread_name_prefix="k8s-parse") as parser,
            ThreadPoolExecutor(self.s.max_log_requests, thread_name_prefix="k8s-log") as pool,
        ):
            self.batch = Batch(self.window.since, self.window.until, parser=parser, depth=PARSERS)
            futures: list[Future[logstream.Fetched]] = [
                pool.submit(
                    logstream.fetch,
                    self.api,
                    bundle_dir,
                    self.out.raw_path(plan.relpath),
                    plan,
                    self.window.since,
                    self.window.until,
                    self.s.limit_bytes,
                    self.progress.add_bytes,
                    self.out.masker,
                )
                for plan in plans
            ]
            for future in futures:  # in plan order: deterministic, parsing overlaps fetching
                self.stored(future.result())
                self.progress.done_one()
            self.parsed(self.batch.flush())
        if self.gave_up:
            raise DeadlineError(
                f"{self.gave_up[0]}; {len(self.gave_up)} of {len(plans)} container logs "
                "were not collected"
            )

    def stored(self, fetched: logstream.Fetched) -> None:
        """Record and parse one fetched log (in the main thread)."""
        plan = fetched.plan
        self.counts["log_bytes"] += fetched.bytes
        if isinstance(fetched.error, DeadlineError):
            self.gave_up.append(str(fetched.error))
            return
        if fetched.error is not None:
            self.failed_log(plan, fetched.error)
            return
        assert fetched.rel is not None
        self.read_any = True
        self.out.bundle.record_file(
            fetched.rel, masked=fetched.masked, sha256=fetched.sha256, size=fetched.size
        )
        self.counts["logs"] += 1
        self.counts["logs_previous"] += plan.previous
        if fetched.capped:
            self.counts["logs_capped"] += 1
            self.out.warn(
                f"log of {plan.stream}{' (previous)' if plan.previous else ''} was cut at "
                f"limit_bytes = {self.s.limit_bytes}: lines after it are missing",
                kind="gap",
                ref=fetched.rel,
            )
        if fetched.cut is not None:
            self.out.warn(
                f"log of {plan.stream}{' (previous)' if plan.previous else ''} is cut short: "
                f"{fetched.cut}; lines after it are missing",
                kind="gap",
                ref=fetched.rel,
                partial=True,
            )
        rel = fetched.rel.removeprefix("raw/kubernetes/")
        self.parsed(self.batch.add(self.out.bundle.path / fetched.rel, rel, plan))

    def parsed(self, frames: Iterator[tuple[pa.Table, int]]) -> None:
        """Add parsed log events (and count the lines outside the window)."""
        for frame, outside in frames:
            self.out.add_events(frame)
            self.counts["log_lines"] += len(frame)
            self.counts["log_lines_outside_window"] += outside

    def failed_log(self, plan: LogPlan, error: SourceError) -> None:
        what = f"{plan.stream}{' (previous)' if plan.previous else ''}"
        if isinstance(error, KubeAPIError) and error.code == 404:
            row = {
                "time_raw": self.window.until.isoformat(),
                "source": "kubernetes",
                "stream": f"{plan.namespace}/pod/{plan.pod}",
                "kind": "gap",
                "severity": "warning",
                "actor": None,
                "summary": f"Pod {plan.pod} vanished during collection: log of {what} is gone",
                "message": str(error),
                "labels": {
                    "namespace": plan.namespace,
                    "pod": plan.pod,
                    "check": "pod_vanished",
                    "container": plan.container,
                },
                "file": "manifest.json",
                "pointer": "/sources/kubernetes",
            }
            self.out.add_events(rows_frame([row]))
            self.counts["gaps"] += 1
            self.out.warn(f"pod {plan.namespace}/{plan.pod} vanished during collection")
            return
        self.counts["logs_failed"] += 1
        self.errors.append(str(error))
        self.out.warn(f"log of {what}: {error}", partial=True)


def _credentials(configuration: Any) -> list[str]:
    """What the kubeconfig gave the client to send (tokens, passwords): masked everywhere."""
    values = [str(v) for v in (getattr(configuration, "api_key", None) or {}).values() if v]
    # "Bearer <token>" from a kubeconfig, "bearer <token>" from the in-cluster loader
    values += [re.sub(r"^bearer\s+", "", v, flags=re.IGNORECASE).strip() for v in values]
    password = getattr(configuration, "password", None)
    return [v for v in [*values, password] if isinstance(v, str) and len(v) >= 4]


def _namespace(item: dict[str, Any]) -> str | None:
    obj = item.get("involvedObject") or item.get("regarding") or {}
    return obj.get("namespace") or (item.get("metadata") or {}).get("namespace")


def _in_window(frame: pd.DataFrame, window: Window) -> pd.DataFrame:
    keep = (frame["time"] >= pd.Timestamp(window.since)) & (
        frame["time"] < pd.Timestamp(window.until)
    )
    return frame.loc[keep.to_numpy()].reset_index(drop=True)

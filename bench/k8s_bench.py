#!/usr/bin/env python3
"""The Kubernetes collector against the API double: wall time against two baselines measured in
the same run, and peak memory as log volume grows.

The cluster: ``--pods`` pods (200) with two containers each, a quarter of the pods with a
previous instance of their app container, ``--lines`` lines (5,000) per log, all inside the
window. The double runs in a child process (its CPU and memory are not the collector's).

- collector: ``KubernetesCollector`` through the runner into a bundle (stream to gzip, parse,
  events written), ``max_log_requests`` 16, no QPS limit;
- (a) transfer bound: the same log requests, 16 at a time, bodies read and dropped;
- (b) sequential: one log after another, as the seeds' ``for pod in ...; kubectl logs`` loop,
  in process (real kubectl adds ~0.1 s of start-up per call; ``--kubectl N`` times N calls).
- (c) the parser's bound: the same text parsed by `parse_kubectl_logs` from memory, in the
  collector's batches, with no I/O. Parsing costs 2.5-3 µs a line here, so 2.25 M lines cost
  about 6 s on one core: far above (a), which only moves bytes. The collector's wall time is
  bounded below by (c), not (a); "ratio collector / (c)" says how close it comes.

Peak RSS is measured in a fresh process per volume (``--volumes``), so each peak is its own.
The collector's CPU time (user + system, its own process: the double is another) is reported
next to its wall time, and the load average before and after the run. ``--repeat N`` runs (a),
(b) and the collector N times and reports the median; ``--baseline REV`` also runs the collector
of git revision REV (its tree exported to a temporary directory), alternating with this one in
the same run, so a change is measured against its parent under the same load.

    python bench/k8s_bench.py                       # 200 pods x 5,000 lines
    python bench/k8s_bench.py --repeat 3 --baseline main --volumes 5000 --kubectl 0
    python bench/k8s_bench.py --pods 50 --volumes 5000,40000,150000   # up to 2 GiB of logs
    python bench/k8s_bench.py --pods 50 --lines 2000 --volumes 1000,2000,4000 --kubectl 5
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.doubles.kubernetes import (  # noqa: E402
    Cluster,
    Rendered,
    container_status,
    ns_of,
    pod,
    serve,
    terminated,
)

NS = "bench"
SINCE = datetime(2026, 2, 17, 14, 0, tzinfo=UTC)
UNTIL = SINCE + timedelta(hours=2)
# A static bearer token as kubeconfigs hold one (32 random bytes, base64url): the collector masks
# it and "Bearer <token>" wherever they appear, so its length and letters set the masking cost.
TOKEN = "kX3v9QbZ2rT8wYp1LmN6cF0hJ4sD7gA5eR_uV-iOqWo"


def log_body(lines: int) -> Rendered:
    """One container's log: ``lines`` lines evenly over the window, an app stamp in each."""
    step = (UNTIL - SINCE).total_seconds() / (lines + 1)
    return Rendered.of(
        (
            ns_of(SINCE + timedelta(seconds=step * (i + 1))),
            f"{(SINCE + timedelta(seconds=step * (i + 1))).isoformat()[:23]}Z INFO "
            f'method=GET path=/api/v1/cart/{i % 977} status=200 duration_ms={i % 113} msg="ok"',
        )
        for i in range(lines)
    )


def build(pods: int, lines: int) -> Cluster:
    """The bench cluster: shared rendered bodies (the double's memory stays small)."""
    body = log_body(lines)
    cluster = Cluster(log_chunk=256 * 1024)
    for p in range(pods):
        name = f"shop-api-6d8f7b9c5d-{p:05d}"
        restarted = p % 4 == 0
        last = terminated("OOMKilled", 137, SINCE, SINCE + timedelta(minutes=30))
        statuses = [
            container_status(
                "app", "shop:v1", SINCE, restarts=int(restarted), last=last if restarted else None
            ),
            container_status("envoy", "envoy:v1", SINCE),
        ]
        cluster.add(
            "pods",
            pod(name, NS, f"node-{p % 7}", SINCE - timedelta(hours=1),
                [("app", "shop:v1"), ("envoy", "envoy:v1")], labels={"app": "shop"},
                statuses=statuses),
        )  # fmt: skip
        for container in ("app", "envoy"):
            cluster.logs[(NS, name, container, False)] = body
        if restarted:
            cluster.logs[(NS, name, "app", True)] = body
    return cluster


def _serve_child(pods: int, lines: int, conn: Any) -> None:
    running = serve(build(pods, lines))
    conn.send(running.url)
    conn.recv()  # until the parent says stop
    running.stop()


def start_double(pods: int, lines: int) -> tuple[str, Any, Any]:
    """The double in a child process: its URL, the process and the pipe to stop it."""
    parent, child = multiprocessing.Pipe()
    process = multiprocessing.get_context("fork").Process(
        target=_serve_child, args=(pods, lines, child), daemon=True
    )
    process.start()
    return parent.recv(), process, parent


def log_urls(url: str, pods: int) -> list[str]:
    """Every log request the collector makes, with the same query."""
    query = "timestamps=true&sinceTime=2026-02-17T14%3A00%3A00Z&limitBytes=1073741824"
    out = []
    for p in range(pods):
        base = f"{url}/api/v1/namespaces/{NS}/pods/shop-api-6d8f7b9c5d-{p:05d}/log?{query}"
        out += [f"{base}&container=app", f"{base}&container=envoy"]
        if p % 4 == 0:
            out.append(f"{base}&container=app&previous=true")
    return out


def fetch_all(urls: list[str], workers: int) -> tuple[float, int]:
    """Read every body (``workers`` at a time) and drop it; seconds and bytes."""
    import urllib3

    pool = urllib3.PoolManager(maxsize=workers)

    def one(u: str) -> int:
        response = pool.request("GET", u, preload_content=False)
        n = sum(len(b) for b in response.stream(256 * 1024))
        response.release_conn()
        return n

    started = time.perf_counter()
    if workers == 1:
        total = sum(one(u) for u in urls)
    else:
        with ThreadPoolExecutor(workers) as ex:
            total = sum(ex.map(one, urls))
    return time.perf_counter() - started, total


def run_collector(url: str, workdir: Path) -> dict[str, Any]:
    """The collector, through the runner, into a fresh bundle; seconds and counts."""
    from incident_timeline.collector.config import Config, IncidentSettings
    from incident_timeline.collector.kubernetes.collector import KubernetesCollector
    from incident_timeline.collector.kubernetes.settings import KubernetesSettings
    from incident_timeline.collector.runner import collect
    from incident_timeline.timeline.window import Window

    kubeconfig = workdir / "kubeconfig"
    kubeconfig.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "b",
        "clusters": [{"name": "b", "cluster": {"server": url}}],
        "users": [{"name": "b", "user": {"token": TOKEN}}],
        "contexts": [{"name": "b", "context": {"cluster": "b", "user": "b"}}],
    }))  # fmt: skip
    settings = KubernetesSettings(
        kubeconfig=str(kubeconfig), namespaces=[NS], qps=0, log_qps=0, progress=False
    )
    collector = KubernetesCollector(settings, workdir)
    config = Config(
        path=workdir / "c.toml",
        incident=IncidentSettings(),
        sources={"kubernetes": collector},
        raw={},
    )
    started, cpu = time.perf_counter(), time.process_time()
    [outcome] = collect(config, Window(SINCE, UNTIL), workdir / "bundle", clock=lambda: UNTIL)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    return {"seconds": seconds, "cpu_seconds": cpu, "status": outcome.status, **outcome.counts}


def fetch_only(url: str, workdir: Path, pods: int) -> float:
    """The collector's own log path without parsing: `logs.fetch` (stream, cut at the window's
    end, gzip to disk) for every log, 16 at a time, through the kubernetes client."""
    from incident_timeline.collector.http import RetryPolicy
    from incident_timeline.collector.kubernetes import logs
    from incident_timeline.collector.kubernetes.client import KubeAPI, RateLimiter
    from incident_timeline.collector.kubernetes.kubeconfig import load_client
    from incident_timeline.collector.kubernetes.pods import LogPlan

    kubeconfig = workdir / "kubeconfig"
    conn = load_client(str(kubeconfig), None, env={}, base_dir=workdir, pool=20)
    api = KubeAPI(conn.client, context=conn.context, policy=RetryPolicy(),
                  limiter=RateLimiter(0, 1), stream_limiter=RateLimiter(0, 1))  # fmt: skip
    plans = []
    for p in range(pods):
        base = LogPlan(NS, f"shop-api-6d8f7b9c5d-{p:05d}", "app", "container", False, None, 0, None)
        plans += [base, LogPlan(NS, base.pod, "envoy", "container", False, None, 0, None)]
        if p % 4 == 0:
            plans.append(LogPlan(NS, base.pod, "app", "container", True, None, 1, None))
    started = time.perf_counter()
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda plan: logs.fetch(api, workdir, f"f/{plan.relpath}", plan,
                                              SINCE, UNTIL, 1 << 30), plans))  # fmt: skip
    return time.perf_counter() - started


def parse_only(lines: int, logs: int) -> float:
    """The parser's bound: the same log text, ``logs`` times, parsed in the collector's
    batches (``logbatch.BATCH_BYTES``) from memory with `parse_kubectl_logs`: no I/O, no gzip,
    no relabelling, no Parquet. Seconds."""
    import pandas as pd

    from incident_timeline.collector.formats import Context
    from incident_timeline.collector.kubernetes.formats import parse_kubectl_logs
    from incident_timeline.collector.kubernetes.logbatch import BATCH_BYTES

    body = log_body(lines).data
    per = max(1, BATCH_BYTES // len(body))
    ctx = Context(ref="batch", stream="", fallback_time=pd.Timestamp(SINCE),
                  window_end=pd.Timestamp(UNTIL))  # fmt: skip
    started = time.perf_counter()
    for done in range(0, logs, per):
        parse_kubectl_logs(body * min(per, logs - done), ctx)
    return time.perf_counter() - started


def child_collect(pods: int, lines: int, parts: bool) -> None:
    """One volume in this fresh process: print JSON with seconds, counts and peak RSS (and,
    with ``parts``, the log path alone and the parse alone)."""
    url, process, pipe = start_double(pods, lines)
    with tempfile.TemporaryDirectory() as tmp:
        result = run_collector(url, Path(tmp))
        if parts:
            result["fetch_only_seconds"] = fetch_only(url, Path(tmp), pods)
    result["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if parts:
        result["parse_only_seconds"] = parse_only(lines, len(log_urls(url, pods)))
    pipe.send("stop")
    process.join(5)
    print(json.dumps(result))


def in_child(pods: int, lines: int, parts: bool = False, src: Path | None = None) -> dict[str, Any]:
    """The collector in a fresh process; ``src``: a baseline's exported tree to import from."""
    env = dict(os.environ)
    if src is not None:  # ahead of the editable install's finder (it comes last in meta_path)
        env["PYTHONPATH"] = str(src)
    command = [sys.executable, __file__, "--child", "--pods", str(pods), "--lines", str(lines)]
    done = subprocess.run(
        command + ["--parts"] * parts, capture_output=True, text=True, check=True, cwd=ROOT,
        env=env,
    )  # fmt: skip
    return json.loads(done.stdout.strip().splitlines()[-1])


def export_revision(rev: str, into: Path) -> Path:
    """The tree of git revision ``rev`` as an importable ``incident_timeline`` under ``into``."""
    package = into / "incident_timeline"
    package.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "archive", rev], cwd=ROOT, capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(package)], input=archive, check=True)
    return into


def load() -> str:
    """The load averages (1, 5, 15 min) and the number of cores."""
    return (
        f"load {' '.join(Path('/proc/loadavg').read_text().split()[:3])} on {os.cpu_count()} cores"
    )


def time_kubectl(url: str, calls: int, workdir: Path) -> float | None:
    """Seconds per ``kubectl logs`` call (real kubectl), or None when it is not installed."""
    import shutil

    kubectl = shutil.which("kubectl")
    if not kubectl or calls <= 0:
        return None
    kubeconfig = workdir / "kubeconfig"
    kubeconfig.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "b",
        "clusters": [{"name": "b", "cluster": {"server": url}}],
        "users": [{"name": "b", "user": {}}],
        "contexts": [{"name": "b", "context": {"cluster": "b", "user": "b"}}],
    }))  # fmt: skip
    started = time.perf_counter()
    for p in range(calls):
        subprocess.run(
            [kubectl, "--kubeconfig", str(kubeconfig), "-n", NS, "logs",
             f"shop-api-6d8f7b9c5d-{p:05d}", "-c", "app", "--timestamps",
             "--since-time=2026-02-17T14:00:00Z"],
            check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
    return (time.perf_counter() - started) / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=200)
    parser.add_argument("--lines", type=int, default=5000)
    parser.add_argument("--volumes", default="1250,2500,5000", help="lines per log, for RSS")
    parser.add_argument("--kubectl", type=int, default=10, help="real kubectl calls to time")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each; medians reported")
    parser.add_argument("--baseline", help="git revision whose collector runs alongside")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--parts", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child_collect(args.pods, args.lines, args.parts)
        return
    print(f"before: {load()}")
    url, process, pipe = start_double(args.pods, args.lines)
    urls = log_urls(url, args.pods)
    fetch_all(urls[:20], 16)  # warm up
    fetched = [fetch_all(urls, 16) for _ in range(args.repeat)]
    concurrent, size = statistics.median(f[0] for f in fetched), fetched[0][1]
    sequential = statistics.median(fetch_all(urls, 1)[0] for _ in range(args.repeat))
    with tempfile.TemporaryDirectory() as tmp:
        per_kubectl = time_kubectl(url, args.kubectl, Path(tmp))
    pipe.send("stop")
    process.join(5)
    runs: list[dict[str, Any]] = []
    base_runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        src = export_revision(args.baseline, Path(tmp)) if args.baseline else None
        for i in range(args.repeat):
            runs.append(in_child(args.pods, args.lines, parts=i == 0))
            if src is not None:
                base_runs.append(in_child(args.pods, args.lines, src=src))
    collected = runs[0]
    mib = size / (1 << 20)
    print(
        f"cluster: {args.pods} pods, {len(urls)} logs x {args.lines:,} lines = "
        f"{len(urls) * args.lines:,} lines, {mib:,.1f} MiB; medians of {args.repeat} runs"
    )
    print(f"(a) raw concurrent fetch (16)   {concurrent:7.2f} s  {mib / concurrent:7.1f} MiB/s")
    print(f"(b) sequential per-log fetch    {sequential:7.2f} s")
    if per_kubectl is not None:
        loop = per_kubectl * len(urls)
        print(f"    real kubectl logs loop       {loop:7.2f} s  ({per_kubectl:.3f} s per call)")
    seconds = statistics.median(r["seconds"] for r in runs)
    cpu = statistics.median(r["cpu_seconds"] for r in runs)
    rss = max(r["peak_rss_mib"] for r in runs)
    print(f"collector (fetch+gzip+parse)    {seconds:7.2f} s  CPU {cpu:.2f} s, "
          f"{collected['log_lines']:,} lines, status {collected['status']}, "
          f"peak RSS {rss:.0f} MiB")  # fmt: skip
    if base_runs:
        base = statistics.median(r["seconds"] for r in base_runs)
        base_cpu = statistics.median(r.get("cpu_seconds", 0.0) for r in base_runs)
        print(
            f"baseline {args.baseline:<22} {base:7.2f} s  CPU {base_cpu:.2f} s, "
            f"{base_runs[0]['log_lines']:,} lines  (this / baseline {seconds / base:.2f}x)"
        )
    fetch = collected["fetch_only_seconds"]
    print(f"collector's log path, no parse  {fetch:7.2f} s  (stream, cut, gzip to disk)")
    parse = collected["parse_only_seconds"]
    print(f"(c) parse only, from memory     {parse:7.2f} s  (parse_kubectl_logs, same batches)")
    print(f"ratio collector / (a)           {seconds / concurrent:7.2f}x   (target <= 1.3x)")
    print(f"ratio log path / (a)            {fetch / concurrent:7.2f}x")
    print(f"ratio collector / (c)           {seconds / parse:7.2f}x   (the parser's bound)")
    print(f"speed-up vs (b)                 {sequential / seconds:7.2f}x   (target >= 5x)")
    if per_kubectl is not None:
        print(f"speed-up vs kubectl loop        {per_kubectl * len(urls) / seconds:7.2f}x")
    print("peak RSS as volume grows (fresh process each):")
    for lines in [int(v) for v in args.volumes.split(",") if v]:
        r = collected if lines == args.lines else in_child(args.pods, lines)
        per = r["log_bytes"] / (1 << 20)
        print(f"  {lines:>6,} lines/log  {per:8.1f} MiB of logs  {r['seconds']:6.2f} s  "
              f"peak RSS {r['peak_rss_mib']:6.0f} MiB")  # fmt: skip
    print(f"after: {load()}")


if __name__ == "__main__":
    main()

"""The Prometheus collector at scale against a real Prometheus, baselines in the same run.

    python bench/prometheus_bench.py [--series 20] [--days 30] [--windows 10,30] [--repeat 3]
                                     [--threshold '> 0.99'] [--compare INCIDENT] [--profile DAYS]
                                     [--keep DIR]

A real Prometheus (the Debian package) on a free loopback port, with its own temp dir, is
backfilled by ``promtool tsdb create-blocks-from openmetrics`` with ``--series`` gauges of
``--days`` days at 15 s (20 × 30 d = 3,456,000 samples), and stopped by its PID at the end.
Then, for each window length in ``--windows`` (days, ending at the data's end):

* ``server``: a plain httpx loop over exactly the requests ``incident collect`` makes
  (label values, rules, alerts, then ``query_range`` in the collector's own step-aligned
  chunks of 11,000 points), one at a time, no gzip, each body read and dropped: the wall of
  the server's answers and their transfer, with nothing done to them;
* ``server ×2``: the same loop two requests at a time, as the collector sends them by default
  (``concurrent_requests = 2``): the fair baseline for it;
* ``collect``: ``incident collect`` with one ``[prometheus]`` table (``step = "15s"``, one
  named query, built-ins off) in a fresh process, its peak RSS from ``wait4`` (read by a
  small process in between, see `run`);
  its samples are checked complete (manifest and Parquet); ``collect: source`` is the time
  the manifest gives the source: the collector's own work (requests, parsing, writing),
  without the interpreter's start and the CLI's imports;
* ``collect c=1``: the same with ``concurrent_requests = 1`` (one request at a time);
* ``collect 1h``: the same collect of a one-hour window: the fixed cost (interpreter,
  imports, bundle) that does not grow with samples;
* ``server gzip``: the one-at-a-time loop with httpx's default ``Accept-Encoding: gzip``
  (once: it is slow).

Cases run ``--repeat`` times round-robin and each shows its median run by wall, with the
1-minute load average after it. Ratios are against ``server`` and ``server ×2`` of the same
window in the same run. ``--compare`` runs another build's ``incident`` (e.g. main's) on the
same server with ``collect``'s config. The machine may be shared: figures of one run are
comparable with each other, not with another run's.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
INCIDENT = str(Path(PYTHON).with_name("incident"))
STEP = 15
METRIC = "bench_latency_seconds"
END = datetime(2026, 1, 31, tzinfo=UTC)  # the data's end (exclusive); the past, always


def free_port() -> int:
    """A loopback port that was free a moment ago (never Prometheus' default 9090)."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port != 9090:
            return port


def openmetrics(path: Path, series: int, days: int, seed: int = 9) -> int:
    """``series`` gauges every 15 s over ``days`` days before `END` (a bounded random walk,
    three decimals, as latencies print); returns the number of samples."""
    rnd = random.Random(seed)
    first = int((END - timedelta(days=days)).timestamp())
    count = days * 86400 // STEP
    with path.open("w", encoding="utf-8") as out:
        out.write(f"# TYPE {METRIC} gauge\n")
        for s in range(series):
            name = f'{METRIC}{{instance="node-{s:02d}:9100",job="node"}}'
            value, lines = 0.5, []
            for i in range(count):
                value = min(1.0, max(0.0, value + rnd.uniform(-0.02, 0.02)))
                lines.append(f"{name} {value:.3f} {first + STEP * i}\n")
                if len(lines) == 50_000:
                    out.write("".join(lines))
                    lines.clear()
            out.write("".join(lines))
        out.write("# EOF\n")
    return series * count


def start_prometheus(work: Path) -> tuple[subprocess.Popen[bytes], str]:
    """Prometheus on a free port over ``work/data``; waits for ``/-/ready``."""
    exe = shutil.which("prometheus")
    if not exe:
        raise SystemExit("prometheus is not installed: apt-get install prometheus")
    port = free_port()
    (work / "prometheus.yml").write_text("scrape_configs: []\n")
    argv = [
        exe,
        f"--config.file={work / 'prometheus.yml'}",
        f"--storage.tsdb.path={work / 'data'}",
        "--storage.tsdb.retention.time=3650d",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    log = (work / "prometheus.log").open("wb")
    process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(url + "/-/ready", timeout=1).status_code == 200:
                return process, url
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    process.kill()
    raise SystemExit(f"prometheus did not start: {(work / 'prometheus.log').read_text()[-2000:]}")


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop the one process we started, by its PID."""
    if process.poll() is None:
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()


def requests_of(since: datetime, until: datetime) -> list[tuple[str, dict[str, str]]]:
    """The collector's requests for this config, in its order, with its parameters."""
    sys.path.insert(0, str(ROOT))
    from incident_timeline.collector.prometheus.chunks import range_chunks

    window = {"start": f"{since.timestamp():.3f}", "end": f"{until.timestamp():.3f}"}
    plan: list[tuple[str, dict[str, str]]] = [
        ("/api/v1/label/__name__/values", window),
        ("/api/v1/rules", {}),
        ("/api/v1/alerts", {}),
    ]
    for start, end in range_chunks(since, until, STEP, 11_000):
        params = {"query": METRIC, "start": str(round(start.timestamp()))}
        params.update(end=str(round(end.timestamp())), step=str(STEP))
        plan.append(("/api/v1/query_range", params))
    return plan


SERVER: list[int] = []  # the Prometheus PID, for its CPU time


def server_cpu() -> float:
    """CPU seconds (user + system) Prometheus has used so far, from /proc/PID/stat."""
    if not SERVER:
        return 0.0
    fields = Path(f"/proc/{SERVER[0]}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_loop(
    url: str, plan: list[tuple[str, dict[str, str]]], gzip: bool, concurrent: int = 1
) -> tuple[float, float]:
    """Wall seconds of the plan's requests, ``concurrent`` at a time in request order, each
    body read in full and dropped, and the CPU seconds Prometheus spent on them."""
    headers = {} if gzip else {"Accept-Encoding": "identity"}
    cpu = server_cpu()
    with httpx.Client(base_url=url, headers=headers, timeout=120) as client:

        def get(request: tuple[str, dict[str, str]]) -> None:
            response = client.get(request[0], params=request[1])
            response.read()
            response.raise_for_status()

        with ThreadPoolExecutor(concurrent) as pool:
            started = time.perf_counter()
            list(pool.map(get, plan))
            total = time.perf_counter() - started
    return total, server_cpu() - cpu


# The child's peak RSS is read by a small process in between: a process's ru_maxrss starts at
# the high-water mark of the process it was forked from, so measured straight from this
# script (which holds the loops' bodies and Arrow) it would show this script's peak instead.
_MEASURE = """
import os, subprocess, sys, time
started = time.perf_counter()
child = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
_, status, usage = os.wait4(child.pid, 0)
wall = time.perf_counter() - started
print(wall, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime)
sys.exit(os.waitstatus_to_exitcode(status))
"""


def run(argv: list[str]) -> tuple[float, float, float]:
    """Wall seconds, peak RSS (MB) and CPU seconds of one fresh process."""
    done = subprocess.run([PYTHON, "-S", "-c", _MEASURE, *argv], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{argv[:2]} failed ({done.returncode}): {done.stderr[-2000:]}")
    wall, peak, cpu = (float(x) for x in done.stdout.split())
    return wall, peak, cpu


def write_config(
    path: Path, url: str, threshold: str | None, concurrent: int | None = None
) -> None:
    line = f'threshold = "{threshold}"\n' if threshold else ""
    keys = f"concurrent_requests = {concurrent}\n" if concurrent else ""
    path.write_text(
        '[incident]\ntitle = "bench"\nmax_window = "40d"\n\n'
        f'[prometheus]\nurl = "{url}"\nstep = "15s"\nbuiltin_queries = false\ntimeout = 120\n'
        f"{keys}\n"
        f'[[prometheus.queries]]\nname = "latency"\nexpr = "{METRIC}"\n{line}',
        encoding="utf-8",
    )


@dataclasses.dataclass
class Case:
    """One measured run: wall s, peak RSS MB, CPU s of the process and of Prometheus
    meanwhile, the source's own seconds (from the manifest), the 1-minute load average after."""

    name: str
    wall: float
    peak: float = 0.0
    cpu: float = 0.0
    server_cpu: float = 0.0
    source: float = 0.0
    load: float = dataclasses.field(default_factory=lambda: os.getloadavg()[0])


def collect(
    name: str, incident: str, config: Path, out: Path, window: tuple[datetime, datetime]
) -> Case:
    """One fresh collect into ``out``."""
    import json

    shutil.rmtree(out, ignore_errors=True)
    argv = [incident, "collect", "-c", str(config), "-o", str(out)]
    argv += ["--since", window[0].isoformat(), "--until", window[1].isoformat()]
    before = server_cpu()
    wall, peak, cpu = run(argv)
    manifest = json.loads((out / "manifest.json").read_text())
    seconds = manifest["sources"]["prometheus"]["seconds"]
    return Case(name, wall, peak, cpu, server_cpu() - before, seconds)


def check_complete(out: Path, expected: int) -> str:
    """The manifest's sample count and the Parquet's rows must both be ``expected``."""
    import json

    import pyarrow.parquet as pq

    manifest = json.loads((out / "manifest.json").read_text())
    counts = manifest["sources"]["prometheus"]["counts"]
    rows = pq.ParquetFile(out / "metrics" / "latency.parquet").metadata.num_rows
    ok = counts["samples"] == rows == expected
    return f"{'complete' if ok else 'INCOMPLETE'}: {rows:,} rows, {counts['requests']} requests"


def one_window(
    url: str, work: Path, days: float, args: argparse.Namespace, series: int
) -> list[Case]:
    """Every case ``--repeat`` times, round-robin (so a change in the machine's load falls on
    all of them); each case's median run by wall, with its largest peak RSS."""
    since = END - timedelta(days=days)
    plan = requests_of(since, END)
    expected = int(series * days * 86400 // STEP)
    window, hour = (since, END), (END - timedelta(hours=1), END)
    configs = {c: work / f"bench-{c}.toml" for c in (None, 1)}
    for concurrent, config in configs.items():
        write_config(config, url, args.threshold, concurrent)
    out = work / "bundle"

    def loop(name: str, gzip: bool, concurrent: int) -> Callable[[], Case]:
        def one() -> Case:
            wall, cpu = server_loop(url, plan, gzip, concurrent)
            return Case(name, wall, server_cpu=cpu)

        return one

    def collected(
        name: str, incident: str, concurrent: int | None, span: tuple[datetime, datetime]
    ) -> Callable[[], Case]:
        def one() -> Case:
            case = collect(name, incident, configs[concurrent], out, span)
            if span == window and name not in checked:
                checked.add(name)
                print(f"  {name}: {check_complete(out, expected)}")
            return case

        return one

    checked: set[str] = set()
    cases = {
        "server": loop("server", False, 1),
        "server ×2": loop("server ×2", False, 2),
        "collect": collected("collect", INCIDENT, None, window),
        "collect c=1": collected("collect c=1", INCIDENT, 1, window),
    }
    if args.compare:
        cases["collect (other)"] = collected("collect (other)", args.compare, None, window)
    cases["collect 1h"] = collected("collect 1h", INCIDENT, None, hour)
    runs: dict[str, list[Case]] = {name: [] for name in cases}
    runs["server gzip"] = [loop("server gzip", True, 1)()]  # slow: once
    for _ in range(args.repeat):
        for name, case in cases.items():
            runs[name].append(case())
    print(f"  ({len(plan)} requests, {expected:,} samples)")
    found = []
    for measured in runs.values():
        middle = sorted(measured, key=lambda c: c.wall)[len(measured) // 2]
        middle.peak = max(c.peak for c in measured)
        found.append(middle)
    return found


def time_reports(url: str, work: Path, days: float, args: argparse.Namespace) -> None:
    """`incident report` of the window's bundle (collected once more by this build), by this
    build and by --compare's: a threshold on a busy query gives thousands of crossings."""
    out = work / "bundle"
    collect("collect", INCIDENT, work / "bench-None.toml", out, (END - timedelta(days=days), END))
    events = pq_rows(out / "events" / "prometheus.parquet")
    for name, incident in [("report", INCIDENT)] + [("report (other)", args.compare)] * bool(
        args.compare
    ):
        wall, peak, cpu = run([incident, "report", str(out), "-o", str(work / "draft.md")])
        print(
            f"  {name:<16}{wall:>8.2f} s  cpu {cpu:.2f} s  peak {peak:.0f} MB  ({events:,} events)"
        )


def pq_rows(path: Path) -> int:
    import pyarrow.parquet as pq

    return int(pq.ParquetFile(path).metadata.num_rows)


def report(cases: list[Case]) -> None:
    """The table: wall and CPU (the process's plus Prometheus') against the server loops'
    (``server``: one request at a time; ``server ×2``: two at a time, as the collector)."""
    base, base2 = cases[0], cases[1]
    print(
        f"  {'case':<16}{'wall s':>8}{'× server':>9}{'× ×2':>6}{'source s':>10}{'× server':>9}"
        f"{'× ×2':>6}{'peak MB':>9}{'CPU s':>8}{'server CPU':>11}{'CPU × server':>13}{'load':>6}"
    )
    for c in cases:
        source = (
            f"{c.source:>10.2f}{c.source / base.wall:>9.2f}{c.source / base2.wall:>6.2f}"
            if c.source
            else " " * 25
        )
        total = c.cpu + c.server_cpu
        print(
            f"  {c.name:<16}{c.wall:>8.2f}{c.wall / base.wall:>9.2f}{c.wall / base2.wall:>6.2f}"
            f"{source}{c.peak or float('nan'):>9.0f}{c.cpu:>8.2f}{c.server_cpu:>11.2f}"
            f"{total / base.server_cpu:>13.2f}{c.load:>6.2f}"
        )


def profile(url: str, work: Path, days: float, threshold: str | None, top: int = 25) -> None:
    """cProfile of one collect of the window in this process, by cumulative and own time (of
    the source's thread: the fetch threads' requests and parsing show as waiting)."""
    import cProfile
    import pstats

    from click.testing import CliRunner

    from incident_timeline.collector.prometheus.collector import PrometheusCollector
    from incident_timeline.report.cli import cli

    config, out = work / "profile.toml", work / "profile-bundle"
    write_config(config, url, threshold)
    shutil.rmtree(out, ignore_errors=True)
    since = END - timedelta(days=days)
    argv = ["collect", "-c", str(config), "-o", str(out), "--since", since.isoformat()]
    prof = cProfile.Profile()
    original = PrometheusCollector.collect

    def profiled(self: PrometheusCollector, *args: object, **kwargs: object) -> object:
        # the runner collects each source in its own thread: profile that thread
        prof.enable()
        try:
            return original(self, *args, **kwargs)  # type: ignore[arg-type]
        finally:
            prof.disable()

    PrometheusCollector.collect = profiled  # type: ignore[assignment,method-assign]
    started = time.perf_counter()
    CliRunner().invoke(cli, [*argv, "--until", END.isoformat()])
    print(f"\ncollect in process: {time.perf_counter() - started:.2f} s")
    PrometheusCollector.collect = original  # type: ignore[method-assign]
    print(f"\ncProfile of collect, {days:g} days")
    stats = pstats.Stats(prof)
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=20)
    parser.add_argument("--days", type=int, default=30, help="days of data loaded")
    parser.add_argument("--windows", default="30", help="comma-separated window lengths (days)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threshold", help="a threshold on the query, e.g. '> 0.99'")
    parser.add_argument("--compare", help="another build's incident command, same cases")
    parser.add_argument(
        "--report", action="store_true", help="also time `incident report` of each window's bundle"
    )
    parser.add_argument("--profile", type=float, default=0, help="days to profile (0: none)")
    parser.add_argument("--keep", type=Path, help="work directory (default: a temp dir)")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="prom-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    process = None
    try:
        if not (work / "data").exists():
            started = time.perf_counter()
            samples = openmetrics(work / "om.txt", args.series, args.days)
            promtool = shutil.which("promtool") or "promtool"
            argv = [promtool, "tsdb", "create-blocks-from", "openmetrics"]
            argv += ["--max-block-duration=744h", str(work / "om.txt"), str(work / "data")]
            subprocess.run(argv, check=True, capture_output=True)
            (work / "om.txt").unlink()
            took = time.perf_counter() - started
            print(f"backfilled {samples:,} samples in {took:.0f} s")
        process, url = start_prometheus(work)
        SERVER.append(process.pid)
        for days in (float(d) for d in args.windows.split(",") if d):
            print(f"\n{args.series} series × {days:g} days at {STEP} s")
            report(one_window(url, work, days, args, args.series))
            if args.report:
                time_reports(url, work, days, args)
        if args.profile:
            profile(url, work, args.profile, args.threshold)
    finally:
        if process is not None:
            stop(process)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

"""End-to-end ingestion: ``incident collect`` of big log files against baselines, same run.

    python bench/ingest_bench.py [--lines 200000,500000] [--formats kubectl,cri] [--repeat 3]
                                 [--mixed N] [--profile LINES] [--profile-mixed N]
                                 [--compare INCIDENT] [--keep DIR]
                                 [--workers 2]

For every size and format (``kubectl logs --timestamps`` output, container-runtime CRI files),
a file is generated once, then each case runs in a fresh process ``--repeat`` times (median
wall time, peak resident memory from ``wait4``, which covers the process and its children):

* ``incident collect``: one ``[[file]]`` table, file → raw copy with sha256 → events Parquet
  → manifest;
* ``isoparse``: a per-line Python loop of ``dateutil.parser.isoparse`` on the runtime stamp;
* ``pandas``: read, split the prefix, ``to_datetime``, write Parquet;
* ``pyarrow``: pyarrow.csv read, split, parse (a cast to timestamp), write Parquet;
* ``cp+sha256sum``: copying and hashing the file.

Ratios are against the collect of the same file in the same run. ``--compare`` runs another
build's ``incident`` (e.g. main's) on the same files; ``--workers N`` also collects with N
pieces parsed at once (the default is ``collector.files.pieces.WORKERS``: two on two CPUs).
``--mixed N`` also collects every real sample under ``../shared/data`` (one ``[[file]]`` table
per file, each its own stream), each file's content repeated N times. ``--profile LINES``
prints a cProfile of one collect, ``--profile-mixed N`` of the ``--mixed N`` case.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
PYTHON = sys.executable
INCIDENT = [str(Path(PYTHON).with_name("incident"))]
OTHER: list[str] = []  # --compare: another build's incident, run on the same files
WORKERS: list[int] = []  # --workers: this build with that many pieces parsed at once
_WITH_WORKERS = (
    "import sys; from incident_timeline.collector.files import pieces; "
    "pieces.WORKERS = int(sys.argv.pop(1)); from incident_timeline.report.cli import cli; cli()"
)
CASES = {"isoparse", "pandas", "pyarrow", "cp"}  # --baselines
WINDOW = ("2024-06-01T11:00:00Z", "2024-06-01T14:00:00Z")
BODIES = (
    'level=info ts={app} caller=main.go:216 msg="request served" path=/api/v1/cart status=200',
    '{{"level":"info","ts":"{app}","logger":"http","msg":"GET /healthz","duration_ms":3}}',
    "I0601 12:00:00.000000       1 controller.go:123] Reconciling deployment shop/api",
    "{app} ERROR [main] c.e.shop.CheckoutService - order 4711 failed: timeout",
    "    at com.example.shop.CheckoutService.place(CheckoutService.java:42)",
)


def generate(path: Path, lines: int, fmt: str, seed: int = 7) -> None:
    """``lines`` lines of ``kubectl logs --timestamps`` (fmt ``kubectl``) or a CRI file
    (``cri``: both streams, ~3 % partial lines), about 0.9 ms apart from 12:00 UTC."""
    rnd = random.Random(seed)
    ns = 1_717_243_200_000_000_000
    with path.open("w", encoding="utf-8") as handle:
        out: list[str] = []
        for i in range(lines):
            if len(out) == 20_000:
                handle.write("".join(out))
                out.clear()
            ns += rnd.randrange(0, 1_800_000)
            whole, frac = divmod(ns, 1_000_000_000)
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))
            runtime = f"{stamp}.{frac:09d}Z"
            body = rnd.choice(BODIES).format(app=f"{stamp}.{frac // 1_000_000:03d}Z")
            if fmt == "cri":
                stream = "stderr" if i % 11 == 0 else "stdout"
                tag = "P" if rnd.random() < 0.03 else "F"
                out.append(f"{runtime} {stream} {tag} {body}\n")
            else:
                out.append(f"{runtime} {body}\n")
        handle.write("".join(out))


def run(argv: list[str], cwd: Path | None = None) -> tuple[float, float, float]:
    """Wall seconds, peak RSS (MB) and CPU seconds (user + system) of one fresh process (and
    its children). CPU time is what to compare when the machine is shared and busy."""
    started = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    err = proc.stderr.read().decode() if proc.stderr else ""
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 3):
        raise SystemExit(f"{argv[:3]} failed ({code}): {err[-2000:]}")
    return wall, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime


Result = tuple[float, float, float]  # median wall s, max peak MB, median CPU s


def median_of(argv: list[str], repeat: int, before: object = None) -> Result:
    walls, peaks, cpus = [], [], []
    for _ in range(repeat):
        if callable(before):
            before()
        wall, peak, cpu = run(argv)
        walls.append(wall)
        peaks.append(peak)
        cpus.append(cpu)
    return statistics.median(walls), max(peaks), statistics.median(cpus)


def write_config(path: Path, files: list[tuple[Path, str]]) -> None:
    tables = "".join(
        f'[[file]]\npath = "{file}"\nformat = "{fmt}"\nstream = "s{i}"\n\n'
        for i, (file, fmt) in enumerate(files)
    )
    path.write_text('[incident]\ntitle = "bench"\n\n' + tables, encoding="utf-8")


def collect_argv(config: Path, out: Path, incident: list[str] = INCIDENT) -> list[str]:
    return [*incident, "collect", "-c", str(config), "--since", WINDOW[0], "--until", WINDOW[1]]


BASELINES = {
    "isoparse": """
import sys
from datetime import timezone
from dateutil.parser import isoparse
n = 0
for line in open(sys.argv[1], encoding="utf-8"):
    isoparse(line[:line.index(" ")]).astimezone(timezone.utc)
    n += 1
""",
    "pandas": """
import sys
import pandas as pd
with open(sys.argv[1], encoding="utf-8") as handle:
    lines = pd.Series(handle.read().splitlines(), dtype="string")
parts = lines.str.split(" ", n=1, expand=True)
frame = pd.DataFrame({"time": pd.to_datetime(parts[0], format="ISO8601", utc=True),
                      "message": parts[1]})
frame.to_parquet(sys.argv[2])
""",
    "pyarrow": """
import sys
import pyarrow as pa, pyarrow.compute as pc, pyarrow.csv as csv, pyarrow.parquet as pq
table = csv.read_csv(sys.argv[1],
    read_options=csv.ReadOptions(column_names=["line"]),
    parse_options=csv.ParseOptions(delimiter="\\x01", quote_char=False, escape_char=False,
                                   newlines_in_values=False),
    convert_options=csv.ConvertOptions(column_types={"line": pa.string()}))
parts = pc.split_pattern(table["line"], " ", max_splits=1)
stamp = pc.list_element(parts, 0)
message = pc.list_element(parts, 1)
time = pc.cast(stamp, pa.timestamp("ns", tz="UTC"))
pq.write_table(pa.table({"time": time, "message": message}), sys.argv[2])
""",
}


def one_size(lines: int, fmt: str, tmp: Path, repeat: int) -> dict[str, Result]:
    """Every case on one generated file: {case: (median wall, peak MB)}."""
    data = tmp / f"{fmt}-{lines}.log"
    generate(data, lines, fmt)
    config = tmp / f"{fmt}-{lines}.toml"
    write_config(config, [(data, "kubectl-logs" if fmt == "kubectl" else "cri")])
    out = tmp / "bundle"

    def clean() -> None:
        shutil.rmtree(out, ignore_errors=True)

    results = {"collect": median_of([*collect_argv(config, out), "-o", str(out)], repeat, clean)}
    if OTHER:
        argv = [*collect_argv(config, out, OTHER), "-o", str(out)]
        results["collect (other)"] = median_of(argv, repeat, clean)
    for workers in WORKERS:
        incident = [PYTHON, "-c", _WITH_WORKERS, str(workers)]
        argv = [*collect_argv(config, out, incident), "-o", str(out)]
        results[f"collect ({workers} w)"] = median_of(argv, repeat, clean)
    for name, code in BASELINES.items():
        if name not in CASES:
            continue
        argv = [PYTHON, "-c", code, str(data), str(tmp / "baseline.parquet")]
        results[name] = median_of(argv, 1 if name == "isoparse" else repeat)
    copy = f'cp "{data}" "{tmp}/copy" && sha256sum "{tmp}/copy"'
    if "cp" in CASES:
        results["cp+sha256sum"] = median_of(["sh", "-c", copy], repeat)
    results["_bytes"] = (data.stat().st_size / 1e6, 0.0, 0.0)
    data.unlink()
    (tmp / "copy").unlink(missing_ok=True)
    return results


def report(lines: int, fmt: str, results: dict[str, Result]) -> None:
    """One table per file: ``collect ×`` is how many times faster collect is than the case
    (wall; ≥ 1.0 against pyarrow and ≥ 10 against isoparse is the target), ``cpu ×`` the same
    by CPU time; the load average says how busy the shared machine was."""
    size = results.pop("_bytes")[0]
    base, base_cpu = results["collect"][0], results["collect"][2]
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\n{fmt}: {lines:,} lines ({size:,.0f} MB), load average {load}")
    print(
        f"  {'case':<16}{'wall s':>8}{'lines/s':>12}{'peak MB':>9}{'cpu s':>8}"
        f"{'collect ×':>11}{'cpu ×':>8}"
    )
    for name, (wall, peak, cpu) in results.items():
        ratio = wall / base if base else float("nan")
        cpu_ratio = cpu / base_cpu if base_cpu else float("nan")
        print(
            f"  {name:<16}{wall:>8.2f}{lines / wall:>12,.0f}{peak:>9.0f}{cpu:>8.2f}"
            f"{ratio:>11.2f}{cpu_ratio:>8.2f}"
        )


def memory(sizes: list[int], peaks: dict[str, list[float]]) -> None:
    """Peak RSS of collect by input size, per format: flat is the target (≤ 500 MB)."""
    print("\npeak RSS of collect (MB) by lines")
    print(f"  {'format':<10}" + "".join(f"{n:>12,}" for n in sizes))
    for fmt, row in peaks.items():
        print(f"  {fmt:<10}" + "".join(f"{p:>12.0f}" for p in row))


def mixed(tmp: Path, repeat: int, times: int) -> None:
    """Every real sample under ../shared/data, one [[file]] table (own stream) each; with
    ``times`` > 1 each file's content is repeated so that start-up does not dominate."""
    files, lines, config = mixed_config(tmp, times)
    out = tmp / "mixed-bundle"
    print(f"\nmixed real formats: {len(files)} files (each ×{times}), {lines:,} lines")
    builds = [("collect", INCIDENT)] + ([("collect (other)", OTHER)] if OTHER else [])
    for name, incident in builds:
        argv = [*collect_argv(config, out, incident), "-o", str(out)]
        wall, peak, cpu = median_of(argv, repeat, lambda: shutil.rmtree(out, ignore_errors=True))
        print(
            f"  {name:<16}{wall:>7.2f} s {lines / wall:>12,.0f} lines/s  peak {peak:.0f} MB"
            f"  cpu {cpu:.2f} s ({lines / cpu:,.0f} lines per CPU second)"
        )
    print(f"  load average {', '.join(f'{x:.1f}' for x in os.getloadavg())}")


def mixed_config(tmp: Path, times: int) -> tuple[list[Path], int, Path]:
    """The files of the mixed case (copies holding each sample ``times`` over), their lines
    and a config with one [[file]] table per file."""
    skip = (".SOURCE", ".csv", ".md")
    files = sorted(
        p
        for p in SHARED.rglob("*")
        if p.is_file() and not p.name.endswith(skip) and p.name != "LICENSE"
    )
    if times > 1:
        (tmp / "mixed").mkdir(exist_ok=True)
        copies = []
        for i, p in enumerate(files):
            data = p.read_bytes()
            copy = tmp / "mixed" / f"{i:03d}-{p.name}"
            copy.write_bytes(data if data.endswith(b"\n") or not data else data + b"\n")
            copy.write_bytes(copy.read_bytes() * times)
            copies.append(copy)
        files = copies
    lines = sum(len(p.read_bytes().splitlines()) for p in files)
    config = tmp / "mixed.toml"
    write_config(config, [(p, "auto") for p in files])
    return files, lines, config


def profile(lines: int, fmt: str, tmp: Path) -> None:
    """cProfile of one collect of a generated file (see `profiled`)."""
    data = tmp / f"profile-{fmt}.log"
    generate(data, lines, fmt)
    config = tmp / "profile.toml"
    write_config(config, [(data, "kubectl-logs" if fmt == "kubectl" else "cri")])
    profiled(config, f"{fmt}, {lines:,} lines", tmp)


def profiled(config: Path, what: str, tmp: Path, top: int = 25) -> None:
    """cProfile of one collect in this process; prints the top functions by own time. Sources
    run in worker threads (cProfile sees one thread only), so the file collector's ``collect``
    is profiled from inside its thread, with pieces parsed one at a time (in that thread)."""
    from click.testing import CliRunner

    from incident_timeline.collector.files import pieces
    from incident_timeline.collector.files.collector import FileCollector
    from incident_timeline.report.cli import cli

    out = tmp / "profile-bundle"
    shutil.rmtree(out, ignore_errors=True)
    prof = cProfile.Profile()
    original = FileCollector.collect

    def profiled(self: FileCollector, *args: object, **kwargs: object) -> dict[str, int]:
        prof.enable()
        try:
            return original(self, *args, **kwargs)  # type: ignore[arg-type]
        finally:
            prof.disable()

    FileCollector.collect = profiled  # type: ignore[method-assign]
    workers, pieces.WORKERS = pieces.WORKERS, 1
    try:
        started = time.perf_counter()
        result = CliRunner().invoke(cli, [*collect_argv(config, out)[1:], "-o", str(out)])
        wall = time.perf_counter() - started
    finally:
        FileCollector.collect = original  # type: ignore[method-assign]
        pieces.WORKERS = workers
    if result.exit_code not in (0, 3):
        raise SystemExit(f"collect failed ({result.exit_code}): {result.output[-2000:]}")
    print(f"\ncProfile of collect, {what}, {wall:.2f} s under the profiler")
    stats = pstats.Stats(prof)
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", default="200000,500000", help="comma-separated sizes")
    parser.add_argument("--formats", default="kubectl,cri")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--mixed", type=int, default=0, help="repeat each real file N times")
    parser.add_argument("--compare", help="another build's incident command, same cases")
    parser.add_argument("--workers", default="", help="also collect with N pieces at once: 2,3")
    parser.add_argument("--baselines", default=",".join(sorted(CASES)), help="'' for none")
    parser.add_argument("--profile", type=int, default=0, help="lines to profile (0: none)")
    parser.add_argument("--profile-mixed", type=int, default=0, help="profile --mixed N's case")
    parser.add_argument("--keep", type=Path, help="work directory (default: a temp dir)")
    args = parser.parse_args()
    if args.compare:
        OTHER.append(args.compare)
    WORKERS.extend(int(n) for n in args.workers.split(",") if n)
    CASES.intersection_update(args.baselines.split(","))
    tmp = args.keep or Path(tempfile.mkdtemp(prefix="ingest-bench-"))
    tmp.mkdir(parents=True, exist_ok=True)
    try:
        sizes = [int(n) for n in args.lines.split(",")]
        peaks: dict[str, list[float]] = {}
        for fmt in args.formats.split(","):
            for lines in sizes:
                results = one_size(lines, fmt, tmp, args.repeat)
                peaks.setdefault(fmt, []).append(results["collect"][1])
                report(lines, fmt, results)
        if len(sizes) > 1:
            memory(sizes, peaks)
        if args.mixed:
            mixed(tmp, args.repeat, args.mixed)
        if args.profile:
            for fmt in args.formats.split(","):
                profile(args.profile, fmt, tmp)
        if args.profile_mixed:
            files, lines, config = mixed_config(tmp, args.profile_mixed)
            profiled(config, f"{len(files)} real files ×{args.profile_mixed}, {lines:,} lines", tmp)
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

"""Throughput and peak memory of timestamp parsing, with per-line dateutil baselines.

    python bench/timeparse_bench.py [--lines 1000000] [--baseline-lines 200000] [--threads 2]

Three workloads, each measured from the file on disk to UTC instants:

* container-runtime (CRI) lines, ``<RFC 3339 nano> stdout|stderr F|P <text>``, generated with
  realistic payloads (logfmt, JSON, klog, plain text) and some partial lines;
* the mixed real formats of ``../shared/data`` (loghub, k8s, extra), one stream per file:
  once as they are (many small files) and once with every file repeated so the whole holds
  about ``--lines`` lines.

* one message written in a built-in layout (ISO 8601), and as HealthApp writes its time
  (``20171223-22:15:29:606``) read with a user's ``time_format`` and with the layout the
  engine infers; HPC-style lines with epoch seconds mid-line, inferred and with ``epoch_s``.

Every case runs in a fresh process: one first run, whose peak resident memory (VmHWM) is
reported ("added": that peak minus the process's size with its libraries loaded), then the
best of ``--repeat`` timed runs. Baselines run on the first ``--baseline-lines`` lines of the
same file: per line, split off the timestamp and hand it to ``dateutil.parser.parse`` or
``isoparse``, then convert to UTC.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "data"
WINDOW = ("2024-01-01T00:00:00Z", "2025-01-01T00:00:00Z")


def make_cri(path: Path, lines: int, seed: int = 7) -> None:
    """Write ``lines`` runtime lines: 1 ms apart on average, both streams, ~3 % partial."""
    rnd = random.Random(seed)
    start = 1_717_243_200_000_000_000  # 2024-06-01T12:00:00Z in ns
    bodies = [
        'level=info ts={app} caller=main.go:216 msg="request served" path=/api/v1/cart status=200',
        '{{"level":"info","ts":"{app}","logger":"http","msg":"GET /healthz","duration_ms":3}}',
        "I0601 12:00:00.000000       1 controller.go:123] Reconciling deployment shop/api",
        "{app} INFO  [main] c.e.shop.CheckoutService - order 4711 placed",
        "    at com.example.shop.CheckoutService.place(CheckoutService.java:42)",
    ]
    out: list[str] = []
    ns = start
    handle = path.open("w", encoding="utf-8")
    for i in range(lines):
        if len(out) == 10_000:  # write as we go: the driver's own memory stays small
            handle.write("".join(out))
            out.clear()
        ns += rnd.randrange(0, 2_000_000)
        whole, frac = divmod(ns, 1_000_000_000)
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))
        digits = f"{frac:09d}".rstrip("0")
        runtime = f"{stamp}.{digits}Z" if digits else f"{stamp}Z"
        app = f"{stamp}.{frac // 1_000_000:03d}Z"
        stream = "stderr" if i % 11 == 0 else "stdout"
        tag = "P" if rnd.random() < 0.03 else "F"
        out.append(f"{runtime} {stream} {tag} {rnd.choice(bodies).format(app=app)}\n")
    handle.write("".join(out))
    handle.close()


# One message, four ways of writing its time: as built-in families read it (ISO 8601, with its
# byte-level fast path; and yyyy/mm/dd, a calendar family read by regex like every other), and
# as HealthApp (loghub) writes it, read with a user's time_format or with the layout the engine
# infers from a sample and the window.
LAYOUTS = {
    "builtin-iso": ("{iso}|Step_LSC|30002312|onStandStepChanged {n}", None),
    "builtin": ("{slash}|Step_LSC|30002312|onStandStepChanged {n}", None),
    "format": ("{compact}|Step_LSC|30002312|onStandStepChanged {n}", "%Y%m%d-%H:%M:%S:%3f"),
    "inferred": ("{compact}|Step_LSC|30002312|onStandStepChanged {n}", None),
    "epoch-inferred": ("{n} node-{node} hw state_change {epoch} 1 Component State Change", None),
    "epoch-format": ("{n} node-{node} hw state_change {epoch} 1 Component State Change", "epoch_s"),
}


def make_layout(path: Path, lines: int, how: str) -> None:
    """``lines`` lines 1 ms apart from 2024-06-01T12:00:00Z in layout ``how`` (LAYOUTS)."""
    template = LAYOUTS[how][0]
    start = 1_717_243_200_000  # ms
    with path.open("w", encoding="utf-8") as handle:
        for chunk in range(0, lines, 10_000):
            out = []
            for n in range(chunk, min(lines, chunk + 10_000)):
                ms = start + n
                whole, frac = divmod(ms, 1000)
                day = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(whole))
                compact = time.strftime("%Y%m%d-%H:%M:%S", time.gmtime(whole))
                out.append(
                    template.format(
                        iso=f"{day}.{frac:03d}",
                        slash=f"{day.replace('-', '/')}.{frac:03d}",
                        compact=f"{compact}:{frac:03d}",
                        n=n,
                        node=n % 64,
                        epoch=whole,
                    )
                    + "\n"
                )
            handle.write("".join(out))


def mixed_files() -> list[Path]:
    """Every log sample under ../shared/data (not the CSVs, notices or sidecars)."""
    skip = (".SOURCE", ".csv", ".md")
    return sorted(
        p
        for p in SHARED.rglob("*")
        if p.is_file() and not p.name.endswith(skip) and p.name != "LICENSE"
    )


# ----------------------------------------------------------------------------- worker side


def case_cri_engine(path: Path, app: bool, threads: int) -> Callable[[], int]:
    """The engine: runtime file to records with UTC times (and the apps' own stamps)."""
    import pandas as pd

    from incident_timeline.timeline.timestamps.engine import parse_timestamps
    from incident_timeline.timeline.timestamps.runtime import read_runtime_log

    window = tuple(pd.Timestamp(t) for t in WINDOW)

    def run() -> int:
        records = read_runtime_log(path.read_bytes(), threads=threads)
        if app:
            parse_timestamps(records["message"], "UTC", window)
        return int(records["partial"].sum() + len(records))

    return run


def case_cri_baseline(path: Path, limit: int, how: str) -> Callable[[], int]:
    """Per line: split off the runtime stamp, dateutil ``parse``/``isoparse``, to UTC."""
    from dateutil import parser

    parse = parser.isoparse if how == "isoparse" else parser.parse

    def run() -> int:
        with path.open(encoding="utf-8") as handle:
            lines = [line for _, line in zip(range(limit), handle, strict=False)]
        times = [parse(line.split(" ", 1)[0]).astimezone(UTC) for line in lines]
        return len(times)

    return run


def case_cri_collector(path: Path, limit: int) -> Callable[[], int]:
    """The file collector's whole ``cri`` path, to the validated event frame."""
    import pandas as pd

    from incident_timeline.collector.files.collector import parse
    from incident_timeline.collector.formats import Context

    data = b"".join(path.open("rb").readlines()[:limit])
    ctx = Context(
        ref="raw/file/0.log",
        stream="shop/api/app",
        fallback_time=pd.Timestamp(WINDOW[0]),
        window_end=pd.Timestamp(WINDOW[1]),
    )

    def run() -> int:
        parse("cri", data, ctx)
        return data.count(b"\n")

    return run


def case_one_stream(files: list[Path], repeat: int, threads: int) -> Callable[[], int]:
    """Every sample file concatenated into one stream that mixes all their formats."""
    import pandas as pd

    from incident_timeline.timeline.timestamps.engine import parse_timestamps
    from incident_timeline.timeline.timestamps.runtime import lines_series, split_lines

    window = tuple(pd.Timestamp(t) for t in WINDOW)

    def run() -> int:
        data = b"".join(p.read_bytes().rstrip(b"\n") + b"\n" for p in files) * repeat
        lines = lines_series(split_lines(data))
        parse_timestamps(lines, "UTC", window, threads=threads)
        return len(lines)

    return run


def case_mixed(files: list[Path], repeat: int, threads: int) -> Callable[[], int]:
    """One stream per sample file (each repeated ``repeat`` times), each learning its own
    formats."""
    import pandas as pd

    from incident_timeline.timeline.timestamps.engine import parse_streams
    from incident_timeline.timeline.timestamps.runtime import lines_series, split_lines

    window = tuple(pd.Timestamp(t) for t in WINDOW)

    def run() -> int:
        streams = {}
        for path in files:
            data = path.read_bytes()
            streams[path.name] = lines_series(split_lines(data * repeat if repeat > 1 else data))
        parse_streams(streams, "UTC", window, threads=threads)
        return sum(len(s) for s in streams.values())

    return run


def case_mixed_baseline(files: list[Path], limit: int) -> Callable[[], int]:
    """Per line: Python's re over the same family table, then dateutil on what it found."""
    from dateutil import parser

    from incident_timeline.timeline.timestamps.families import (
        FAMILIES,
        LOOSE,
        compiled,
        identify_regex,
    )

    finder = compiled(identify_regex(FAMILIES) + "|" + LOOSE)

    def run() -> int:
        count = 0
        for path in files:
            for line in path.read_text(errors="replace").splitlines()[:limit]:
                count += 1
                match = finder.search(line)
                if match:
                    with contextlib.suppress(ValueError, OverflowError):
                        parser.parse(match.group(), fuzzy=True)
        return count

    return run


def case_layout(path: Path, how: str, threads: int) -> Callable[[], int]:
    """The engine on one stream in layout ``how``: a built-in family, a user's time_format,
    or a layout inferred from the sample and the window."""
    import pandas as pd

    from incident_timeline.timeline.timestamps.engine import parse_timestamps
    from incident_timeline.timeline.timestamps.runtime import lines_series, split_lines

    window = tuple(pd.Timestamp(t) for t in WINDOW)
    fmt = LAYOUTS[how][1]
    families = None
    if fmt is not None:
        from incident_timeline.timeline.timestamps.layout import compile_format

        families = (compile_format(fmt),)

    def run() -> int:
        lines = lines_series(split_lines(path.read_bytes()))
        got = parse_timestamps(lines, "UTC", window, threads=threads, families=families)
        assert got["time"].notna().all(), how
        return len(lines)

    return run


def worker(spec: dict[str, object]) -> None:
    """Run one case in this process and print its figures as one JSON line."""
    import dateutil.parser  # noqa: F401  (the libraries are loaded before "before")
    import pandas  # noqa: F401
    import pyarrow.compute  # noqa: F401

    before = _rss_mb()
    case = str(spec["case"])
    path, limit, threads = Path(str(spec["path"])), int(spec["limit"]), int(spec["threads"])
    if case.startswith("cri-engine"):
        run = case_cri_engine(path, case.endswith("app"), threads)
    elif case.startswith("cri-dateutil"):
        run = case_cri_baseline(path, limit, case.removeprefix("cri-dateutil-"))
    elif case == "cri-collector":
        run = case_cri_collector(path, limit)
    elif case == "mixed-baseline":
        run = case_mixed_baseline(mixed_files(), limit)
    elif case == "one-stream":
        run = case_one_stream(mixed_files(), int(spec["tile"]), threads)
    elif case.startswith("layout-"):
        run = case_layout(Path(str(spec["layout_path"])), case.removeprefix("layout-"), threads)
    else:
        run = case_mixed(mixed_files(), int(spec["tile"]), threads)
    lines = run()  # warm-up (regex compilation, allocator); its peak is one run's peak
    peak = _rss_mb()
    best = min(_timed(run) for _ in range(int(spec["repeat"])))
    print(json.dumps({"lines": lines, "seconds": best, "peak_mb": peak, "added_mb": peak - before}))


def _timed(run: Callable[[], int]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def _rss_mb() -> float:
    """Peak resident size of this process so far. /proc's VmHWM starts afresh at exec, unlike
    ru_maxrss, which a child inherits from the parent that forked it."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ----------------------------------------------------------------------------- driver side


def measure(spec: dict[str, object]) -> dict[str, float]:
    """Run one case in a fresh interpreter and return its figures."""
    out = subprocess.run(
        [sys.executable, __file__, "--worker", json.dumps(spec)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    """Generate the CRI file, run every case, print the table and the ratios."""
    args = _arguments()
    if args.worker:
        worker(json.loads(args.worker))
        return
    with tempfile.TemporaryDirectory() as tmp:
        cri = Path(tmp) / "cri.log"
        make_cri(cri, args.lines)
        base = {
            "path": str(cri),
            "limit": args.baseline_lines,
            "threads": args.threads,
            "repeat": args.repeat,
            "tile": 1,
        }
        corpus = mixed_files()
        total = sum(len(p.read_bytes().splitlines()) for p in corpus)
        tile = max(1, round(args.lines / max(total, 1)))
        cases = [
            ("cri", f"engine, {args.threads} threads", {"case": "cri-engine"}),
            ("cri", "engine, 1 thread", {"case": "cri-engine", "threads": 1}),
            ("cri", "engine + app timestamps", {"case": "cri-engine-app"}),
            ("cri", "dateutil.parser.parse", {"case": "cri-dateutil-parse"}),
            ("cri", "dateutil.parser.isoparse", {"case": "cri-dateutil-isoparse"}),
            ("cri", "collector to event frame", {"case": "cri-collector"}),
        ]
        if corpus:
            cases += [
                (
                    "mixed",
                    f"engine, {len(corpus)} files as they are",
                    {"case": "mixed", "threads": 1},
                ),
                (
                    "mixed",
                    f"engine, {len(corpus)} files as they are, {args.threads} threads",
                    {"case": "mixed"},
                ),
                ("mixed", f"engine, each file x{tile}", {"case": "mixed", "tile": tile}),
                (
                    "mixed",
                    f"engine, each file x{tile}, 1 thread",
                    {"case": "mixed", "tile": tile, "threads": 1},
                ),
                (
                    "mixed",
                    f"engine, all files as one stream x{tile}",
                    {"case": "one-stream", "tile": tile},
                ),
                ("mixed", "re + dateutil.parse per line", {"case": "mixed-baseline"}),
            ]
        for how in LAYOUTS:
            layout_path = Path(tmp) / f"layout-{how}.log"
            make_layout(layout_path, args.lines, how)
            cases.append(
                (
                    "layout",
                    f"{how}, 1 thread",
                    {"case": f"layout-{how}", "threads": 1, "layout_path": str(layout_path)},
                )
            )
        if args.only:
            cases = [c for c in cases if c[0] in args.only.split(",")]
        rows = []
        for workload, label, extra in cases:
            figures = measure({**base, **extra})
            rows.append((workload, label, figures))
            print(f"  measured {workload}: {label}", file=sys.stderr)
    _report(rows, args)


def _report(rows: list[tuple[str, str, dict[str, float]]], args: argparse.Namespace) -> None:
    print(
        f"\nTimestamp parsing, file to UTC ({args.lines:,} generated CRI lines; "
        f"baselines on the first {args.baseline_lines:,})\n"
    )
    print(
        f"{'workload':8} {'case':42} {'lines':>10} {'lines/s':>12} {'peak MB':>8} {'added MB':>8}"
    )
    speed = {}
    for workload, label, f in rows:
        rate = f["lines"] / f["seconds"]
        speed[(workload, label)] = rate
        print(
            f"{workload:8} {label:42} {int(f['lines']):>10,} {rate:>12,.0f} "
            f"{f['peak_mb']:>8.0f} {f['added_mb']:>8.0f}"
        )
    print()
    engine = speed.get(("cri", f"engine, {args.threads} threads"))
    for label in ("dateutil.parser.parse", "dateutil.parser.isoparse"):
        if engine and ("cri", label) in speed:
            print(f"CRI engine vs per-line {label}: {engine / speed[('cri', label)]:.1f}x")
    builtin = speed.get(("layout", "builtin, 1 thread"))
    for how in ("format", "inferred"):
        if builtin and ("layout", f"{how}, 1 thread") in speed:
            ratio = speed[("layout", f"{how}, 1 thread")] / builtin
            print(f"layout {how} vs the built-in family, same lines: {ratio:.2f}x")
    epoch = speed.get(("layout", "epoch-format, 1 thread"))
    if epoch and ("layout", "epoch-inferred, 1 thread") in speed:
        ratio = speed[("layout", "epoch-inferred, 1 thread")] / epoch
        print(f"inferred epoch mid-line vs time_format = epoch_s: {ratio:.2f}x")


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--baseline-lines", type=int, default=200_000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--only", help="comma-separated workloads to run (cri, mixed, layout)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    return parser.parse_args()


if __name__ == "__main__":
    main()

"""Downstream commands on a big bundle against DuckDB and pandas baselines, same run.

    python bench/downstream_bench.py [--events 4000000] [--repeat 3] [--compare INCIDENT]
                                     [--cases 'timeline csv -o,clocks'] [--keep DIR [--reuse]]

The bundle is the bundled example incident (``incident demo``: every source, key events,
clock and gap findings) with ``--events`` synthetic pod-log events added to its events
Parquet, written directly in the bundle layout (row group by row group, as the collector's
EventsWriter does) and recorded in the manifest with sha256 and size: 16 pods logging
through the incident window, 2 % errors, the app's own millisecond clock as embedded_time.
Generating the lines and collecting them would measure the collector, not the commands here.

Each case runs in a fresh process ``--repeat`` times (median wall time; peak resident memory
from ``wait4``, which covers the process and its children):

* ``timeline csv -o``: ``incident timeline B --format csv -o x.csv``; ``timeline csv``: to
  stdout; ``timeline jsonl``, ``timeline md``: to stdout;
* ``key-only``, ``clocks``, ``report`` (``incident report B --force``);
* ``duckdb COPY``: DuckDB's ``COPY (SELECT * FROM read_parquet(...) ORDER BY time, source,
  stream, file_row_number, ref) TO 'x.csv'`` (the timeline's own sort key);
* ``read_parquet``: ``pandas.read_parquet`` of the events, nothing else;
* ``read+sort+csv``: pyarrow read, sort on the timeline key, ``pyarrow.csv.write_csv``.

``timeline csv -o``, ``timeline csv``, ``timeline jsonl`` and ``key-only`` stream the timeline
(report/stream.py): their sorted runs go to ``$TMPDIR`` (about 1.6 times the events Parquet),
which the peak resident memory does not count. Ratios are against ``duckdb COPY`` and
``read_parquet`` of the same run. ``--compare`` runs
another build's ``incident`` (e.g. main's) on the same bundle; run this script with another
build's Python to measure that build alone.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

PYTHON = sys.executable
INCIDENT = [str(Path(PYTHON).with_name("incident"))]
ROW_GROUP = 1 << 17  # the collector's EventsWriter row group
PODS = 16
SINCE_NS = 1_771_336_800_000_000_000  # 2026-02-17T14:00:00Z, the example's window start
SPAN_NS = 90 * 60 * 1_000_000_000
BODIES = (
    ('level=info msg="request served" path=/api/v1/cart status=200 req={n}', "info", 60),
    ('level=info msg="GET /healthz" duration_ms=3 req={n}', "info", 30),
    ('level=warn msg="slow upstream" upstream=payments latency_ms=812 req={n}', "warning", 8),
    ('level=error msg="order failed: timeout" order={n} upstream=payments', "error", 2),
)


def _text(values: pa.Array) -> pa.Array:
    return pc.cast(values, pa.string())


def synthetic(pod: int, rows: int, first_row: int, rnd: np.random.Generator) -> pa.Table:
    """``rows`` log events of one pod, in time order, spread over the incident window."""
    times = np.sort(rnd.integers(SINCE_NS, SINCE_NS + SPAN_NS, rows, dtype=np.int64))
    stamp = pa.array(times, pa.timestamp("ns", tz="UTC"))
    app = pc.cast(pc.floor_temporal(stamp, unit="millisecond"), pa.timestamp("ms", tz="UTC"))
    raw = pc.strftime(stamp, "%Y-%m-%dT%H:%M:%SZ")
    app_text = pc.strftime(app, "%Y-%m-%dT%H:%M:%SZ")
    weights = np.array([w for *_, w in BODIES], dtype=float)
    pick = rnd.choice(len(BODIES), rows, p=weights / weights.sum())
    numbers = _text(pa.array(rnd.integers(1000, 99999, rows)))
    parts = [pc.split_pattern(pa.array([b for b, *_ in BODIES]), "{n}")[i] for i in range(4)]
    heads = pc.take(pa.array([p[0].as_py() for p in parts]), pa.array(pick))
    tails = pc.take(pa.array([p[1].as_py() for p in parts]), pa.array(pick))
    summary = pc.binary_join_element_wise(heads, numbers, tails, "")
    message = pc.binary_join_element_wise(pc.utf8_slice_codeunits(app_text, 0, 100), summary, " ")
    lines = _text(pa.array(np.arange(first_row + 1, first_row + rows + 1)))
    name = f"bench-api-7d9f6c-{'bcdfghjklmnpqrstv'[pod]}x{pod:03d}"
    labels = json.dumps({"container": "app", "namespace": "bench", "pod": name}, sort_keys=True)
    return pa.table(
        {
            "time": stamp,
            "source": pa.array(["kubernetes"] * rows),
            "stream": pa.array([f"bench/{name}/app"] * rows),
            "kind": pa.array(["log"] * rows),
            "severity": pc.take(pa.array([s for _, s, _ in BODIES]), pa.array(pick)),
            "actor": pa.nulls(rows, pa.string()),
            "summary": summary,
            "message": message,
            "labels": pa.array([labels] * rows),
            "time_raw": raw,
            "time_quality": pa.array(["exact"] * rows),
            "embedded_time": pc.cast(app, pa.timestamp("ns", tz="UTC")),
            "ref": pc.binary_join_element_wise(
                pa.array([f"raw/file/bench/{name}.log#L"] * rows), lines, ""
            ),
        }
    )


def make_bundle(out: Path, events: int) -> None:
    """The example incident's bundle with ``events`` synthetic log events added."""
    shutil.rmtree(out, ignore_errors=True)
    subprocess.run([*INCIDENT, "demo", "-o", str(out)], check=True, capture_output=True)
    for name in ("timeline.md", "postmortem.md", "postmortem-timeline.csv", "report.html"):
        (out / name).unlink(missing_ok=True)
    (out / "report-state.json").unlink(missing_ok=True)
    shutil.rmtree(out / "figures", ignore_errors=True)
    path = out / "events" / "file.parquet"
    demo = pq.read_table(path)
    from incident_timeline.timeline.schema import SCHEMA

    rnd = np.random.default_rng(7)
    tmp = path.with_suffix(".tmp")
    with pq.ParquetWriter(tmp, SCHEMA) as writer:
        writer.write_table(demo.cast(SCHEMA), row_group_size=ROW_GROUP)
        per_pod = events // PODS
        for pod in range(PODS):
            rows = per_pod if pod < PODS - 1 else events - per_pod * (PODS - 1)
            done = 0
            while done < rows:
                n = min(ROW_GROUP, rows - done)
                writer.write_table(synthetic(pod, n, done, rnd).cast(SCHEMA))
                done += n
    tmp.replace(path)
    _fix_manifest(out, path, len(demo) + events)


def _fix_manifest(out: Path, path: Path, total: int) -> None:
    manifest = json.loads((out / "manifest.json").read_text())
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    rel = "events/file.parquet"
    manifest["files"][rel] = {"sha256": digest.hexdigest(), "bytes": path.stat().st_size}
    manifest["sources"]["file"]["counts"]["events"] = total
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")


def run(argv: list[str], stdout: Path | None = None) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one fresh process (and its children)."""
    sink = stdout.open("wb") if stdout else subprocess.DEVNULL
    started = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=sink, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    err = proc.stderr.read().decode() if proc.stderr else ""
    if stdout:
        sink.close()  # type: ignore[union-attr]
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 3):
        raise SystemExit(f"{argv[:4]} failed ({code}): {err[-2000:]}")
    return wall, usage.ru_maxrss / 1024


def median_of(argv: list[str], repeat: int, stdout: Path | None = None) -> tuple[float, float]:
    walls, peaks = [], []
    for _ in range(repeat):
        wall, peak = run(argv, stdout)
        walls.append(wall)
        peaks.append(peak)
    return statistics.median(walls), max(peaks)


DUCKDB = """
import sys, duckdb
con = duckdb.connect()
con.execute(f\"\"\"COPY (SELECT * EXCLUDE (file_row_number) FROM
  read_parquet('{sys.argv[1]}/events/*.parquet', file_row_number=true)
  ORDER BY time, source, stream, file_row_number, ref) TO '{sys.argv[2]}' (HEADER)\"\"\")
"""
READ = """
import sys, glob, pandas as pd
frames = [pd.read_parquet(p) for p in sorted(glob.glob(sys.argv[1] + '/events/*.parquet'))]
print(sum(len(f) for f in frames))
"""
SORT_CSV = """
import sys, glob, pyarrow as pa, pyarrow.parquet as pq, pyarrow.csv as csv
tables = [pq.read_table(p) for p in sorted(glob.glob(sys.argv[1] + '/events/*.parquet'))]
table = pa.concat_tables(tables)
table = table.sort_by([(c, "ascending") for c in ("time", "source", "stream", "ref")])
csv.write_csv(table, sys.argv[2])
"""


def cases(bundle: Path, tmp: Path, incident: list[str]) -> dict[str, tuple[list[str], bool]]:
    """name -> (argv, stdout to a file)."""
    b = str(bundle)
    return {
        "timeline csv -o": ([*incident, "timeline", b, "--format", "csv", "-o", f"{tmp}/t.csv"], 0),
        "timeline csv": ([*incident, "timeline", b, "--format", "csv"], True),
        "timeline jsonl": ([*incident, "timeline", b, "--format", "jsonl"], True),
        "timeline md": ([*incident, "timeline", b, "--format", "md"], True),
        "key-only": ([*incident, "timeline", b, "--key-only"], True),
        "clocks": ([*incident, "clocks", b], True),
        "report": ([*incident, "report", b, "--force", "-o", f"{tmp}/pm.md"], True),
    }


def baselines(bundle: Path, tmp: Path) -> dict[str, list[str]]:
    return {
        "duckdb COPY": [PYTHON, "-c", DUCKDB, str(bundle), f"{tmp}/duck.csv"],
        "read_parquet": [PYTHON, "-c", READ, str(bundle)],
        "read+sort+csv": [PYTHON, "-c", SORT_CSV, str(bundle), f"{tmp}/sort.csv"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=4_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--compare", help="another build's incident command, same cases")
    parser.add_argument("--cases", help="comma-separated case names (default: all)")
    parser.add_argument("--keep", type=Path, help="work directory (default: a temp dir)")
    parser.add_argument("--reuse", action="store_true", help="keep's bundle as it is, if made")
    args = parser.parse_args()
    tmp = args.keep or Path(tempfile.mkdtemp(prefix="downstream-bench-"))
    tmp.mkdir(parents=True, exist_ok=True)
    bundle = tmp / "bundle"
    try:
        started = time.perf_counter()
        if not (args.reuse and (bundle / "manifest.json").exists()):
            make_bundle(bundle, args.events)
        size = (bundle / "events" / "file.parquet").stat().st_size / 1e6
        print(
            f"bundle: example + {args.events:,} events, events Parquet {size:,.0f} MB "
            f"(made in {time.perf_counter() - started:.0f} s)"
        )
        wanted = set(args.cases.split(",")) if args.cases else None
        results: dict[str, tuple[float, float]] = {}
        for name, argv in baselines(bundle, tmp).items():
            results[name] = median_of(argv, args.repeat)
        builds = [("", INCIDENT)] + ([(" (other)", args.compare.split())] if args.compare else [])
        for suffix, incident in builds:
            for name, (argv, to_file) in cases(bundle, tmp, incident).items():
                if wanted is None or name in wanted:
                    out = tmp / "stdout" if to_file else None
                    results[name + suffix] = median_of(argv, args.repeat, out)
        duck, read = results["duckdb COPY"][0], results["read_parquet"][0]
        print(f"{'case':<26}{'wall s':>9}{'peak MB':>10}{'× duckdb':>10}{'× read':>9}")
        for name, (wall, peak) in results.items():
            print(f"{name:<26}{wall:>9.2f}{peak:>10.0f}{wall / duck:>10.2f}{wall / read:>9.2f}")
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

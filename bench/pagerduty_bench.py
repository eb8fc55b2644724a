#!/usr/bin/env python3
"""Collect one PagerDuty incident's log from the loopback double, below and past the 10,000
offset ceiling; print requests, seconds and entries per second, and the ratio of the split
case to the unsplit baseline measured in the same run.

    python bench/pagerduty_bench.py                  # 5,000 vs 12,000 entries
    python bench/pagerduty_bench.py --small 2000 --large 30000

Both runs go through ``incident collect --pagerduty-incident`` (CLI, HTTP, parsing, Parquet).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.doubles.pagerduty import PagerDutyDouble, incident, serving
from tests.doubles.pagerduty_story import many_entries
from tests.support import cli

TOKEN = "bench-pagerduty-token"


def run(count: int) -> tuple[int, float]:
    """(requests, seconds) to collect an incident with ``count`` log entries."""
    double = PagerDutyDouble(token=TOKEN)
    double.add(
        incident("QBENCH", 1, "Bench", "2026-03-10T09:00:00Z", resolved="2026-03-10T23:00:00Z"),
        many_entries("QBENCH", count, "2026-03-10T09:00:00Z"),
    )
    os.environ["PD_BENCH_TOKEN"] = TOKEN
    with serving(double), tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "config.toml"
        config.write_text(f'[pagerduty]\nurl = "{double.url}"\ntoken_env = "PD_BENCH_TOKEN"\n')
        started = time.perf_counter()
        cli(
            [
                "collect",
                "-c",
                str(config),
                "--pagerduty-incident",
                "QBENCH",
                "--pad",
                "0s",
                "-o",
                str(Path(tmp) / "b"),
            ]
        )
        return len(double.requests), time.perf_counter() - started


def main() -> None:
    """Print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=5_000)
    parser.add_argument("--large", type=int, default=12_000)
    args = parser.parse_args()
    results = {n: run(n) for n in (args.small, args.large)}
    for n, (requests, seconds) in results.items():
        print(f"{n:>7,} entries: {requests:>4} requests, {seconds:6.2f} s, {n / seconds:8,.0f}/s")
    (r0, s0), (r1, s1) = results[args.small], results[args.large]
    per0, per1 = s0 / args.small, s1 / args.large
    print(f"split vs baseline: {r1 / r0:.2f}x requests, {per1 / per0:.2f}x time per entry")


if __name__ == "__main__":
    main()

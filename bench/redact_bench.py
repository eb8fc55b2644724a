#!/usr/bin/env python3
"""Redact a synthetic timeline of a million events; print time, rate and the baselines.

Log lines look like a busy service's (request lines with ids, trace ids, git shas, UUIDs);
``--secret-rate`` of them carry a secret (bearer token, password pair, AWS key, JWT, URL
password). Three figures, measured in the same run so that the ratios mean something:

- ``screen``: the RE2 prefilter alone over the text columns (the columnar floor);
- ``redact``: Redactor.frame, the full job (screen, mask the rows that pass, mask every known
  secret wherever else it occurs);
- ``per-row``: Redactor.text on every row of one column in a Python loop, the naive way.

    python bench/redact_bench.py                     # 1,000,000 events, 0.5 % with secrets
    python bench/redact_bench.py --events 200000 --secret-rate 0.05
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from incident_timeline.report.redact import COLUMNS, Redactor, screen

SECRETS = (
    "Authorization: Bearer tok{i:08d}abcdef",
    "password=pw-{i:06d}-prod",
    "key AKIA{i:016d}"[:20] + "ABCD",
    "jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ{i:06d}In0.c2lnbmF0dXJl{i:04d}",
    "postgres://app:pa{i:05d}ss@db:5432/orders",
)


def frame(n: int, rate: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, 16**8, size=n)
    lines = [
        f'level=info msg="request served" path=/v1/orders/{i} status=200 '
        f"trace_id={i:032x} commit=9fceb02d0ae598e95dc970b74767f19372d61af8"
        for i in ids.tolist()
    ]
    for j in np.flatnonzero(rng.random(n) < rate).tolist():
        lines[j] += " " + SECRETS[j % len(SECRETS)].format(i=j % 1000)
    text = pd.Series(lines, dtype="string[pyarrow]")
    return pd.DataFrame(
        {
            "stream": pd.Series(
                [f"ns/pod-{i % 200}/app" for i in range(n)], dtype="string[pyarrow]"
            ),
            "actor": pd.Series([None] * n, dtype="string[pyarrow]"),
            "summary": text,
            "message": text,
            "labels": pd.Series(['{"namespace": "checkout"}'] * n, dtype="string[pyarrow]"),
        }
    )


def timed(label: str, n: int, work) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    work()
    seconds = time.perf_counter() - start
    print(f"{label:<9} {seconds:8.2f} s  {n / seconds:12,.0f} rows/s")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--secret-rate", type=float, default=0.005)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    data = frame(args.events, args.secret_rate, args.seed)
    hint = Redactor.default().hint()
    print(f"{args.events:,} events, {args.secret_rate:.1%} with a secret")
    floor = timed("screen", args.events, lambda: [screen(data[c], hint) for c in COLUMNS])
    redactor = Redactor.default()
    full = timed("redact", args.events, lambda: redactor.frame(data))
    sample = min(args.events, 100_000)  # the naive loop is slow: time a slice, scale up
    naive_r = Redactor.default()
    part = timed(
        "per-row", sample, lambda: [naive_r.text(t) for t in data["message"].iloc[:sample].tolist()]
    )
    naive = part * args.events / sample * len(COLUMNS)
    print(f"secrets found: {len(redactor.mapping):,}")
    print(
        f"redact / screen: {full / floor:.1f}x;  per-row (scaled to all columns) / redact: "
        f"{naive / full:.1f}x"
    )


if __name__ == "__main__":
    main()

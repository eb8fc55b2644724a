"""`runs.sorted_batches` gives `merge_events`' order from files of row groups in any order."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from incident_timeline.timeline import runs
from incident_timeline.timeline.merge import merge_events
from incident_timeline.timeline.schema import SCHEMA, make_events


def events(n: int, seed: int) -> pd.DataFrame:
    """``n`` events with many ties on time (whole seconds), source and stream."""
    rnd = np.random.default_rng(seed)
    stamps = pd.to_datetime(rnd.integers(0, 20, n), unit="s", utc=True)
    return make_events(
        time=list(stamps),
        source=[["kubernetes", "file"][i] for i in rnd.integers(0, 2, n)],
        stream=[f"ns/pod-{i}/app" for i in rnd.integers(0, 3, n)],
        kind="log",
        summary=[f"{seed}:{i}" for i in range(n)],
        ref=[f"raw/f/{seed}.log#L{i}" for i in rnd.integers(0, 5, n)],
    )


@pytest.mark.parametrize("sort_first", [True, False])
def test_sorted_batches_give_the_order_of_the_whole_merge(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sort_first: bool
) -> None:
    monkeypatch.setattr(runs, "BATCH_ROWS", 7)
    monkeypatch.setattr(runs, "OUT_ROWS", 30)
    frames = [events(300, 1), events(200, 2)]
    if sort_first:  # in order inside each file: runs are read as written
        frames = [merge_events([f]) for f in frames]
    paths = []
    for i, frame in enumerate(frames):
        paths.append(tmp_path / f"{i}.parquet")
        table = pa.Table.from_pandas(frame, schema=SCHEMA, preserve_index=False)
        pq.write_table(table, paths[-1], row_group_size=45)
    dropped = [np.array([3, 40, 299]), np.array([0])]
    got = pd.concat(
        t.to_pandas() for t in runs.sorted_batches([pq.ParquetFile(p) for p in paths], dropped)
    )
    # The rows de-duplication drops leave the whole merge (their positions still count).
    gone = {s for f, d in zip(frames, dropped, strict=True) for s in f["summary"].iloc[d]}
    want = merge_events(frames)
    want = want.loc[~want["summary"].isin(gone)]
    assert list(got["summary"]) == list(want["summary"])
    assert len(got) == 500 - 4

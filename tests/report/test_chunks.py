"""Exports written a batch at a time are byte for byte what the whole-frame renderers gave."""

from __future__ import annotations

import random

import numpy as np
import pandas as pd

from incident_timeline.report.chunks import csv_chunks, iso_ns_array
from incident_timeline.report.render import render, render_chunks, stream_chunks
from incident_timeline.timeline.merge import merge_events
from incident_timeline.timeline.schema import COLUMNS, make_events
from incident_timeline.timeline.timefmt import iso_ns_column
from tests.support import utc as ts

# Every character Python's csv module or Markdown treats specially, and some it does not.
ALPHABET = ["a", ",", '"', "\n", "\r", "\t", " ", "é", "\u2028", ";", "'", "\\", "|", "`", "*"]


def tricky(n: int, seed: int = 1) -> pd.DataFrame:
    rnd = random.Random(seed)

    def text() -> str:
        return "".join(rnd.choice(ALPHABET) for _ in range(rnd.randrange(0, 6)))

    base = ts("2026-02-17 14:00:00")
    return make_events(
        time=[base + pd.Timedelta(rnd.randrange(10**13), "ns") for _ in range(n)],
        source=[rnd.choice(["file", "kubernetes", "pagerduty"]) for _ in range(n)],
        stream=[text() for _ in range(n)],
        kind="log",
        summary=[text() for _ in range(n)],
        message=[text() for _ in range(n)],
        actor=[None if rnd.random() < 0.3 else text() for _ in range(n)],
        labels=[{"pod": text()} if rnd.random() < 0.8 else {} for _ in range(n)],
        time_raw=[text() for _ in range(n)],
        embedded_time=[None if rnd.random() < 0.5 else base for _ in range(n)],
        ref=[text() for _ in range(n)],
    )


def pandas_csv(frame: pd.DataFrame) -> bytes:
    """What render_csv wrote before it was built with Arrow: pandas' own to_csv."""
    out = frame.loc[:, list(COLUMNS)].copy()
    for name in ("time", "embedded_time"):
        out[name] = iso_ns_column(out[name])
    return str(out.to_csv(index=False, lineterminator="\n")).encode("utf-8")


def test_csv_in_batches_is_pandas_to_csv_byte_for_byte() -> None:
    frame = tricky(600)
    expected = pandas_csv(frame)
    assert b"".join(csv_chunks(frame, rows=37)) == expected
    assert render(frame, "csv") == expected.decode("utf-8")
    assert b"".join(csv_chunks(frame.iloc[:0])) == pandas_csv(frame.iloc[:0])


def test_csv_streamed_from_frames_is_pandas_to_csv_byte_for_byte() -> None:
    frame = tricky(600, seed=3)  # formatted in a worker thread, a frame at a time
    frames = [frame.iloc[start : start + 41] for start in range(0, len(frame), 41)]
    assert b"".join(stream_chunks(frames, "csv")) == pandas_csv(frame)


def test_row_formats_in_batches_are_the_whole_renderings() -> None:
    frame = tricky(300, seed=2)
    for fmt in ("md", "jsonl", "table"):
        whole = render(frame, fmt, width=120) if fmt == "table" else render(frame, fmt)
        chunks = (
            render_chunks(frame, fmt, width=120) if fmt == "table" else render_chunks(frame, fmt)
        )
        assert b"".join(chunks).decode("utf-8") == whole, fmt


def test_iso_ns_array_matches_iso_ns_column_over_the_whole_ns_range() -> None:
    rng = np.random.default_rng(3)
    values = rng.integers(-(2**63) + 1, 2**63 - 1, 5000)
    times = pd.Series(pd.to_datetime(values, utc=True))
    times[::7] = pd.NaT
    expected = [None if pd.isna(x) else x for x in iso_ns_column(times).tolist()]
    assert iso_ns_array(times).to_pylist() == expected
    edge = pd.Series([ts("1970-01-01 00:00"), ts("2000-02-29 23:59:59.999999999")])
    assert iso_ns_array(edge).to_pylist() == [
        "1970-01-01T00:00:00.000000000Z",
        "2000-02-29T23:59:59.999999999Z",
    ]


def reference_merge(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """The merge as pandas' stable sort_values of the concatenated inputs."""
    keyed = []
    for part in parts:
        part = part.reset_index(drop=True)
        keyed.append(part.assign(_row=np.arange(len(part))))
    return (
        pd.concat(keyed, ignore_index=True)
        .sort_values(["time", "source", "stream", "_row", "ref"], kind="stable")
        .loc[:, list(COLUMNS)]
        .reset_index(drop=True)
    )


def test_merge_is_a_stable_sort_on_the_key_with_input_order_last() -> None:
    frame = tricky(400, seed=4)
    frame["time"] = frame["time"].dt.floor("h")  # many ties on time
    frame["stream"] = frame["stream"].str.slice(0, 1)
    frame["ref"] = frame["ref"].str.slice(0, 1)
    parts = [frame.iloc[i::3] for i in range(3)] + [frame.iloc[:50]]
    pd.testing.assert_frame_equal(merge_events(parts), reference_merge(parts))
    ordered = merge_events([frame])
    few = [ordered, ordered.iloc[[5, 200]]]  # few runs: the merged strings are slices
    pd.testing.assert_frame_equal(merge_events(few), reference_merge(few))

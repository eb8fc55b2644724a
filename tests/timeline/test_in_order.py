"""`runs.in_order` against Python's tuple order, and the sorts it lets callers skip."""

from __future__ import annotations

from itertools import pairwise

import pandas as pd
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from incident_timeline.timeline.runs import in_order
from incident_timeline.timeline.trust.digest import _sorted_logs
from incident_timeline.timeline.trust.gaps import sorted_logs

ROW = st.tuples(
    st.integers(0, 2), st.sampled_from(["a", "b", "é", "B"]), st.sampled_from(["x", "日", "y"])
)


@settings(max_examples=300, deadline=None)
@given(st.lists(ROW, max_size=8), st.integers(1, 3), st.booleans())
def test_in_order_is_tuple_order(rows: list[tuple[int, str, str]], k: int, strict: bool) -> None:
    table = pa.table(
        {
            "t": pa.array([r[0] for r in rows], pa.timestamp("ns", tz="UTC")),
            "s": pa.array([r[1] for r in rows], pa.string()),
            "st": pa.chunked_array([[r[2] for r in rows[:3]], [r[2] for r in rows[3:]]]),
        }
    )
    pairs = list(pairwise(rows))
    want = all(a[:k] < b[:k] or (not strict and a[:k] == b[:k]) for a, b in pairs)
    assert in_order(table, ("t", "s", "st")[:k], strict) is want


def test_in_order_with_nulls_says_sort() -> None:
    assert not in_order(pa.table({"s": pa.array(["a", None, "b"])}), ("s",))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["log", "log", "k8s_event"]), ROW), max_size=12))
def test_sorted_logs_skips_only_sorts_that_change_nothing(
    rows: list[tuple[str, tuple[int, str, str]]],
) -> None:
    frame = pd.DataFrame(
        {
            "kind": pd.array([k for k, _ in rows], dtype="string"),
            "stream": pd.array([r[1] for _, r in rows], dtype="string"),
            "time": pd.to_datetime([r[0] for _, r in rows], unit="s", utc=True),
            "ref": pd.array([f"raw/a#L{i}" for i in range(len(rows))], dtype="string"),
        }
    )
    pd.testing.assert_frame_equal(_sorted_logs(frame), sorted_logs(frame))
    ordered = frame.sort_values(["stream", "time"], kind="stable").reset_index(drop=True)
    pd.testing.assert_frame_equal(_sorted_logs(ordered), sorted_logs(ordered))

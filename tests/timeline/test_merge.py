"""Merging event frames onto one timeline, and filtering it."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from incident_timeline.timeline.merge import filter_events, merge_events
from incident_timeline.timeline.schema import COLUMNS, empty_events, make_events

T0 = pd.Timestamp("2026-02-17 14:00:00", tz="UTC")


def at(seconds: float) -> pd.Timestamp:
    """A time ``seconds`` after 14:00:00 UTC."""
    return T0 + pd.Timedelta(seconds=seconds)


def events(rows: list[tuple[float, str, str, str]], **extra: object) -> pd.DataFrame:
    """Build a frame from (seconds, source, stream, ref) rows; summary is the ref."""
    return make_events(
        time=[at(r[0]) for r in rows],
        source=[r[1] for r in rows],
        stream=[r[2] for r in rows],
        kind="log",
        summary=[r[3] for r in rows],
        ref=[r[3] for r in rows],
        **extra,
    )


def test_sort_order_with_every_kind_of_tie() -> None:
    logs = events(
        [
            (5, "kubernetes", "ns/api/app", "raw/k/api.log#L9"),
            (5, "kubernetes", "ns/api/app", "raw/k/api.log#L10"),  # same time: file order wins
            (1, "kubernetes", "ns/api/app", "raw/k/api.log#L11"),
            (5, "kubernetes", "ns/api/app", "raw/k/api.log#L12"),
        ]
    )
    others = events(
        [
            (5, "kubernetes", "ns/api/sidecar", "raw/k/sidecar.log#L1"),  # stream after app
            (5, "alertmanager", "alerts", "raw/a/alerts.json#/0"),  # source first
            (5, "kubernetes", "ns/api/app", "raw/k/api-previous.log#L1"),  # row 2: after L10
        ]
    )
    merged = merge_events([logs, others])
    assert merged["ref"].tolist() == [
        "raw/k/api.log#L11",
        "raw/a/alerts.json#/0",
        "raw/k/api.log#L9",
        "raw/k/api.log#L10",
        "raw/k/api-previous.log#L1",
        "raw/k/api.log#L12",
        "raw/k/sidecar.log#L1",
    ]
    assert merged.index.tolist() == list(range(7))
    assert tuple(merged.columns) == COLUMNS


def test_ref_breaks_a_tie_in_row_order_then_input_order_is_kept() -> None:
    first = events([(0, "file", "app.log", "raw/f/b.log#L1")], message="first input")
    second = events([(0, "file", "app.log", "raw/f/a.log#L1")], message="second input")
    third = events([(0, "file", "app.log", "raw/f/a.log#L1")], message="third input")
    merged = merge_events([first, second, third])
    assert merged["message"].tolist() == ["second input", "third input", "first input"]


def test_row_order_is_positional_not_the_input_index() -> None:
    frame = events([(0, "file", "x", "raw/x#L2"), (0, "file", "x", "raw/x#L1")])
    frame.index = [7, 3]
    assert merge_events([frame])["ref"].tolist() == ["raw/x#L2", "raw/x#L1"]


def test_merge_of_nothing_or_empty_frames_is_an_empty_event_frame() -> None:
    for merged in (merge_events([]), merge_events([empty_events(), empty_events()])):
        assert len(merged) == 0
        assert tuple(merged.columns) == COLUMNS
        assert str(merged["time"].dtype) == "datetime64[ns, UTC]"
    one = events([(3, "file", "x", "raw/x#L1")])
    assert merge_events([empty_events(), one])["ref"].tolist() == ["raw/x#L1"]


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.lists(
            st.tuples(st.integers(0, 3), st.sampled_from(["a", "b"]), st.sampled_from(["s", "t"])),
            max_size=6,
        ),
        max_size=4,
    )
)
def test_merge_is_a_sorted_permutation(parts: list[list[tuple[int, str, str]]]) -> None:
    frames = [
        events([(t, src, stream, f"raw/{i}#L{j}") for j, (t, src, stream) in enumerate(part)])
        for i, part in enumerate(parts)
    ]
    merged = merge_events(frames)
    expected = sorted(
        (at(t), src, stream, j, f"raw/{i}#L{j}")
        for i, part in enumerate(parts)
        for j, (t, src, stream) in enumerate(part)
    )
    assert merged["ref"].tolist() == [row[4] for row in expected]


def grep_frame() -> pd.DataFrame:
    return make_events(
        time=[at(i) for i in range(4)],
        source=["kubernetes", "pagerduty", "loki", "kubernetes"],
        stream="s",
        kind="log",
        actor=[None, "Alice Chen", None, "deployment-controller"],
        summary=["db pool exhausted", "Acknowledged", "GET /health 200", "Scaled up"],
        message=["wait_ms=2000", "ack via app", "upstream timeout after 30s", "replicas 3"],
        ref=[f"raw/r#L{i}" for i in range(4)],
    )


def test_filter_by_sources() -> None:
    frame = grep_frame()
    assert filter_events(frame, sources=["kubernetes"])["ref"].tolist() == ["raw/r#L0", "raw/r#L3"]
    kept = filter_events(frame, sources=("loki", "pagerduty"))
    assert kept["ref"].tolist() == ["raw/r#L1", "raw/r#L2"]
    assert kept.index.tolist() == [0, 1]
    assert filter_events(frame)["ref"].tolist() == frame["ref"].tolist()


def test_grep_searches_summary_message_and_actor() -> None:
    frame = grep_frame()
    assert filter_events(frame, grep="exhausted")["ref"].tolist() == ["raw/r#L0"]
    assert filter_events(frame, grep=r"timeout after \d+s")["ref"].tolist() == ["raw/r#L2"]
    assert filter_events(frame, grep="^Alice")["ref"].tolist() == ["raw/r#L1"]
    assert filter_events(frame, grep="controller$")["ref"].tolist() == ["raw/r#L3"]
    assert filter_events(frame, grep="(?i)ACK")["ref"].tolist() == ["raw/r#L1"]
    assert filter_events(frame, grep="ACK")["ref"].tolist() == []


def test_grep_is_python_regex_and_combines_with_sources() -> None:
    frame = grep_frame()
    assert filter_events(frame, grep=r"(?<=wait_ms=)\d+")["ref"].tolist() == ["raw/r#L0"]
    both = filter_events(frame, sources=["kubernetes"], grep=r"replicas|pool")
    assert both["ref"].tolist() == ["raw/r#L0", "raw/r#L3"]
    assert filter_events(frame, sources=["loki"], grep="pool").empty


def test_invalid_grep_names_pattern_and_error() -> None:
    with pytest.raises(ValueError) as info:
        filter_events(grep_frame(), grep="db(pool")
    assert str(info.value) == (
        "invalid grep pattern 'db(pool': missing ), unterminated subpattern at position 2"
    )

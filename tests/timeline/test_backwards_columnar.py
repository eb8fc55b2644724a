"""The byte-level ref parse and the columnar backwards check against the regex and pandas
versions they replace (`evidence.ref_lines`, `gaps._backwards_slow`), on odd input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from incident_timeline.timeline.trust.evidence import ref_line_numbers, ref_lines
from incident_timeline.timeline.trust.gaps import GapLimits, _backwards_slow, backwards_findings

ODD = [
    "raw/a.log#L12",
    "raw/a.log#L007",
    "raw/a.log#L0",
    "x#L",
    "a#b#L3",
    "##L3",
    "raw/é.log#L5",
    "noL",
    "#L9",
    "a#L999999999999999",  # 15 digits: read here
    "a#L9999999999999999",  # 16: left to ref_lines
    "a#L0000000000000000012",
    "a#L99999999999999999999999",
    "a#L\u0661\u0662",  # Arabic-Indic digits: not RE2's \d
    "a#L12 ",
    "a#l3",
    "a\n#L4",
    "a#L12\n",
    "L5",
    "#5",
    "",
    "#L",
    "raw/k8s/events.json#/items/3",
    "日本/ログ.log#L42",
]


def _expected(refs: list[str | None]) -> tuple[list[str | None], list[int]]:
    parts = ref_lines(pd.Series(refs, dtype=object))
    lines = [-1 if pd.isna(x) else int(x) for x in parts["line"]]
    files = [None if n < 0 else str(f) for f, n in zip(parts["file"], lines, strict=True)]
    return files, lines  # ref_lines' file is "" where its line is NA; ours is null


def test_ref_parse_matches_the_regex_on_odd_refs() -> None:
    short = [r for r in ODD if not r.endswith(("9999999999999999", "12", "9999"))] + [None]
    short += ["a#L12", "a#L999999999999999"]
    parsed = ref_line_numbers(pa.array(short, pa.string()))
    assert parsed is not None
    assert (parsed[0].to_pylist(), parsed[1].tolist()) == _expected(short)
    for long in ("a#L9999999999999999", "a#L0000000000000000012", "x1234567890123456"):
        assert ref_line_numbers(pa.array(["a#L1", long])) is None  # ref_lines decides
    assert ref_line_numbers(pa.array(["a#L1", "b#L2"]).slice(1)) is not None
    sliced = ref_line_numbers(pa.array(["a#L1", "bé#L22", None]).slice(1))
    assert sliced is not None and sliced[0].to_pylist() == ["bé", None]
    assert sliced[1].tolist() == [22, -1]
    empty = ref_line_numbers(pa.array([], pa.string()))
    assert empty is not None and len(empty[1]) == 0
    blank = ref_line_numbers(pa.array(["", ""]))
    assert blank is not None and blank[1].tolist() == [-1, -1]


PIECES = st.sampled_from(["raw/", "a", "é", "#", "L", "l", "0", "7", "9", "\n", " ", "日"])
REFS = st.one_of(
    st.none(),
    st.lists(PIECES, max_size=8).map("".join),
    st.tuples(st.sampled_from(["raw/a.log", "raw/b.log", "", "é/x"]), st.integers(0, 10**15)).map(
        lambda p: f"{p[0]}#L{p[1]}"
    ),
    st.tuples(
        st.sampled_from(["raw/a.log", "b"]), st.text("0123456789", min_size=1, max_size=18)
    ).map(lambda p: f"{p[0]}#L{p[1]}"),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(REFS, max_size=30))
def test_ref_parse_matches_the_regex(refs: list[str | None]) -> None:
    parsed = ref_line_numbers(pa.array(refs, pa.string()))
    if parsed is None:
        assert any(r and len(r) - len(r.rstrip("0123456789")) > 15 for r in refs)
        return
    assert (parsed[0].to_pylist(), parsed[1].tolist()) == _expected(refs)


ROWS = st.tuples(
    st.sampled_from(["log", "log", "log", "k8s_event"]),
    st.sampled_from(["ns/a/app", "ns/b/app", "ns/é/app", "ns/B/app"]),
    st.one_of(
        st.tuples(st.sampled_from(["raw/a.log", "raw/b.log", "raw/é.log"]), st.integers(0, 60)).map(
            lambda p: f"{p[0]}#L{p[1]}"
        ),
        st.sampled_from(["raw/a.log#/x", "raw/a.log#L", "a#b#L3", "raw/a.log#L007"]),
    ),
    st.one_of(st.integers(-5_000, 5_000), st.none()),
)


def _frame(rows: list[tuple[str, str, str, int | None]], unit: str) -> pd.DataFrame:
    base = pd.Timestamp("2026-02-17T14:00:00Z")
    times = [pd.NaT if ms is None else base + pd.Timedelta(milliseconds=ms) for *_, ms in rows]
    return pd.DataFrame(
        {
            "kind": pd.array([r[0] for r in rows], dtype="string"),
            "stream": pd.array([r[1] for r in rows], dtype="string"),
            "ref": pd.array([r[2] for r in rows], dtype="string"),
            "time": pd.Series(pd.to_datetime(times, utc=True)).dt.as_unit(unit),
        }
    )


@settings(max_examples=300, deadline=None)
@given(st.lists(ROWS, max_size=40), st.sampled_from(["ns", "ms"]), st.sampled_from([1.0, 0.0]))
def test_backwards_matches_the_pandas_version(
    rows: list[tuple[str, str, str, int | None]], unit: str, backwards: float
) -> None:
    frame = _frame(rows, unit)
    limits = GapLimits(backwards=backwards)
    assert backwards_findings(frame, limits) == _backwards_slow(frame, limits)


def test_backwards_on_sorted_and_shuffled_files() -> None:
    rng = np.random.default_rng(3)
    n = 5_000
    times = np.cumsum(rng.integers(0, 400, n))
    times[[700, 2_000, 2_001, 4_000]] -= 5_000  # steps back
    frame = pd.DataFrame(
        {
            "kind": "log",
            "stream": np.where(np.arange(n) < 3_000, "ns/a/app", "ns/b/app"),
            "ref": [f"raw/{'ab'[i % 2]}.log#L{i}" for i in range(n)],
            "time": pd.to_datetime(times, unit="ms", utc=True),
        }
    )
    found = backwards_findings(frame)
    assert found == _backwards_slow(frame, GapLimits()) and len(found) == 2
    shuffled = frame.iloc[rng.permutation(n)].reset_index(drop=True)
    assert backwards_findings(shuffled) == _backwards_slow(shuffled, GapLimits()) == found

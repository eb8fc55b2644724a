"""Issue 8: every ``[[file]]`` format, fed arbitrary bytes and arbitrary JSON, never raises,
keeps the raw bytes exactly, and accounts for every line: a file its format cannot read keeps
each non-blank line as an ``unparsed`` event; a line format gives one event per line."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from incident_timeline.collector import registry
from incident_timeline.collector.bundle import Bundle
from incident_timeline.collector.files.collector import FileCollector, FileSource, decoded
from incident_timeline.collector.formats import text
from incident_timeline.collector.lines import split_lines
from incident_timeline.timeline.window import Window

WINDOW = Window(datetime(2026, 2, 17, 14, tzinfo=UTC), datetime(2026, 2, 17, 15, tzinfo=UTC))
FORMATS = sorted(registry.formats())
# Formats that read one event per line (CRI joins partial "P" lines, so it is left out).
LINE_FORMATS = {"log", "kubectl-logs"}
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)
CASES = {"n": 0}
EXAMPLES = 10  # per format and strategy: 12 formats x 2 x 10 = 240 cases
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


def check(tmp_path: Path, fmt: str, data: bytes) -> None:
    CASES["n"] += 1
    folder = tmp_path / f"case{CASES['n']}"
    folder.mkdir()
    (folder / "in.dat").write_bytes(data)
    bundle = Bundle(folder / "b", WINDOW, {}, title=None, collected_at=WINDOW.until)
    writer = bundle.open_source("file")
    collector = FileCollector([FileSource(path="in.dat", format=fmt)], folder)
    counts = collector.collect(WINDOW, writer, clock=lambda: WINDOW.until)
    assert (folder / "b/raw/file/in.dat").read_bytes() == data
    total = writer.finish()
    content, problem = decoded(data)
    lines = len(split_lines(text(content)))
    kinds = [w.kind for w in writer.records]
    if problem is not None:
        assert "bad_file" in kinds and total == 0
    elif counts["failed_files"]:
        assert counts["unparsed"] == total == lines
    elif fmt in LINE_FORMATS:
        assert total == lines
    assert counts["files"] == 1


@pytest.mark.parametrize("fmt", FORMATS)
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.binary(max_size=300))
def test_arbitrary_bytes(tmp_path: Path, fmt: str, data: bytes) -> None:
    check(tmp_path, fmt, data)


@pytest.mark.parametrize("fmt", FORMATS)
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(document=JSON, lines=st.booleans())
def test_arbitrary_json(tmp_path: Path, fmt: str, document: Any, lines: bool) -> None:
    if lines and isinstance(document, list):
        data = "\n".join(json.dumps(item) for item in document).encode()
    else:
        data = json.dumps(document).encode()
    check(tmp_path, fmt, data)

"""Render a timeline frame as a terminal table, Markdown, CSV, JSON Lines, Parquet, a
self-contained HTML page, or Timesketch's CSV / JSON Lines.

Every format is a pure function of the frame (and, for ``table``, the width), so golden files
can pin the output. Times are always UTC.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable, Iterator
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from incident_timeline.collector.files.pieces import parsed_in_order
from incident_timeline.report.chunks import (
    csv_chunks,
    csv_header,
    csv_lines,
    text_chunks,
)
from incident_timeline.report.markdown import md_cell, md_row
from incident_timeline.report.outputs import CHUNKED, FORMATS
from incident_timeline.timeline.schema import COLUMNS, TIME_COLUMNS, to_table
from incident_timeline.timeline.timefmt import iso_ns_column

# md_cell/md_row: the one escape, in markdown.py
__all__ = ["CHUNKED", "FORMATS", "md_cell", "md_row", "render", "render_chunks"]
TABLE_HEADERS: tuple[str, ...] = ("TIME (UTC)", "SOURCE", "KIND", "ACTOR", "SUMMARY")
MD_HEADERS: tuple[str, ...] = ("Time (UTC)", "Source", "Kind", "Actor", "Summary")
MIN_WIDTH = 80
MIN_SUMMARY = 10
MAX_ACTOR = 24
GAP = "  "
BATCH_ROWS = 1 << 16
_JSON = json.JSONEncoder(ensure_ascii=False)


def render(
    frame: pd.DataFrame,
    fmt: str,
    *,
    width: int | None = None,
    title: str = "Incident timeline",
    csv: bool = False,
) -> str | bytes:
    """Render ``frame`` in format ``fmt`` (one of `FORMATS`); Parquet is bytes, the rest str.

    ``width`` only matters for ``table``: the summary is cut with ``…`` so each row fits it.
    By default it is the terminal's width, at least 80 columns. An explicit width is honoured
    as long as the summary keeps 10 columns; narrower than that, rows overflow. ``title``
    heads the ``html`` page; ``csv`` makes ``timesketch`` CSV instead of JSON Lines.
    """
    if fmt == "html":
        from incident_timeline.report.html import html_document

        return html_document(frame, title=title, subtitle=f"{len(frame):,} events (UTC)")
    if fmt == "timesketch":
        from incident_timeline.report.timesketch import render_timesketch

        return render_timesketch(frame, csv=csv)
    if fmt == "table":
        return render_table(frame, width=width)
    if fmt == "md":
        return render_markdown(frame)
    if fmt == "csv":
        return render_csv(frame)
    if fmt == "jsonl":
        return render_jsonl(frame)
    if fmt == "parquet":
        return render_parquet(frame)
    raise ValueError(f"unknown format {fmt!r}; allowed: {', '.join(FORMATS)}")


def stream_chunks(frames: Iterable[pd.DataFrame], fmt: str) -> Iterator[bytes]:
    """`render_chunks` of the frames laid end to end, for csv and jsonl (whose rows do not
    depend on their neighbours): a timeline given a batch at a time is written as it comes."""
    if fmt == "csv":
        yield csv_header()
        # A batch's CSV is made in a thread while the next batch is merged (Arrow's kernels
        # release the GIL).
        yield from parsed_in_order(csv_lines, frames, workers=2)
    elif fmt == "jsonl":
        for frame in frames:
            yield render_jsonl(frame).encode("utf-8")
    else:
        raise ValueError(f"format {fmt!r} is not written from a stream of frames")


def render_chunks(frame: pd.DataFrame, fmt: str, *, width: int | None = None) -> Iterator[bytes]:
    """``render(frame, fmt)`` as UTF-8 byte chunks of a batch of rows each, for the formats
    that are rows of text (table, md, csv, jsonl); the whole text is never one string."""
    if fmt == "csv":
        return csv_chunks(frame)
    if fmt == "jsonl":
        return text_chunks(frame, render_jsonl)
    if fmt == "md":
        return _markdown_chunks(frame)
    if fmt == "table":
        return _table_chunks(frame, width)
    raise ValueError(f"format {fmt!r} is not written in chunks; use render()")


def render_table(frame: pd.DataFrame, *, width: int | None = None) -> str:
    """A fixed-width text table for the terminal: time (ms), source, kind, actor, summary."""
    return b"".join(_table_chunks(frame, width)).decode("utf-8")


def _table_chunks(frame: pd.DataFrame, width: int | None) -> Iterator[bytes]:
    if width is None:
        # Not a terminal (a pipe, a file): a wide table beats one cut to 80 columns.
        width = max(shutil.get_terminal_size((160, 24)).columns, MIN_WIDTH)
    widths = [len(head) for head in TABLE_HEADERS[:4]]
    for start in range(0, len(frame), BATCH_ROWS):  # the widest cell of every column first
        fixed = _table_fixed(frame.iloc[start : start + BATCH_ROWS])
        widths = [max([w, *col.str.len().tolist()]) for w, col in zip(widths, fixed, strict=True)]
    room = max(width - sum(widths) - len(GAP) * len(widths), MIN_SUMMARY)
    lines = [_row(TABLE_HEADERS, widths), _row(["-" * w for w in [*widths, room]], widths)]
    yield ("\n".join(lines) + "\n").encode("utf-8")
    for start in range(0, len(frame), BATCH_ROWS):
        part = frame.iloc[start : start + BATCH_ROWS]
        summary = _truncate(_one_line(part["summary"]), room)
        rows = zip(*(col.tolist() for col in _table_fixed(part)), summary.tolist(), strict=True)
        yield "".join(_row(cells, widths) + "\n" for cells in rows).encode("utf-8")


def _table_fixed(frame: pd.DataFrame) -> list[pd.Series]:
    return [
        frame["time"].dt.strftime("%Y-%m-%d %H:%M:%S.%f").str.slice(0, -3),
        _one_line(frame["source"]),
        _one_line(frame["kind"]),
        _truncate(_one_line(frame["actor"].fillna("")), MAX_ACTOR),
    ]


def render_markdown(frame: pd.DataFrame) -> str:
    """A GitHub Markdown table: time to the second, source, kind, actor, summary."""
    return b"".join(_markdown_chunks(frame)).decode("utf-8")


def _markdown_chunks(frame: pd.DataFrame) -> Iterator[bytes]:
    head = [md_row(MD_HEADERS), md_row(["---"] * len(MD_HEADERS))]
    yield ("\n".join(head) + "\n").encode("utf-8")
    for start in range(0, len(frame), BATCH_ROWS):
        yield _markdown_rows(frame.iloc[start : start + BATCH_ROWS]).encode("utf-8")


def _markdown_rows(frame: pd.DataFrame) -> str:
    times = frame["time"].dt.strftime("%Y-%m-%d %H:%M:%S").tolist()
    columns = [frame[name].tolist() for name in ("source", "kind", "actor", "summary")]
    return "".join(
        md_row([time, *(md_cell(c) for c in cells)]) + "\n"
        for time, *cells in zip(times, *columns, strict=True)
    )


def render_csv(frame: pd.DataFrame) -> str:
    """All schema columns as CSV; times ISO 8601 with nanoseconds and ``Z``, labels as JSON.

    Quoted exactly as pandas' ``to_csv`` quotes (see `report.chunks`), built a batch at a time.
    """
    return b"".join(csv_chunks(frame)).decode("utf-8")


def render_jsonl(frame: pd.DataFrame) -> str:
    """One JSON object per event; times ISO 8601 with ``Z``, labels an object, nulls null."""
    columns: dict[str, list[Any]] = {}
    for name in COLUMNS:
        col = iso_ns_column(frame[name]) if name in TIME_COLUMNS else frame[name]
        values = col.astype(object).where(col.notna(), None).tolist()
        if name == "labels":  # few distinct label sets: parse each once
            parsed = {text: json.loads(text) for text in set(values)}
            values = [parsed[text] for text in values]
        columns[name] = values
    lines = [
        _JSON.encode(dict(zip(COLUMNS, row, strict=True)))
        for row in zip(*columns.values(), strict=True)
    ]
    return "".join(line + "\n" for line in lines)


def render_parquet(frame: pd.DataFrame) -> bytes:
    """The frame as Parquet bytes with the event schema."""
    sink = pa.BufferOutputStream()
    write_parquet(frame, sink)
    return bytes(sink.getvalue().to_pybytes())


def write_parquet(frame: pd.DataFrame, sink: Any) -> None:
    """`render_parquet`'s bytes written to ``sink`` (a binary file or Arrow stream) as they
    are made, not held as one buffer first. Columns are written as one chunk each: a column
    gathered from slices (see `merge.merge_events`) gives the same pages as any other."""
    pq.write_table(to_table(frame).combine_chunks(), sink)


def _one_line(col: pd.Series) -> pd.Series:
    return col.astype("string").str.replace(r"[\r\n\t]+", " ", regex=True)


def _truncate(col: pd.Series, room: int) -> pd.Series:
    long = col.str.len() > room
    return col.where(~long, col.str.slice(0, room - 1) + "…")


def _row(cells: Any, widths: list[int]) -> str:
    parts = [str(c).ljust(w) for c, w in zip(cells, widths, strict=False)]
    last = list(cells)[len(widths)]
    return GAP.join([*parts, str(last)]).rstrip()

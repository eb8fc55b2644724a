"""What every export format shares: the context a parser gets, the result it returns, and the
``Format`` object (name, detect, parse) that a source declares and the ``[[file]]`` collector
finds through the registry.

A format's ``parse`` turns the bytes of one file into events whose ``ref`` points into the raw
file (``#L<line>`` or ``#<json-pointer>``); content of the wrong shape is an ExportFormatError
saying what was expected. ``detect`` looks at a ``Sample`` of the file and says whether the file
is in this format; formats without one are only used when a ``[[file]]`` table names them.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable, Sequence
from functools import cached_property
from typing import Any, Literal, cast

import pandas as pd

from incident_timeline.collector.errors import ExportFormatError
from incident_timeline.collector.shapes import Spec
from incident_timeline.timeline import schema
from incident_timeline.timeline.schema import EventRow
from incident_timeline.timeline.timestamps import fill_inferred, parse_iso

SAMPLE_BYTES = 20_000


@dataclasses.dataclass(frozen=True, kw_only=True)
class Context:
    """What a parser knows about the file it reads."""

    ref: str
    stream: str
    timezone: str = "UTC"
    namespace: str | None = None
    threshold: str | None = None
    label: str | None = None
    fallback_time: Any = None
    # The window's end; with fallback_time (its start) it gives year-less timestamps a year.
    window_end: Any = None
    # For a piece of a longer file (see ``Format.chunked``): the number of its first line, and
    # the time of the last line before it (what a first line without a time inherits). The
    # file collector parses pieces side by side and leaves it None: it gives the piece's
    # first ``inferred`` rows that time afterwards (``files.pieces.inherit``).
    first_line: int = 1
    previous_time: Any = None
    # The file's own timestamp layout (a ``[[file]]`` table's time_format/time_regex, as
    # families for the time engine); None: the engine's built-ins and inference.
    time_layout: Any = None


@dataclasses.dataclass
class Parsed:
    """A parser's result: events, optional tidy metric samples, counts and warnings;
    ``incomplete`` says the file itself shows it holds only part of the data (the source is
    then ``partial``)."""

    events: pd.DataFrame
    metrics: pd.DataFrame | None
    counts: dict[str, int]
    warnings: list[str] = dataclasses.field(default_factory=list)
    incomplete: bool = False


def rows_to_events(rows: Sequence[EventRow], ctx: Context) -> pd.DataFrame:
    """Build events from row dicts holding ``time_raw`` (and optional ``embedded_raw``)."""
    if not rows:
        return schema.empty_events()
    frame = pd.DataFrame(rows)
    parsed = parse_iso(frame["time_raw"].astype("string"), ctx.timezone)
    time, quality = fill_inferred(parsed["time"], parsed["quality"], ctx.fallback_time)
    if "quality" in frame:
        quality = frame["quality"].fillna(quality)
    embedded = frame.get("embedded_raw", pd.Series(pd.NA, index=frame.index))
    return schema.make_events(
        time=time,
        source=frame["source"],
        stream=frame["stream"],
        kind=frame["kind"],
        severity=frame["severity"],
        actor=frame["actor"].where(frame["actor"].notna(), None),
        summary=frame["summary"],
        message=frame["message"],
        labels=list(frame["labels"]),
        time_raw=frame["time_raw"].fillna(""),
        time_quality=quality,
        embedded_time=parse_iso(embedded.astype("string"), ctx.timezone)["time"],
        # a row may carry its own ref (records gathered from several raw pages)
        ref=frame["ref"] if "ref" in frame else ctx.ref + "#" + frame["pointer"],
    )


UNPARSED = "unparsed"


def unparsed_row(ctx: Context, number: int, line: str, reason: str) -> EventRow:
    """A record its format could not read, kept as an ``unparsed`` event with its raw text
    (time inferred from its neighbours): nothing is dropped without a trace."""
    return row(
        ctx,
        time_raw=None,
        quality="inferred",
        source="file",
        kind=UNPARSED,
        severity="warning",
        pointer=f"L{number}",
        summary=f"unparsed line {number}: {reason}"[:240],
        message=line,
        labels={"reason": reason},
    )


def unparsed_record(
    ctx: Context, pointer: str, item: Any, reason: str, source: str = "file"
) -> EventRow:
    """A JSON record its format could not read, kept as an ``unparsed`` event holding its
    JSON text, at ``pointer`` in the raw file."""
    return row(
        ctx,
        time_raw=None,
        quality="inferred",
        source=source,
        kind=UNPARSED,
        severity="warning",
        pointer=pointer,
        summary=f"unparsed record {pointer}: {reason}"[:240],
        message=json.dumps(item, ensure_ascii=False, sort_keys=True),
        labels={"reason": reason},
    )


def renumber_refs(events: pd.DataFrame, prefix: str, kept: list[int]) -> pd.DataFrame:
    """Refs ``<prefix><j>...`` into a document of the kept records, made refs into the file:
    ``<prefix><kept[j]>...``."""
    if events.empty:
        return events
    found = events["ref"].astype("string").str.extract(rf"^{re.escape(prefix)}(\d+)(.*)$")
    has = found[0].notna().to_numpy(dtype=bool)
    if not has.any():
        return events
    events = events.copy()
    number = found.loc[has, 0].astype(int).map(lambda j: str(kept[j]))
    events.loc[has, "ref"] = prefix + number + found.loc[has, 1]
    return events


def expect_list(data: Any, key: str, what: str) -> list[Any]:
    items = data.get(key) if isinstance(data, dict) else None
    if not isinstance(items, list):
        pointer = f"/{key}" if isinstance(data, dict) and key in data else None
        raise ExportFormatError(
            f"not {what}: expected a JSON object with a {key!r} array", pointer=pointer
        )
    return items


def objects(items: list[Any], what: str) -> list[dict[str, Any]]:
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise ExportFormatError(f"not {what}: item {i} is {type(item).__name__}, not an object")
    return items


def row(ctx: Context, **fields: Any) -> EventRow:
    """An EventRow in the context's stream, ``info`` by default, its message its summary."""
    out: dict[str, Any] = {"stream": ctx.stream, "severity": "info", "actor": None}
    out.update(fields)
    out.setdefault("message", out["summary"])
    return cast(EventRow, out)


def label_pairs(labels: dict[str, Any], skip: tuple[str, ...] = ("alertname",)) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(labels.items()) if k not in skip)


def text(data: bytes) -> str:
    """The file's bytes as text; undecodable bytes become U+FFFD (the raw file keeps them)."""
    return data.decode("utf-8", errors="replace")


def json_document(data: bytes) -> Any:
    """The file parsed as one JSON document, or an ExportFormatError saying why not."""
    try:
        return json.loads(data)
    except ValueError as exc:
        raise ExportFormatError(f"not valid JSON: {exc}") from None


_MISSING = object()


@dataclasses.dataclass(frozen=True)
class Sample:
    """What detection may look at: the whole file's bytes, read lazily into text and JSON."""

    data: bytes

    @cached_property
    def text(self) -> str:
        """The whole file as text."""
        return text(self.data)

    @cached_property
    def head(self) -> str:
        """The first SAMPLE_BYTES characters of the text. Decoded from the bytes that can hold
        them (a character, or an undecodable run, is at most 4 bytes; what a byte decodes to
        depends on the 3 after it at most), not from the whole file, unless it is decoded."""
        if "text" in self.__dict__:
            return self.text[:SAMPLE_BYTES]
        return text(self.data[: 4 * SAMPLE_BYTES + 4])[:SAMPLE_BYTES]

    @property
    def opens_json(self) -> bool:
        """Whether the text opens with ``{`` or ``[``."""
        return self.head.lstrip()[:1] in ("{", "[")

    @cached_property
    def _document(self) -> Any:
        try:
            return json.loads(self.text)
        except ValueError:
            return _MISSING

    @property
    def is_json(self) -> bool:
        """Whether the whole file is one JSON document."""
        return self._document is not _MISSING

    @property
    def document(self) -> Any:
        """The whole file as one JSON document (None when it is not one)."""
        return None if self._document is _MISSING else self._document

    @cached_property
    def first_record(self) -> Any:
        """The first line parsed as JSON (for JSON-lines files), or None."""
        lines = self.head.lstrip().splitlines()
        try:
            return json.loads(lines[0]) if lines else None
        except ValueError:
            return None


Layout = Literal["json", "text"]


@dataclasses.dataclass(frozen=True, kw_only=True)
class Format:
    """One export format, e.g. ``Format(name="kubectl-logs", parse=..., detect=...)``.

    ``layout`` says whether ``detect`` judges a whole JSON document or lines of text; among the
    formats of one layout, lower ``priority`` is asked first.
    """

    name: str
    parse: Callable[[bytes, Context], Parsed]
    detect: Callable[[Sample], bool] | None = None
    layout: Layout = "text"
    priority: int = 50
    source: str = "file"
    description: str = ""
    # Whether ``parse`` may be given a big file a piece at a time: whole lines (``cut`` says
    # where a piece may end: the bytes after it begin a record the next piece continues),
    # with ``Context.first_line`` and ``previous_time`` telling where the piece sits.
    chunked: bool = False
    cut: Callable[[bytes], int] | None = None
    # The shape of one record of a JSON export (see `shapes`): the ``[[file]]`` collector
    # checks each record of the document's array against it before parsing, and keeps one
    # that breaks it as an ``unparsed`` event naming the bad field's JSON pointer.
    shape: Spec | None = None


@dataclasses.dataclass(frozen=True)
class JsonParser:
    """A ``Format.parse`` of JSON bytes that can also be handed the parsed document."""

    of_document: Callable[[Any, Context], Parsed]

    def __call__(self, data: bytes, ctx: Context) -> Parsed:
        """Parse the bytes as one JSON document, then the document."""
        return self.of_document(json_document(data), ctx)


def json_parser(parse: Callable[[Any, Context], Parsed]) -> JsonParser:
    """A ``Format.parse`` from a function of the parsed JSON document."""
    return JsonParser(parse)


def text_parser(parse: Callable[[str, Context], Parsed]) -> Callable[[bytes, Context], Parsed]:
    """A ``Format.parse`` from a function of the decoded text."""
    return lambda data, ctx: parse(text(data), ctx)

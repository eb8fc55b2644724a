"""The timeline of ``incident timeline`` as a stream of frames: never the whole bundle at once.

`timeline_stream` gives the rows `cli._timeline` gives (without ``--key-only``), in the same
order with the same values, as frames of a few thousand rows:

1. the integrity findings and the rows de-duplication drops, from `trust.scan_integrity`
   (the bounded scan ``incident clocks`` makes);
2. a survey of every row group (unsorted): the sources present and, when redacting, the rows
   whose text passes the redactor's screen, with their timeline key. Sorted on that key, they
   are masked column by column and row by row as `Redactor.frame` masks the whole timeline,
   so a secret's number is the one the whole timeline gives it;
3. the events in timeline order (`timeline.runs.sorted_batches`), the masked texts put back,
   known secrets masked everywhere, the findings and curation notes merged in on their keys,
   and the ``--source``/``--grep`` filters applied.

It returns None where the stream would not give the same rows, and the caller loads the whole
timeline as before: when accepted corrections shift rows (the order changes), when the events
hold rows of source ``integrity`` (they would tie with findings on a key the stream does not
keep), when a private key block is logged line by line (its masking reads a stream's
neighbouring rows), and when a configured pattern cannot be screened with RE2.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from functools import partial
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from incident_timeline.collector.bundle import read_manifest
from incident_timeline.collector.errors import BundleError
from incident_timeline.report.curation import note_events, read_curation
from incident_timeline.report.redact import COLUMNS as TEXTS
from incident_timeline.report.redact import Redactor, for_bundle, opens_key_block
from incident_timeline.report.scan import events_paths
from incident_timeline.report.trust import scan_integrity
from incident_timeline.timeline.merge import filter_events
from incident_timeline.timeline.runs import key_at, sorted_batches
from incident_timeline.timeline.schema import COLUMNS, empty_events, validate
from incident_timeline.timeline.trust.findings import SOURCE, findings_frame

# A timeline key with the tier that puts curation notes after every other row of their time:
# (time ns, tier, source, stream, row in its input, ref, file).
Key = tuple[int, int, str, str, int, str, int]
_FILE_SHIFT = 40  # an event's id: file << 40 | row in file
_FEW = frozenset({"stream", "actor", "labels"})  # text columns of few distinct values
STREAMED: tuple[str, ...] = ("csv", "jsonl")  # formats whose rows are written as they come


def timeline_stream(
    bundle: Path,
    sources: Sequence[str] = (),
    grep: str | None = None,
    redact: bool = True,
    keep: Callable[[pd.DataFrame], np.ndarray] | None = None,
    redactor: Redactor | None = None,
) -> Iterator[pd.DataFrame] | None:
    """The bundle's timeline as `cli._timeline` gives it, as frames (see the module
    docstring); None where the stream cannot give the same rows. With ``keep`` (a mask of
    a frame's rows), only the rows it keeps, after the filters. ``redactor``: the bundle's
    (`redact.for_bundle`) made by the caller, who can then mask its own texts with the
    numbers the timeline gives (`incident report`: the manifest's title, errors, warnings).
    Raises BundleError (an unknown source) and PatternError (a bad ``grep``) before the
    first frame."""
    filter_events(empty_events(), sources, grep)  # a bad pattern fails here, not mid-output
    manifest = read_manifest(bundle)
    if redactor is None and redact:
        redactor = for_bundle(manifest)
    survey = Survey(redactor)
    # The log lines' checks run in a thread while the runs are written: both are mostly
    # Parquet decoding and Arrow kernels, which release the GIL. The runs need only the
    # rows de-duplication drops, known before the checks start.
    with ThreadPoolExecutor(1, thread_name_prefix="scan") as pool:
        known: Future[list[np.ndarray]] = Future()
        scan = pool.submit(scan_integrity, bundle, manifest, known.set_result)
        either: list[Future[Any]] = [scan, known]
        wait(either, return_when=FIRST_COMPLETED)
        dropped = known.result() if known.done() else scan.result()[2]  # or its error
        try:
            files = [pq.ParquetFile(p) for p in events_paths(bundle, manifest)]
        except (OSError, pa.ArrowException) as exc:
            raise BundleError(f"cannot read events: {exc}") from exc
        tables = sorted_batches(files, dropped, survey.visit)
        first = next(tables, None)  # every row group is read, and surveyed, before the first
        integrity, applied, _ = scan.result()
    # mimalloc keeps the pages the scan and the runs freed for reuse; the merge needs far
    # fewer, so give them back (the peak is then the merge's, not the sum).
    pa.default_memory_pool().release_unused()
    findings = findings_frame(integrity.findings, [])
    notes = note_events(read_curation(bundle))
    extras = pd.concat([findings, notes], ignore_index=True) if len(notes) else findings
    keys = _extra_keys(findings, notes)
    if any(applied.values()) or survey.fallback or SOURCE in survey.present:
        tables.close()
        return None
    check_sources(bundle, sources, survey.present | ({"human"} if len(notes) else set()))
    masks: dict[str, tuple[np.ndarray, list[str]]] = {}
    if redactor is not None:
        extra_hits = _frame_hits(extras, keys, redactor.hint())
        if extra_hits is None:
            tables.close()
            return None
        masks, extras = _number(redactor, [*survey.hits, *extra_hits], extras)
    order = sorted(range(len(keys)), key=keys.__getitem__)
    extras = extras.iloc[order].reset_index(drop=True)
    everything = chain([first] if first is not None else [], tables)
    keys = [keys[i] for i in order]
    batches = _batches(everything, extras, keys, masks, redactor, sources, grep)
    return batches if keep is None else (b.loc[keep(b)].reset_index(drop=True) for b in batches)


def check_sources(bundle: Path, sources: Sequence[str], present: set[str]) -> None:
    """Raise BundleError naming the sources present when ``sources`` asks for another."""
    unknown = [s for s in sources if s not in present and s != SOURCE]
    if unknown:
        names = ", ".join(sorted(present)) or "none"
        raise BundleError(
            f"no source {', '.join(map(repr, unknown))} in {bundle}; sources present: {names}"
        )


def _extra_keys(findings: pd.DataFrame, notes: pd.DataFrame) -> list[Key]:
    """The keys of the findings (merged on the timeline key) and notes (after every row of
    their time, in their order)."""
    keys: list[Key] = [
        (int(t.value), 0, src, stream, k, ref, -1)
        for k, (t, src, stream, ref) in enumerate(
            zip(
                findings["time"],
                findings["source"],
                findings["stream"],
                findings["ref"],
                strict=True,
            )
        )
    ]
    keys += [(int(t.value), 1, "", "", k, "", 0) for k, t in enumerate(notes["time"])]
    return keys


Hit = tuple[Key, int, int, str]  # key, column (index in TEXTS), id, text


class Survey:
    """What `timeline_stream` learns from every row group before it writes a row: the
    sources present and (redacting) the rows the redactor's screen passes."""

    def __init__(self, redactor: Redactor | None) -> None:
        self.present: set[str] = set()
        self.hits: list[Hit] = []
        self.fallback = False  # a row the stream cannot mask as the whole timeline would
        self._hint = redactor.hint() if redactor is not None else None

    def visit(self, table: pa.Table) -> None:
        """Survey one row group (the record's columns, ``_row`` and ``_file``)."""
        self.present.update(pc.unique(table["source"]).to_pylist())
        if self._hint is None or self.fallback:
            return
        found = _table_hits(table, self._hint)
        if found is None:
            self.fallback = True
        else:
            self.hits += found


def _table_hits(table: pa.Table, hint: str) -> list[Hit] | None:
    hits: list[Hit] = []
    for c, name in enumerate(TEXTS):
        try:
            found = _screen(table[name].combine_chunks(), hint, name in _FEW)
        except pa.ArrowInvalid:
            return None
        for i in np.flatnonzero(found.fill_null(False).to_numpy(zero_copy_only=False)).tolist():
            text = table[name][i].as_py()
            if name == "message" and opens_key_block(text):
                return None
            k = key_at(table, i)
            key: Key = (k[0], 0, k[1], k[2], k[3], k[4], k[5])
            hits.append((key, c, k[5] << _FILE_SHIFT | k[3], text))
    return hits


def _screen(values: pa.Array, hint: str, few: bool) -> pa.Array:
    """Which ``values`` match ``hint``; with ``few`` (few distinct values), each distinct
    value is matched once."""
    if not few:
        return pc.match_substring_regex(values, hint)
    coded = pc.dictionary_encode(values)
    return pc.match_substring_regex(coded.dictionary, hint).take(coded.indices)


def _frame_hits(frame: pd.DataFrame, keys: Sequence[Key], hint: str) -> list[Hit] | None:
    """The rows of the in-memory ``frame`` (findings, notes) the screen passes; ids -1-i."""
    hits: list[Hit] = []
    for c, name in enumerate(TEXTS):
        values = pa.array(frame[name].astype("string[pyarrow]"), from_pandas=True)
        try:
            found = pc.match_substring_regex(values, hint).fill_null(False)
        except pa.ArrowInvalid:
            return None
        for i in np.flatnonzero(found.to_numpy(zero_copy_only=False)).tolist():
            text = str(frame[name].iloc[i])
            if name == "message" and opens_key_block(text):
                return None
            hits.append((keys[i], c, -1 - i, text))
    return hits


def _number(
    redactor: Redactor, hits: list[Hit], extras: pd.DataFrame
) -> tuple[dict[str, tuple[np.ndarray, list[str]]], pd.DataFrame]:
    """Mask the screened texts in `Redactor.frame`'s order; the events' masked texts by
    column (ids sorted), and the extras masked (known secrets too)."""
    hits.sort(key=lambda h: (h[1], h[0]))
    extras = extras.copy()
    masks: dict[str, tuple[np.ndarray, list[str]]] = {}
    for c, name in enumerate(TEXTS):
        done = {ident: redactor.detect(text) for _, col, ident, text in hits if col == c}
        mine = sorted(i for i in done if i >= 0)
        masks[name] = (np.array(mine, dtype=np.int64), [done[i] for i in mine])
        theirs = [i for i in done if i < 0]
        if theirs:
            column = extras[name].copy()
            for ident in theirs:
                column.iloc[-1 - ident] = done[ident]
            extras[name] = column
    for name in TEXTS:
        extras[name] = redactor.known(extras[name])
    return masks, extras


def _redact_batch(
    frame: pd.DataFrame,
    ids: np.ndarray,
    masks: dict[str, tuple[np.ndarray, list[str]]],
    redactor: Redactor,
) -> pd.DataFrame:
    for name in TEXTS:
        wanted, texts = masks.get(name, (np.zeros(0, np.int64), []))
        if len(wanted):
            where = np.flatnonzero(np.isin(ids, wanted))
            if len(where):
                column = frame[name].copy()
                picks = np.searchsorted(wanted, ids[where])
                column.iloc[where] = [texts[p] for p in picks.tolist()]
                frame[name] = column
        frame[name] = redactor.known(frame[name])
    return frame


def _batches(
    tables: Iterator[pa.Table],
    extras: pd.DataFrame,
    keys: list[Key],
    masks: dict[str, tuple[np.ndarray, list[str]]],
    redactor: Redactor | None,
    sources: Sequence[str],
    grep: str | None,
) -> Iterator[pd.DataFrame]:
    taken = 0  # extras already merged in
    for table in tables:
        frame = validate(table.select(list(COLUMNS)).to_pandas())
        if redactor is not None:
            ids = table["_file"].to_numpy() << _FILE_SHIFT | table["_row"].to_numpy()
            frame = _redact_batch(frame, ids, masks, redactor)
        last = _event_key(table, len(table) - 1)
        upto = taken
        while upto < len(keys) and keys[upto] < last:
            upto += 1
        if upto > taken:
            frame = _insert(frame, table, extras.iloc[taken:upto], keys[taken:upto])
            taken = upto
        out = filter_events(frame, sources, grep)
        if len(out):
            yield out
    if taken < len(keys):
        out = filter_events(extras.iloc[taken:].reset_index(drop=True), sources, grep)
        if len(out):
            yield out


def _event_key(table: pa.Table, i: int) -> Key:
    k: Any = key_at(table, i)
    return (k[0], 0, k[1], k[2], k[3], k[4], k[5])


def _insert(
    frame: pd.DataFrame, table: pa.Table, extras: pd.DataFrame, keys: list[Key]
) -> pd.DataFrame:
    """``frame`` (the events of ``table``) with ``extras`` (sorted by ``keys``) in place."""
    at = partial(_event_key, table)
    positions = [bisect_left(range(len(table)), key, key=at) for key in keys]
    n = len(frame)
    order = np.insert(np.arange(n), positions, n + np.arange(len(keys)))
    both = pd.concat([frame, extras.loc[:, list(COLUMNS)]], ignore_index=True)
    return validate(both.iloc[order].reset_index(drop=True))

"""Which timestamp family each line carries, found for a whole stream in a few regex passes.

A sample of the stream (its first lines and lines spread over the rest) is read with Python's
``re`` to learn which families occur and whether they always open the line. The whole column is
then searched with pyarrow (RE2, one pass per plan step, linear time): first the JSON time keys
if the sample had any (so a JSON object's ``ts``/``time``/``@timestamp`` wins over another
timestamp-looking field), then the families seen in the sample, anchored at the line start when
they always were, and last, on the lines still without a timestamp, every family anywhere in
the line. Lines that none matched are left to the slow path (``LOOSE`` + dateutil).
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from incident_timeline.timeline.timestamps import openings
from incident_timeline.timeline.timestamps.extract import string_parts
from incident_timeline.timeline.timestamps.families import (
    FAMILIES,
    LOOSE,
    QUICK,
    Families,
    Family,
    compiled,
    group_index,
    group_name,
    identify_regex,
    subset,
)

SAMPLE = 64
# Up to this many lines, Python's re (compiled once per process) beats compiling the pattern
# again for RE2, which pyarrow does on every call (~1 ms for the all-families pattern).
FEW = 128
_QUICK = compiled(QUICK)
# A step whose pattern matches more than this share of its rows extracts from all of them at
# once; a sparser one matches first (RE2's DFA: 3-20x cheaper a row than an extract).
DENSE = 0.75


@dataclasses.dataclass(frozen=True)
class Step:
    """One search over the lines still without a timestamp, for ``families`` (in priority
    order), at the line start only when ``anchored``; no families: the slow path's loose
    shape (LOOSE), read by dateutil."""

    families: Families
    anchored: bool = False

    @property
    def quick(self) -> bool:
        """Whether every family's matches satisfy QUICK (then lines without one are skipped)."""
        return all(f.quick for f in self.families)


@dataclasses.dataclass(frozen=True)
class Found:
    """Rows (positions in the column) where ``family`` matched, and the text it matched;
    ``family`` None is the slow path's loose shape."""

    family: Family | None
    rows: np.ndarray
    raw: pa.Array


def sample_rows(n: int) -> np.ndarray:
    """Positions of the sample: the first SAMPLE lines and SAMPLE more spread evenly."""
    head = np.arange(min(n, SAMPLE))
    spread = np.linspace(0, max(n - 1, 0), num=min(n, SAMPLE)).astype(np.int64)
    return np.unique(np.concatenate([head, spread]))


LOOSE_STEP = Step(())


def plan(lines: pa.Array, families: Families = FAMILIES, *, loose: bool = True) -> list[Step]:
    """The search steps for a stream, learnt from a sample of its lines. A stream of a few
    lines is searched line by line anyway: JSON keys first, then every family; last (when
    ``loose``) the slow path's loose shape."""
    return plan_sample(lines, families, loose=loose)[0]


def plan_sample(
    lines: pa.Array, families: Families = FAMILIES, *, loose: bool = True, learn: bool = False
) -> tuple[list[Step], list[str]]:
    """``plan``, and (when ``learn``) the sampled lines that look like they hold a time
    (QUICK) but that no family matched: what layout inference learns from."""
    keyed_set = tuple(f for f in families if f.name.startswith("json_"))
    tail = [LOOSE_STEP] if loose else []
    if len(lines) <= FEW:
        steps = [Step(keyed_set), Step(families)] if keyed_set else [Step(families)]
        return steps + tail, (_unmatched(lines.to_pylist(), families) if learn else [])
    everything = compiled(identify_regex(families))
    keyed = compiled(identify_regex(keyed_set)) if keyed_set else None
    seen: set[Family] = set()
    unmatched: list[str] = []
    at_start, json_lines = True, False
    for line in lines.take(pa.array(sample_rows(len(lines)))).to_pylist():
        match = first_match(everything, line)
        if match is None:
            if learn and line and _QUICK.search(line):
                unmatched.append(line)
            continue  # nor any JSON key: it would have been a match
        if match.lastgroup:
            seen.add(families[group_index(match.lastgroup)])
            at_start = at_start and match.start() == 0
        json_lines = json_lines or (keyed is not None and keyed.search(line) is not None)
    steps = [Step(keyed_set)] if json_lines else []
    if seen and (len(seen) != len(families) or at_start):
        steps.append(Step(subset(families, seen), at_start))
    steps.append(Step(families))
    return steps + tail, unmatched


def _unmatched(lines: list[str | None], families: Families) -> list[str]:
    """The lines with a QUICK match (a clock, 10+ digits, ...) that no family matched."""
    everything = compiled(identify_regex(families))
    return [
        line
        for line in lines
        if line and first_match(everything, line) is None and _QUICK.search(line)
    ]


def first_match(regex: re.Pattern[str], line: str | None) -> re.Match[str] | None:
    """``regex.search(line)`` (an identify regex), sooner: most timestamps open their line,
    and a line without a QUICK match holds none."""
    if not line:
        return None
    match = regex.match(line)
    if match is None and _QUICK.search(line) is not None:
        match = regex.search(line)
    return match


def find(lines: pa.Array, steps: list[Step] | None = None) -> tuple[list[Found], np.ndarray]:
    """Run the steps (``plan(lines)`` by default) over ``lines``. Returns what each family
    matched and the positions of the rows left with no timestamp."""
    found: list[Found] = []
    pending = np.arange(len(lines))
    valid = lines.is_valid().to_numpy(zero_copy_only=False)
    pending = pending[valid]
    # A family an earlier step searched for anywhere in every row still pending matches none of
    # them: a later step leaves it out (one alternative fewer; the leftmost match, and the
    # first family matching there, stay the same). Only QUICK families: a row without a QUICK
    # match is not searched line by line (first_match), so another family is not ruled out.
    ruled_out: set[Family] = set()
    for number, step in enumerate(steps if steps is not None else plan(lines)):
        if not len(pending):
            break
        if not step.families:
            slow = find_loose(lines, pending)
            if slow is not None:
                found.append(slow)
                pending = _without(pending, slow.rows)
            continue
        families = tuple(f for f in step.families if f not in ruled_out)
        if not families:
            continue
        if len(pending) > FEW:
            pending, opened = _openings(lines, pending, families)
            found.extend(opened)
        pattern = identify_regex(families, step.anchored)
        prefilter = number > 0 and step.quick
        pending, hits = _search(
            lines, pending, pattern, families, prefilter=prefilter, anchored=step.anchored
        )
        found.extend(hits)
        if not step.anchored:
            ruled_out.update(f for f in families if f.quick)
    return found, pending


def _openings(
    lines: pa.Array, pending: np.ndarray, families: Families
) -> tuple[np.ndarray, list[Found]]:
    """The ``pending`` rows a family of the step opens, read byte by byte (``openings``), and
    the rows left for the step's regex."""
    found = []
    for family in openings.readers(families):
        rows, raw = openings.read(lines, pending, family)
        if len(rows):
            found.append(Found(family, rows, raw))
            pending = _without(pending, rows)
    if openings.ISO in families and set(families) <= openings.INNER:
        rows, raw = openings.read_inner(lines, pending)
        if len(rows):
            found.append(Found(openings.ISO, rows, raw))
            pending = _without(pending, rows)
    return pending, found


def find_loose(lines: pa.Array, pending: np.ndarray) -> Found | None:
    """The slow path's candidates: a loose date-and-clock shape in lines no family matched."""
    if not len(pending):
        return None
    sub = lines.take(pa.array(pending))
    mask = pc.match_substring_regex(sub, LOOSE).fill_null(False).to_numpy(zero_copy_only=False)
    if not mask.any():
        return None
    rows = pending[mask]
    raw = pc.extract_regex(sub.filter(pa.array(mask)), f"(?P<loose>{LOOSE})").field("loose")
    return Found(None, rows, raw)


def _search(
    lines: pa.Array,
    pending: np.ndarray,
    pattern: str,
    families: Families,
    *,
    prefilter: bool,
    anchored: bool = False,
) -> tuple[np.ndarray, list[Found]]:
    """One step over the ``pending`` rows: (rows still pending, what each family matched).
    Over many rows where the pattern is sparse, RE2's match (its DFA, no submatches) picks the
    rows it matches and only those are extracted (a step meets rows of other families, and the
    last step mostly rows without a timestamp: stack traces, dumps)."""
    if len(pending) <= FEW:
        return _search_few(lines, pending, pattern, families)
    sub = lines if len(pending) == len(lines) else lines.take(pa.array(pending))
    if prefilter:
        # QUICK (a shape every timestamp has) compiles in microseconds and drops most rows
        # without a timestamp before the step's own pattern is compiled and run.
        keep = pc.match_substring_regex(sub, QUICK).fill_null(False).to_numpy(zero_copy_only=False)
        sub, pending = _kept(sub, pending, keep)
    rows = pending
    if len(sub) and _sparse(sub, pattern):
        hit = pc.match_substring_regex(sub, pattern).fill_null(False).to_numpy(zero_copy_only=False)
        sub, rows = _kept(sub, pending, hit)
    if not len(rows):
        return pending, []  # (QUICK left none, or none matched)
    missed = _without(pending, rows)
    hits = []
    if set(families) <= openings.JSON_STEP and families[-1].name == "json_iso":
        mine, raw = openings.read_json(sub)
        if mine.any():
            hits.append(Found(families[-1], rows[mine], raw))
            sub, rows = _kept(sub, rows, ~mine)
    left, more = _split(sub, rows, pattern, families, anchored) if len(rows) else (rows, [])
    return (np.union1d(missed, left) if len(left) else missed), hits + more


def _without(pending: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``pending`` (sorted row numbers) without ``rows`` (some of them), in order: what
    ``np.setdiff1d`` gives, without its sort."""
    keep = np.ones(len(pending), dtype=bool)
    keep[np.searchsorted(pending, rows)] = False
    return pending[keep]


def _sparse(sub: pa.Array, pattern: str) -> bool:
    """Whether the pattern misses enough rows (DENSE or fewer of a spread sample match) that
    matching every row first, then extracting from those matched, is cheaper."""
    sample = sub.take(pa.array(np.linspace(0, len(sub) - 1, num=SAMPLE).astype(np.int64)))
    hits = pc.match_substring_regex(sample, pattern).fill_null(False).to_numpy(zero_copy_only=False)
    return bool(hits.mean() < DENSE)


def _kept(sub: pa.Array, rows: np.ndarray, keep: np.ndarray) -> tuple[pa.Array, np.ndarray]:
    """The rows of ``sub`` (at positions ``rows`` of the column) where ``keep`` is True."""
    if keep.all():
        return sub, rows
    return sub.filter(pa.array(keep)), rows[keep]


def _split(
    sub: pa.Array, rows: np.ndarray, pattern: str, families: Families, anchored: bool
) -> tuple[np.ndarray, list[Found]]:
    """``_extract`` of the step's pattern; for the JSON keys' step, by each family's pattern
    where only that family matches (RE2's DFA tells): the step's leftmost match is then that
    family's, and RE2 extracts it faster with the small pattern (measured on 10 k JSON lines:
    19 ms with the three families' pattern, 12 ms matching each and extracting with one; on
    other steps, e.g. iso and klog on logfmt lines, the matches cost more than they save)."""
    keyed = all(f.name.startswith("json_") for f in families)
    if not keyed or len(families) < 2 or len(sub) <= FEW:
        return _extract(sub, rows, pattern, families)
    alone = [
        pc.match_substring_regex(sub, identify_regex((f,), anchored))
        .fill_null(False)
        .to_numpy(zero_copy_only=False)
        for f in families
    ]
    count = np.sum(alone, axis=0)
    left = [rows[count == 0]]
    hits: list[Found] = []
    for family, mine in zip(families, alone, strict=True):
        mine = mine & (count == 1)
        if mine.any():
            pattern_alone = identify_regex((family,), anchored)
            more, found = _extract(sub.filter(pa.array(mine)), rows[mine], pattern_alone, (family,))
            left.append(more)
            hits.extend(found)
    several = count > 1
    if several.any():
        more, found = _extract(sub.filter(pa.array(several)), rows[several], pattern, families)
        left.append(more)
        hits.extend(found)
    return np.sort(np.concatenate(left)), hits


def _extract(
    sub: pa.Array, rows: np.ndarray, pattern: str, families: Families
) -> tuple[np.ndarray, list[Found]]:
    """What each family's group of ``pattern`` extracted from ``sub`` (the rows ``rows`` of
    the column), and the rows none of them matched."""
    groups = pc.extract_regex(sub, pattern)
    matched = np.zeros(len(rows), dtype=bool)
    hits: list[Found] = []
    for index, family in enumerate(families):
        field = groups.field(group_name(index))
        _, _, lengths = string_parts(field)
        mine = lengths > 0
        if mine.any():
            matched |= mine
            hits.append(Found(family, rows[mine], field.filter(pa.array(mine))))
    return rows[~matched], hits


def _search_few(
    lines: pa.Array, pending: np.ndarray, pattern: str, families: Families
) -> tuple[np.ndarray, list[Found]]:
    regex = compiled(pattern)
    hits: dict[int, tuple[list[int], list[str]]] = {}
    left = []
    for row, line in zip(pending.tolist(), lines.take(pa.array(pending)).to_pylist(), strict=True):
        match = first_match(regex, line)
        if match is None or match.lastgroup is None:
            left.append(row)
            continue
        rows, raws = hits.setdefault(group_index(match.lastgroup), ([], []))
        rows.append(row)
        raws.append(match.group(match.lastgroup))
    found = [
        Found(families[index], np.array(rows, dtype=np.int64), pa.array(raws, pa.large_string()))
        for index, (rows, raws) in sorted(hits.items())
    ]
    return np.array(left, dtype=np.int64), found

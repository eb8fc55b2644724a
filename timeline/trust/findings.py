"""Integrity findings as data: what was found, where, and the clock correction it suggests.

A `Finding` says where the evidence cannot be trusted (a node clock off, an app writing local
time without a zone, a scrape gap, a pod whose logs are gone). Findings become timeline events
of kind ``clock`` or ``gap`` (source ``integrity``) through `findings_frame`, so they sit on the
timeline and in the report next to the evidence they qualify.

A `Correction` is a finding's offer to fix a clock: shift ``time`` and/or ``embedded_time`` of
the rows it names by a fixed amount. `apply_corrections` applies the ones a user accepted,
marks the rows ``time_quality = corrected`` and keeps each original instant in the row's labels
(``time_original``, ``embedded_time_original``) and the correction's id (``correction``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from incident_timeline.timeline.errors import CorrectionError
from incident_timeline.timeline.schema import empty_events, labels_json, make_events, validate
from incident_timeline.timeline.timefmt import iso, iso_ns_column

SOURCE = "integrity"
KINDS: tuple[str, ...] = ("clock", "gap")
SHIFTABLE: tuple[str, ...] = ("time", "embedded_time")


@dataclass(frozen=True)
class Correction:
    """Shift ``columns`` of some rows by ``shift_ns`` nanoseconds.

    Rows are those of ``streams`` plus those whose ``ref`` is in ``refs``, and (when given)
    whose original ``time`` lies in ``[since, until]``; ``None`` bounds are open. Example::

        Correction(id="node_clock:node-b", description="node-b runs 2.4 s ahead",
                   shift_ns=-2_400_000_000, columns=("time", "embedded_time"),
                   streams=("checkout/api-7f8k7/app",))
    """

    id: str
    description: str
    shift_ns: int
    columns: tuple[str, ...]
    streams: tuple[str, ...] = ()
    refs: tuple[str, ...] = ()
    since: pd.Timestamp | None = None
    until: pd.Timestamp | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (what corrections.json holds)."""
        return {
            "id": self.id,
            "description": self.description,
            "shift_seconds": self.shift_ns / 1e9,
            "columns": list(self.columns),
            "streams": list(self.streams),
            "refs": list(self.refs),
            "since": iso(self.since) if self.since is not None else None,
            "until": iso(self.until) if self.until is not None else None,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Correction:
        """Read back `to_dict`'s output; ValueError names what is wrong."""
        try:
            columns = tuple(str(c) for c in data["columns"])
            correction = cls(
                id=str(data["id"]),
                description=str(data.get("description", "")),
                shift_ns=round(float(data["shift_seconds"]) * 1e9),
                columns=columns,
                streams=tuple(str(s) for s in data.get("streams") or ()),
                refs=tuple(str(r) for r in data.get("refs") or ()),
                since=_stamp(data.get("since")),
                until=_stamp(data.get("until")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise CorrectionError(f"malformed correction {dict(data)!r}: {exc}") from exc
        bad = [c for c in columns if c not in SHIFTABLE]
        if bad or not columns:
            raise CorrectionError(
                f"correction {correction.id}: columns must be some of {SHIFTABLE}"
            )
        return correction


@dataclass(frozen=True)
class Finding:
    """One reason to distrust part of the evidence, with its size and place.

    ``kind`` is ``clock`` or ``gap``; ``check`` names the rule that found it; ``time``/``end``
    bound where it applies; ``summary`` is one line for a timeline table; ``detail`` explains
    it; ``ref`` points at the evidence (an event's ref or ``metrics/<name>.parquet#<pointer>``);
    ``labels`` carry the numbers as strings.
    """

    id: str
    kind: str
    check: str
    time: pd.Timestamp
    end: pd.Timestamp | None
    subject: str
    summary: str
    detail: str
    ref: str
    labels: Mapping[str, str] = field(default_factory=dict)
    correction: Correction | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (``incident clocks --format json``)."""
        return {
            "id": self.id,
            "kind": self.kind,
            "check": self.check,
            "time": iso(self.time),
            "end": iso(self.end) if self.end is not None else None,
            "subject": self.subject,
            "summary": self.summary,
            "detail": self.detail,
            "ref": self.ref,
            "labels": dict(sorted(self.labels.items())),
            "correction": self.correction.to_dict() if self.correction else None,
        }


def findings_frame(findings: Sequence[Finding], applied: Iterable[str] = ()) -> pd.DataFrame:
    """Findings as timeline events: kind clock/gap, source ``integrity``, severity warning.

    The stream is the finding's subject (``node/node-b``, ``metrics/up``, ...). A finding
    whose correction is in ``applied`` says so at the end of its summary (label ``corrected``);
    one whose correction was not accepted names it in label ``correction_offered``.
    """
    if not findings:
        return empty_events()
    done = set(applied)
    labels = []
    summaries = []
    for f in findings:
        fixed = f.correction is not None and f.correction.id in done
        state = (
            {"corrected": "yes"}
            if fixed
            else {"correction_offered": f.correction.id}
            if f.correction is not None
            else {}
        )
        labels.append({**f.labels, "check": f.check, "finding": f.id, **state})
        summaries.append(f.summary + (" [corrected]" if fixed else ""))
    return make_events(
        time=[f.time for f in findings],
        source=SOURCE,
        stream=[f.subject for f in findings],
        kind=[f.kind for f in findings],
        severity="warning",
        summary=summaries,
        message=[f.detail for f in findings],
        labels=labels,
        time_raw=[iso(f.time) for f in findings],
        ref=[f.ref for f in findings],
    )


def apply_corrections(
    events: pd.DataFrame, corrections: Sequence[Correction]
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Shift the rows each correction names; returns a new frame (row order kept) and the
    number of rows each correction shifted, by id.

    Rows are matched on their original values, so corrections do not chain through each other;
    shifts of two corrections on one row add up. The first original instant of each shifted
    column is kept in labels (``time_original``, ``embedded_time_original``), the correction
    ids in ``correction`` (comma-separated), and ``time_quality`` becomes ``corrected``.
    """
    out = validate(events)
    counts = {c.id: 0 for c in corrections}
    if not corrections or out.empty:
        return out, counts
    original = out[list(SHIFTABLE)].copy()
    touched = np.zeros(len(out), dtype=bool)
    notes: dict[int, list[str]] = {}
    for corr in corrections:
        mask = _rows(original, out, corr)
        counts[corr.id] += int(mask.sum())
        if not mask.any():
            continue
        delta = pd.Timedelta(corr.shift_ns, unit="ns")
        for column in corr.columns:
            out.loc[mask, column] = out.loc[mask, column] + delta
        touched |= mask
        for i in np.flatnonzero(mask):
            notes.setdefault(int(i), []).append(corr.id)
    if not touched.any():
        return out, counts
    out.loc[touched, "time_quality"] = "corrected"
    index = np.flatnonzero(touched)
    kept = {c: _iso_ns_column(original[c].iloc[index]) for c in SHIFTABLE}
    out.loc[touched, "labels"] = [
        _with_originals(labels, {c: kept[c][k] for c in SHIFTABLE}, notes[int(i)])
        for k, (i, labels) in enumerate(zip(index, out["labels"].to_numpy()[index], strict=True))
    ]
    return validate(out), counts


def corrected_counts(events: pd.DataFrame, corrections: Sequence[Correction]) -> dict[str, int]:
    """The rows of ``events`` each correction shifts, by id, as `apply_corrections` counts
    them, without shifting: ``events`` needs only time, stream and ref."""
    counts = {c.id: 0 for c in corrections}
    for corr in corrections:
        counts[corr.id] += int(_rows(events, events, corr).sum())
    return counts


def corrections_payload(corrections: Sequence[Correction]) -> dict[str, Any]:
    """The corrections.json document for accepted corrections."""
    return {"version": 1, "corrections": [c.to_dict() for c in corrections]}


def parse_corrections(payload: Mapping[str, Any]) -> list[Correction]:
    """Corrections from a corrections.json document; ValueError if it is not one."""
    items = payload.get("corrections")
    if not isinstance(items, list):
        raise CorrectionError("not a corrections document: no 'corrections' list")
    return [Correction.from_dict(item) for item in items]


def _rows(original: pd.DataFrame, out: pd.DataFrame, corr: Correction) -> np.ndarray:
    mask = np.zeros(len(out), dtype=bool)
    if corr.streams:
        mask |= out["stream"].isin(list(corr.streams)).to_numpy(dtype=bool)
    if corr.refs:
        mask |= out["ref"].isin(list(corr.refs)).to_numpy(dtype=bool)
    time = original["time"]
    if corr.since is not None:
        mask &= (time >= corr.since).to_numpy(dtype=bool)
    if corr.until is not None:
        mask &= (time <= corr.until).to_numpy(dtype=bool)
    return mask


def _with_originals(labels: str, originals: Mapping[str, str | None], ids: list[str]) -> str:
    data: dict[str, Any] = json.loads(labels) if labels else {}
    for column, text in originals.items():
        key = f"{column}_original"
        if key not in data and text is not None:
            data[key] = text
    before = [x for x in str(data.get("correction", "")).split(",") if x]
    data["correction"] = ",".join(dict.fromkeys([*before, *ids]))
    return labels_json(data)


def _iso_ns_column(stamps: pd.Series) -> list[str | None]:
    """`iso_ns` of a whole column at once; None for NaT."""
    return [None if pd.isna(t) else str(t) for t in iso_ns_column(stamps)]


def _stamp(value: Any) -> pd.Timestamp | None:
    if value is None or value == "":
        return None
    stamp = pd.Timestamp(value)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")

"""What people add to a bundle: notes, and events pinned into or hidden from the key timeline.

Curation lives in ``BUNDLE/curation.json``, its own file, apart from the machine's rows:
``incident collect --resume`` only rewrites a source's own ``raw/<source>/`` and
``events/<source>.parquet``, so a re-collect never touches it. A note becomes an event of
source ``human`` and kind ``note`` (ref ``curation.json#/notes/N``) that every timeline and
the report show, marked as human-entered.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd

from incident_timeline.collector.bundlefiles import atomic_open
from incident_timeline.collector.errors import BundleError, WindowError
from incident_timeline.timeline import schema
from incident_timeline.timeline.timefmt import iso_z
from incident_timeline.timeline.window import Window, parse_time

CURATION = "curation.json"
HUMAN = "human"
_CLOCK = re.compile(r"^\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?$")


@dataclasses.dataclass(frozen=True)
class Note:
    """A note a person added: when it happened, who, what, and when it was written down."""

    time: str  # ISO 8601 UTC
    text: str
    actor: str | None
    at: str  # the time as the person gave it
    added: str  # when the note was added (UTC)


@dataclasses.dataclass(frozen=True)
class Curation:
    """Everything people added to one bundle."""

    notes: tuple[Note, ...] = ()
    pins: tuple[str, ...] = ()
    hides: tuple[str, ...] = ()


def read_curation(bundle: Path) -> Curation:
    """The bundle's curation (empty when it has no curation.json)."""
    path = bundle / CURATION
    if not path.exists():
        return Curation()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        notes = tuple(Note(**n) for n in data.get("notes", []))
        return Curation(notes, tuple(data.get("pins", [])), tuple(data.get("hides", [])))
    except (OSError, ValueError, TypeError, AttributeError) as exc:
        raise BundleError(f"{path}: cannot read: {exc}; fix or delete it") from exc


def write_curation(bundle: Path, curation: Curation) -> None:
    """Write curation.json atomically."""
    payload = {
        "notes": [dataclasses.asdict(n) for n in curation.notes],
        "pins": list(curation.pins),
        "hides": list(curation.hides),
    }
    with atomic_open(bundle / CURATION, "w") as handle:
        handle.write(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")


def add_note(
    bundle: Path,
    at: str,
    text: str,
    *,
    window: Window | None,
    actor: str | None = None,
    tz: str = "UTC",
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Note:
    """Add a note at ``at`` (``14:40``: that time on the incident's day; or a full time)."""
    if not text.strip():
        raise BundleError("a note needs text, e.g. incident note BUNDLE --at 14:40 'Rolled back'")
    when = note_time(at, window, tz, now())
    note = Note(iso_z(when), text.strip(), actor, at, iso_z(now()))
    old = read_curation(bundle)
    write_curation(bundle, dataclasses.replace(old, notes=(*old.notes, note)))
    return note


def note_time(at: str, window: Window | None, tz: str, now: datetime) -> datetime:
    """Read ``at``: a bare clock time is on the day of the window that contains it."""
    if not _CLOCK.match(at.strip()):
        return parse_time(at, tz, now=now)
    if window is None:
        raise WindowError(f"--at {at!r}: the bundle has no window; give a date too")
    days = {window.since.date(), (window.until - timedelta(microseconds=1)).date()}
    found = []
    for day in sorted(days):
        stamp = parse_time(f"{day.isoformat()} {at.strip()}", tz, now=now)
        if window.since <= stamp < window.until:
            found.append(stamp)
    if len(found) != 1:
        raise WindowError(
            f"--at {at!r} is {'ambiguous' if found else 'outside the window'} "
            f"({window.describe()}); give a full time such as 2026-02-17T14:40:00Z"
        )
    return found[0]


def pin(bundle: Path, ref: str) -> Curation:
    """Put the event ``ref`` into the key timeline (and out of the hidden ones)."""
    old = read_curation(bundle)
    new = Curation(old.notes, _add(old.pins, ref), tuple(r for r in old.hides if r != ref))
    write_curation(bundle, new)
    return new


def hide(bundle: Path, ref: str) -> Curation:
    """Take the event ``ref`` out of the key timeline (and out of the pinned ones)."""
    old = read_curation(bundle)
    new = Curation(old.notes, tuple(r for r in old.pins if r != ref), _add(old.hides, ref))
    write_curation(bundle, new)
    return new


def check_ref(events: pd.DataFrame, ref: str) -> None:
    """BundleError unless some event has ``ref``."""
    if not (events["ref"] == ref).any():
        raise BundleError(
            f"no event has ref {ref!r}; find refs with incident timeline BUNDLE -f csv "
            "(the ref column)"
        )


def note_events(curation: Curation) -> pd.DataFrame:
    """The notes as events of source ``human``, kind ``note``."""
    notes = curation.notes
    if not notes:
        return schema.empty_events()
    return schema.make_events(
        time=[pd.Timestamp(n.time) for n in notes],
        source=HUMAN,
        stream=CURATION,
        kind="note",
        actor=[n.actor for n in notes],
        summary=[n.text for n in notes],
        message=[n.text for n in notes],
        labels=[{"entered_by": HUMAN, "added": n.added} for n in notes],
        time_raw=[n.at for n in notes],
        ref=[f"{CURATION}#/notes/{i}" for i in range(len(notes))],
    )


def with_notes(events: pd.DataFrame, curation: Curation) -> pd.DataFrame:
    """``events`` with the human notes merged in by time (notes after machine rows on ties)."""
    notes = note_events(curation)
    if notes.empty:
        return events
    merged = pd.concat([events, notes], ignore_index=True)
    return merged.sort_values("time", kind="stable").reset_index(drop=True)


def curate_key(events: pd.DataFrame, key: pd.DataFrame, curation: Curation) -> pd.DataFrame:
    """Key events with pinned events added and hidden ones removed, in time order."""
    shown = key.loc[~key["ref"].isin(curation.hides)]
    extra = events.loc[events["ref"].isin(set(curation.pins) - set(shown["ref"]))]
    if extra.empty:
        return shown.reset_index(drop=True)
    merged = pd.concat([shown, extra.loc[:, list(shown.columns)]], ignore_index=True)
    return merged.sort_values("time", kind="stable").reset_index(drop=True)


def _add(refs: tuple[str, ...], ref: str) -> tuple[str, ...]:
    return refs if ref in refs else (*refs, ref)

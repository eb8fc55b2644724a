"""Run the configured collectors into one bundle, each source isolated from the others."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from incident_timeline.collector.bundle import Bundle, SourceStatus
from incident_timeline.collector.config import Config
from incident_timeline.collector.errors import IncidentError
from incident_timeline.collector.protocol import Collector
from incident_timeline.timeline.clock import Clock, utc_now
from incident_timeline.timeline.window import Window


@dataclasses.dataclass(frozen=True)
class SourceOutcome:
    """How one source went: ``ok``, ``partial``, ``failed`` or ``skipped`` (resumed)."""

    name: str
    status: SourceStatus | Literal["skipped"]
    error: str | None
    counts: dict[str, int]
    seconds: float


def collect(
    config: Config,
    window: Window,
    out: Path,
    *,
    resume: bool = False,
    clock: Clock = utc_now,
    progress: Callable[[SourceOutcome], None] | None = None,
) -> list[SourceOutcome]:
    """Collect every source of ``config`` for ``window`` into bundle ``out``.

    A failing source never stops the others: its error goes to the manifest and the outcome.
    """
    bundle = Bundle(
        out, window, config.raw, title=config.incident.title, collected_at=clock(), resume=resume
    )
    bundle.write_manifest()
    outcomes = []
    for name, collector in config.sources.items():
        if resume and bundle.is_complete(name):
            outcome = SourceOutcome(name, "skipped", None, {}, 0.0)
        else:
            outcome = _run_one(bundle, name, collector, window, clock)
        outcomes.append(outcome)
        if progress:
            progress(outcome)
    return outcomes


def _run_one(
    bundle: Bundle, name: str, collector: Collector, window: Window, clock: Clock
) -> SourceOutcome:
    started = time.perf_counter()
    writer = bundle.open_source(name)
    counts: dict[str, int] = {}
    error = None
    status: SourceStatus
    try:
        counts = collector.collect(window, writer, clock=clock)
    except IncidentError as exc:  # e.g. SourceError, or ConfigError for a token not set
        error = str(exc)
    except Exception as exc:
        error = f"internal error in collector {name!r}: {type(exc).__name__}: {exc} (please report)"
    counts["events"] = writer.finish()
    if error is not None:
        status = "partial" if counts["events"] else "failed"
    else:
        status = "partial" if writer.partial else "ok"
        error = "; ".join(writer.warnings) if writer.partial else None
    bundle.close_source(writer, status, error, counts)
    return SourceOutcome(name, status, error, counts, time.perf_counter() - started)

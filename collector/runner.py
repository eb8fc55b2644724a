"""Run the configured collectors into one bundle, each source isolated from the others.

Every source runs in its own thread with its own budget (its ``budget`` key, else
``incident.source_budget``), so one slow or hanging source cannot starve the others. The
budget is enforced twice: `collector.http` ends every request by the source's deadline (a
trickling server is cut mid-body), and the runner stops waiting for a source that is still
busy past its deadline plus a short grace: it is recorded as "gave up after N s", its writer
refuses every later write, and the others go on. The bundle's manifest holds one lock, so
sources finishing at once keep it consistent.
"""

from __future__ import annotations

import dataclasses
import queue
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from incident_timeline.collector.bundle import (
    Bundle,
    SourceStatus,
    SourceWarning,
    SourceWriter,
    config_digest,
)
from incident_timeline.collector.config import Config
from incident_timeline.collector.errors import DeadlineError, IncidentError
from incident_timeline.collector.protocol import Collector
from incident_timeline.timeline.clock import Clock, utc_now
from incident_timeline.timeline.window import Window


class Interrupted(Exception):
    """Collection stopped by a signal (SIGTERM, or SIGINT: Ctrl-C); the bundle's manifest
    already says so. ``status`` is the exit status a shell gives such a death, 128 + signal."""

    def __init__(self, signum: int, message: str) -> None:
        super().__init__(message)
        self.signum = signum
        self.status = 128 + signum


GRACE = 2.0  # seconds a source may overrun its budget before the runner stops waiting
DEFAULT_BUDGET = 900.0


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
    notice: Callable[[str], None] | None = None,
    incident: dict[str, Any] | None = None,
) -> list[SourceOutcome]:
    """Collect every source of ``config`` for ``window`` into bundle ``out``.

    Sources run at once, each in a thread with its budget; a failing or stuck source never
    stops the others: its error goes to the manifest and the outcome. Outcomes come back in
    config order; ``progress`` is called (in this thread) as each source ends, ``notice``
    with what ``resume`` did besides (temp files removed, sources collected again).
    ``incident`` (e.g. from ``--pagerduty-incident``) is kept as the manifest's ``incident``
    section; its title is the report's unless ``[incident] title`` is set.
    """
    title = config.incident.title or (incident or {}).get("title")
    bundle = Bundle(
        out, window, config.raw, title=title, collected_at=clock(), resume=resume, incident=incident
    )
    bundle.write_manifest()
    say = notice or (lambda text: None)
    if bundle.removed_temp:
        say(f"removed {len(bundle.removed_temp)} leftover temp file(s) of the interrupted run")
    default = getattr(config.incident, "source_budget_seconds", DEFAULT_BUDGET)
    runs: dict[str, _Run] = {}
    outcomes: dict[str, SourceOutcome] = {}
    for name, collector in config.sources.items():
        digest = config_digest(config.raw.get(name))
        if resume and bundle.is_complete(name, digest):
            outcomes[name] = SourceOutcome(name, "skipped", None, {}, 0.0)
            continue
        if resume and bundle.is_complete(name):
            say(f"{name}: its config changed since it was collected; collecting it again")
        budget = float(getattr(collector, "budget", None) or default)
        runs[name] = _Run(bundle, name, collector, window, clock, budget, digest)
    for name in config.sources:  # resumed (skipped) sources first, in config order
        if name in outcomes and progress:
            progress(outcomes[name])
    try:
        with _terminate_raises():
            outcomes.update(_run_all(runs, progress))
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM as translated below
        raise _interrupted(bundle, runs, clock, exc) from None
    return [outcomes[name] for name in config.sources]


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread like Ctrl-C's KeyboardInterrupt."""


@contextmanager
def _terminate_raises() -> Iterator[None]:
    """SIGTERM (``kill``, ``docker stop``, a CI job's timeout) interrupts collection as Ctrl-C
    does, instead of ending the process where it stands (Python's default, which would leave
    no word of it); only the main thread may set a handler (signal module docs)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        raise _Terminated

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _interrupted(
    bundle: Bundle, runs: dict[str, _Run], clock: Clock, exc: KeyboardInterrupt
) -> Interrupted:
    """Record in the manifest that a signal stopped the run and which sources it cut short
    (they stay ``running``, so every reader warns and ``--resume`` collects them again)."""
    signum = signal.SIGTERM if isinstance(exc, _Terminated) else signal.SIGINT
    name = signal.Signals(signum).name
    cut = sorted(n for n, run in runs.items() if not run.done)
    for run_name in cut:
        runs[run_name].cancel(f"{run_name}: interrupted by {name}")
    bundle.mark_interrupted(name, clock(), cut)
    which = f" before {', '.join(cut)} finished" if cut else ""
    return Interrupted(
        signum,
        f"interrupted by {name}{which}; the bundle is marked incomplete: run incident collect "
        "--resume (same config and window) to complete it",
    )


def _run_all(
    runs: dict[str, _Run], progress: Callable[[SourceOutcome], None] | None
) -> dict[str, SourceOutcome]:
    """Start every source; report each as it ends; give up on those past budget and grace."""
    finished: queue.Queue[str] = queue.Queue()
    for run in runs.values():
        run.start(finished)
    pending = dict(runs)
    outcomes: dict[str, SourceOutcome] = {}
    while pending:
        due = min(run.started + run.budget + GRACE for run in pending.values())
        try:
            name = finished.get(timeout=max(0.0, due - time.monotonic()))
        except queue.Empty:
            name = next(n for n, r in pending.items() if r.started + r.budget + GRACE <= due)
            pending[name].give_up()
        if name not in pending:
            continue  # a source given up on that ended later: already reported
        outcomes[name] = pending.pop(name).outcome()
        if progress:
            progress(outcomes[name])
    return outcomes


class _Run:
    """One source in its thread: the writer, the budget, and how it ended."""

    def __init__(
        self,
        bundle: Bundle,
        name: str,
        collector: Collector,
        window: Window,
        clock: Clock,
        budget: float,
        digest: str,
    ) -> None:
        self.bundle, self.name, self.collector = bundle, name, collector
        self.window, self.clock, self.budget, self.digest = window, clock, budget, digest
        self.counts: dict[str, int] = {}
        self.error: str | None = None
        self.writer: SourceWriter | None = None
        self.started = 0.0
        self._lock = threading.Lock()
        self._outcome: SourceOutcome | None = None

    def start(self, finished: queue.Queue[str]) -> None:
        self.started = time.monotonic()
        self.finished = finished
        self.writer = self.bundle.open_source(
            self.name,
            deadline=self.started + self.budget,
            budget=self.budget,
            config_digest=self.digest,
        )
        thread = threading.Thread(target=self._target, name=f"source-{self.name}", daemon=True)
        thread.start()

    def _target(self) -> None:
        assert self.writer is not None
        self.writer.activate()
        try:
            self.counts = dict(self.collector.collect(self.window, self.writer, clock=self.clock))
        except IncidentError as exc:  # SourceError, DeadlineError, ConfigError (token unset)
            self.error = str(exc)
        except Exception as exc:
            self.error = (
                f"internal error in collector {self.name!r}: {type(exc).__name__}: {exc} "
                "(please report)"
            )
        self._close()
        self.finished.put(self.name)

    def give_up(self) -> None:
        """The source overran its budget: refuse its later writes and record what it has."""
        assert self.writer is not None
        self.writer.cancel(f"{self.name}: gave up after {self.budget:g} s (its budget)")
        with self._lock:
            if self._outcome is None:
                self.error = f"gave up after {self.budget:g} s: the source did not answer in time"
                self.writer.records.append(SourceWarning("gap", self.error, None, True))
        self._close()

    def _close(self) -> None:
        """Write the source's events and its manifest entry, once (thread or give_up)."""
        assert self.writer is not None
        writer = self.writer
        with self._lock:
            if self._outcome is not None:
                return
            counts = dict(self.counts)
            counts["events"] = writer.finish()
            status, error = _status(writer, self.error, counts["events"])
            extra: dict[str, Any] = {"seconds": round(time.monotonic() - self.started, 3)}
            if writer.requests["ok"] or writer.requests["failed"]:
                extra["requests"] = dict(writer.requests)
            self.bundle.close_source(writer, status, error, counts, **extra)
            error = writer.mask(error) if error else None
            self._outcome = SourceOutcome(self.name, status, error, counts, extra["seconds"])

    @property
    def done(self) -> bool:
        """Whether the source's outcome is recorded."""
        with self._lock:
            return self._outcome is not None

    def cancel(self, reason: str) -> None:
        """Refuse the source's later writes (the run was interrupted)."""
        if self.writer is not None:
            self.writer.cancel(reason)

    def outcome(self) -> SourceOutcome:
        assert self._outcome is not None
        return self._outcome


def _status(
    writer: SourceWriter, error: str | None, events: int
) -> tuple[SourceStatus, str | None]:
    """``failed`` when nothing came (an error, or every request failed), ``partial`` when
    something is missing, else ``ok``; the error text says why."""
    failed_all = writer.requests["failed"] > 0 and writer.requests["ok"] == 0
    if error is None and failed_all:
        error = writer.first_failure or "every request failed"
    if error is not None:
        return ("partial" if events else "failed"), error
    if writer.partial:
        return "partial", "; ".join(w.message for w in writer.records if w.partial) or None
    return "ok", None


__all__ = ["DeadlineError", "Interrupted", "SourceOutcome", "collect"]

"""The log lines' part of the integrity checks, taken a batch of whole streams at a time.

Log lines are nearly all of a big bundle's rows, but every check that reads them looks at
one stream at a time: the app clock's offsets (`clocks.stream_clocks`), silences and the
interval statistics (`gaps.stream_stats`), time running backwards (`gaps.backwards_findings`),
the pods a stream belongs to (`evidence.pods_of`). `LogDigest` keeps what those give per
stream (the findings themselves, one row of statistics, the offsets of the streams whose
app clock is off, the few lines stamped after collection), so a caller can hand it the log
lines stream by stream and free them. `checks.check_integrity` hands it every log line at
once; ``incident clocks`` hands it the streams as it reads them from the bundle.
"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa

from incident_timeline.timeline.runs import in_order
from incident_timeline.timeline.trust.clocks import (
    StreamClock,
    Thresholds,
    app_clock_groups,
    stream_clocks,
)
from incident_timeline.timeline.trust.evidence import pods_of, stream_labels
from incident_timeline.timeline.trust.findings import Finding
from incident_timeline.timeline.trust.gaps import (
    GapLimits,
    backwards_findings,
    sorted_logs,
    stream_silences,
    stream_stats,
)

# The columns of a log line the checks read (summary, message and time_raw they do not).
LOG_COLUMNS: tuple[str, ...] = (
    "time",
    "source",
    "stream",
    "kind",
    "labels",
    "embedded_time",
    "ref",
)


class LogDigest:
    """What the checks need of the log lines, given in batches of whole streams.

    Each stream must come in one batch, its rows in timeline order; batches may come in any
    order. ``collected_at`` is the bundle's collection time (lines stamped more than
    ``gaps.future`` after it are kept for the future check).
    """

    def __init__(
        self, clocks: Thresholds, gaps: GapLimits, collected_at: pd.Timestamp | None
    ) -> None:
        self.clocks, self.gaps, self.collected_at = clocks, gaps, collected_at
        self._clocks: list[StreamClock] = []
        self._silences: list[Finding] = []
        self._backwards: list[Finding] = []
        self._stats: list[pd.DataFrame] = []
        self._labels: dict[str, dict[str, str]] = {}
        self._ahead: list[pd.DataFrame] = []

    def add(self, logs: pd.DataFrame) -> None:
        """Digest ``logs``: log lines (`LOG_COLUMNS` at least) of streams not given before."""
        if logs.empty:
            return
        fresh = stream_labels(logs)
        again = fresh.keys() & self._labels.keys()
        if again:
            raise ValueError(f"streams given twice to the log digest: {sorted(again)[:3]}")
        self._labels |= fresh
        self._clocks += stream_clocks(logs, self.clocks)
        ordered = _sorted_logs(logs)
        stats = stream_stats(logs, self.gaps, ordered)
        self._stats.append(stats)
        self._silences += stream_silences(ordered, stats)
        self._backwards += backwards_findings(logs, self.gaps)
        if self.collected_at is not None:
            limit = self.collected_at + pd.Timedelta(seconds=self.gaps.future)
            late = (logs["time"] > limit).to_numpy(dtype=bool)
            if late.any():
                self._ahead.append(logs.loc[late, ["time", "source", "stream", "ref"]])

    def app_clock_findings(self) -> list[Finding]:
        """`clocks.app_clock_findings` of every line given."""
        return app_clock_groups(self._clocks)

    def silence_findings(self) -> list[Finding]:
        """`gaps.silence_findings` of every line given."""
        return list(self._silences)

    def backwards_findings(self) -> list[Finding]:
        """`gaps.backwards_findings` of every line given."""
        return list(self._backwards)

    def stream_stats(self) -> pd.DataFrame:
        """`gaps.stream_stats` of every line given (one row per stream)."""
        return pd.concat(self._stats) if self._stats else pd.DataFrame()

    def log_pods(self) -> dict[str, list[str]]:
        """`evidence.log_pods` of every line given."""
        return pods_of(self._labels)

    def ahead(self) -> list[pd.DataFrame]:
        """Time, source, stream and ref of the lines stamped after collection (plus slack)."""
        return list(self._ahead)


def _sorted_logs(logs: pd.DataFrame) -> pd.DataFrame:
    """`gaps.sorted_logs` of ``logs``, without its sort where they are log lines by stream and
    time already (as `report.scan` hands them): a stable sort leaves those as they are."""
    if (logs["kind"] == "log").to_numpy(dtype=bool).all():
        keys = pa.table({"stream": pa.array(logs["stream"]), "time": pa.array(logs["time"])})
        if in_order(keys, ("stream", "time")):
            return logs[["time", "stream", "ref"]].reset_index(drop=True)
    return sorted_logs(logs)

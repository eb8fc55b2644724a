"""Events hidden in metric samples: threshold crossings and alert state changes.

Samples are tidy: one row per (series, time) with columns ``time`` (UTC), ``series`` (a stable
label string such as ``{service="checkout-api"}``) and ``value`` (float).
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from incident_timeline.timeline.errors import ThresholdError

if TYPE_CHECKING:
    import pandas as pd

_OPS: dict[str, Callable[[Any, Any], Any]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}
_THRESHOLD = re.compile(r"^\s*(>=|<=|==|!=|>|<)\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*$")

# The sample spacing assumed when the data cannot show it (one sample per series): 15 s is the
# scrape and evaluation interval of Prometheus' example prometheus.yml and of most setups
# built from it (the built-in default, 1 m, is rarely left in place).
DEFAULT_STEP_SECONDS = 15


def parse_threshold(text: str) -> tuple[str, float]:
    """``"> 0.05"`` -> ``(">", 0.05)``; ValueError for anything else."""
    match = _THRESHOLD.match(text)
    if not match:
        raise ThresholdError(
            f"{text!r} is not a threshold like '> 0.05' (operators: {' '.join(_OPS)})"
        )
    return match.group(1), float(match.group(2))


def threshold_crossings(samples: pd.DataFrame, op: str, threshold: float) -> pd.DataFrame:
    """Each time a series starts or stops meeting ``value <op> threshold``.

    Returns ``time, series, value, state`` with state ``above`` (condition starts to hold,
    including at a series' first sample) or ``below`` (it stops holding). NaN samples are
    ignored. Sorted by time, then series.
    """
    import pandas as pd

    data = samples.dropna(subset=["value"]).sort_values(["series", "time"], kind="stable")
    holds = pd.Series(_OPS[op](data["value"], threshold), index=data.index).astype(bool)
    before = holds.groupby(data["series"]).shift(1)
    first = before.isna()
    before = before.fillna(False).astype(bool)
    up = holds & (~before | first)
    down = ~holds & before & ~first
    out = data.loc[up | down, ["time", "series", "value"]].copy()
    out["state"] = ["above" if u else "below" for u in up[up | down]]
    return out.sort_values(["time", "series"], kind="stable").reset_index(drop=True)


def crossing_positions(
    values: np.ndarray, op: str, threshold: float, before: bool | None = None
) -> tuple[np.ndarray, np.ndarray, bool | None]:
    """`threshold_crossings` for one series' values in time order, as arrays, so a long
    series can be read in pieces: ``before`` is whether the condition held at the series'
    last non-NaN sample of the previous pieces (None: this is the series' start, where a
    holding condition counts as a crossing).

    Returns the positions in ``values`` of the crossings, whether each is ``above`` (True)
    or ``below``, and ``before`` for the next piece. NaN samples are ignored.
    """
    positions = np.flatnonzero(~np.isnan(values))
    holds = np.asarray(_OPS[op](values[positions], threshold), dtype=bool)
    if not len(holds):
        return positions, holds, before
    previous = np.empty_like(holds)
    previous[1:] = holds[:-1]
    previous[0] = bool(before)
    changed = holds != previous
    if before is None:
        changed[0] = bool(holds[0])  # a series that starts above counts; one starting below not
    return positions[changed], holds[changed], bool(holds[-1])


def alert_transitions(samples: pd.DataFrame, horizon: pd.Timestamp | None = None) -> pd.DataFrame:
    """Alert state changes from ``ALERTS`` samples (value 1 while pending or firing).

    ``samples`` needs ``time, series, alertstate`` where ``series`` names the alert without its
    state. A run of samples starts a ``pending`` or ``firing`` state; a firing run that stops
    before ``horizon`` (default: the data's last timestamp, where a query may simply have ended)
    ends in ``resolved`` one step after its last sample.
    Runs break at gaps longer than 1.5 steps. Returns ``time, series, state`` sorted by time.
    """
    import pandas as pd

    if samples.empty:
        return pd.DataFrame(
            {
                "time": pd.Series(dtype="datetime64[ns, UTC]"),
                "series": pd.Series(dtype="string"),
                "state": pd.Series(dtype="string"),
            }
        )
    data = samples.sort_values(["series", "alertstate", "time"], kind="stable")
    step = _step(data)
    key = [data["series"], data["alertstate"]]
    gap = data["time"].groupby(key).diff()
    starts = gap.isna() | (gap > step * 1.5)
    run = starts.cumsum()
    last_time = data["time"].max() if horizon is None else horizon
    rows = []
    for _, group in data.groupby(run, sort=False):
        first, last = group.iloc[0], group.iloc[-1]
        rows.append((first["time"], first["series"], first["alertstate"]))
        if first["alertstate"] == "firing" and last["time"] < last_time:
            rows.append((last["time"] + step, first["series"], "resolved"))
    out = pd.DataFrame(rows, columns=["time", "series", "state"])
    return out.sort_values(["time", "series"], kind="stable").reset_index(drop=True)


def _step(data: pd.DataFrame) -> pd.Timedelta:
    import pandas as pd

    diffs = data["time"].groupby([data["series"], data["alertstate"]]).diff().dropna()
    diffs = diffs[diffs > pd.Timedelta(0)]
    return diffs.min() if len(diffs) else pd.Timedelta(seconds=DEFAULT_STEP_SECONDS)

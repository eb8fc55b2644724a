"""Draw the figure specs (`figspec.py`) with matplotlib's Agg backend, offline, as PNG and SVG.

Figures are made with ``matplotlib.figure.Figure`` (no pyplot: no global state, no display),
in UTC, at 1200×500 px (PNG, 100 dpi), a size that stays readable pasted into a postmortem.
Output is deterministic: no date or software stamp in the files, a fixed SVG hash salt.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC
from pathlib import Path
from typing import Any

# No pyplot: a bare Figure renders through Agg (PNG) and the SVG backend without a display.
import matplotlib
import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure

from incident_timeline.collector.bundlefiles import atomic_open
from incident_timeline.report.figspec import (
    SOURCE_ORDER,
    Lane,
    Marker,
    MetricFigure,
    OverviewFigure,
    Span,
    metric_figures,
    overview_figure,
)

SIZE = (12.0, 5.0)  # inches; at DPI this is 1200 x 500 px
DPI = 100
FIGURES = "figures"
COLOURS: dict[str, str] = {
    "deploy": "#1f77b4",
    "rollback": "#9467bd",
    "mitigation": "#2ca02c",
    "alert pending": "#ffbf00",
    "alert firing": "#d62728",
    "alert resolved": "#17becf",
    "page": "#e377c2",
    "ack": "#8c564b",
    "escalation": "#ff7f0e",
    "resolved": "#2ca02c",
}
_RC: dict[Any, Any] = {
    "svg.hashsalt": "incident-timeline",
    "font.family": "DejaVu Sans",
    "font.size": 9,
}


@dataclass(frozen=True)
class Written:
    """A figure on disk: its name, title and the bundle-relative PNG and SVG paths."""

    name: str
    title: str
    png: str
    svg: str


def write_figures(
    bundle: Path,
    manifest: Mapping[str, Any],
    metrics: Mapping[str, pd.DataFrame],
    events: pd.DataFrame,
    *,
    redact: Callable[[str], str] = lambda text: text,
    lanes: Sequence[Lane] | None = None,
) -> list[Written]:
    """Draw the overview and one figure per query into ``bundle/figures/``; returns them,
    overview first. ``lanes`` (from `LaneCounts`) are the overview's when ``events`` holds
    only the rows the figures read besides them: the figures read no info or warning log
    line but to count it."""
    overview = overview_figure(manifest, events, redact=redact)
    if lanes is not None:
        overview = replace(overview, lanes=tuple(lanes))
    written = [
        _save(bundle, "overview", f"{overview.title}: events per source", draw_overview(overview))
    ]
    for spec in metric_figures(manifest, metrics, events, redact=redact):
        written.append(_save(bundle, f"query-{_slug(spec.name)}", spec.title, draw_metric(spec)))
    return written


class LaneCounts:
    """The overview's lanes (`figspec.overview_figure`: events per source and bin), counted a
    frame of the timeline at a time. The bins are explicit edges, with which ``np.histogram``
    places each value on its own (searchsorted on the edges), so the frames' counts add up to
    the whole timeline's."""

    def __init__(self, manifest: Mapping[str, Any]) -> None:
        from incident_timeline.timeline.schema import empty_events

        # The edges come from the manifest's window alone when it has one (`drafts` checks).
        edges = overview_figure(manifest, empty_events()).edges
        self._edge_ns = pd.DatetimeIndex(edges).as_unit("ns").asi8
        self._counts: dict[str, np.ndarray] = {}
        self._totals: dict[str, int] = {}

    def add(self, events: pd.DataFrame) -> None:
        """Count one frame's rows."""
        times = events["time"].dt.as_unit("ns").astype("int64").to_numpy()
        codes, names = pd.factorize(events["source"])
        for code, source in enumerate(names.tolist()):
            mask = codes == code
            counts, _ = np.histogram(times[mask], bins=self._edge_ns)
            self._counts[source] = self._counts.get(source, 0) + counts
            self._totals[source] = self._totals.get(source, 0) + int(mask.sum())

    def lanes(self) -> list[Lane]:
        """The lanes in `overview_figure`'s order: `SOURCE_ORDER`, then the others by name."""
        present = sorted(self._counts)
        order = [s for s in SOURCE_ORDER if s in present]
        order += [s for s in present if s not in SOURCE_ORDER]
        return [Lane(s, tuple(int(c) for c in self._counts[s]), self._totals[s]) for s in order]


def figures_markdown(written: Sequence[Written], bundle: Path, document: Path) -> str:
    """Markdown that shows the figures from ``document`` (relative image links), or ''."""
    if not written:
        return ""
    base = Path(_relative(bundle, document.parent))
    lines = ["### Figures", ""]
    for fig in written:
        png, svg = (base / fig.png).as_posix(), (base / fig.svg).as_posix()
        lines += [f"![{_alt(fig.title)}]({png})", "", f"{_alt(fig.title)} ([SVG]({svg}))", ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def draw_metric(spec: MetricFigure) -> Figure:
    """One query: its lines, the rest's maximum, the threshold, impact spans and markers."""
    fig, ax = _figure()
    for line in spec.lines:
        ax.plot(_x(line.times), line.values, linewidth=1.6, label=line.label)
    if spec.rest is not None:
        ax.plot(
            _x(spec.rest.times),
            spec.rest.values,
            color="#888888",
            linestyle="--",
            linewidth=1.0,
            label=spec.rest.label,
        )
    if spec.threshold is not None:
        op, value = spec.threshold
        ax.axhline(
            value, color="#d62728", linestyle=":", linewidth=1.2, label=f"threshold {op} {value:g}"
        )
    _spans(ax, spec.spans)
    _markers(ax, spec.markers, spec.window)
    ax.set_title(spec.title, loc="left", fontsize=11)
    ax.set_ylabel(spec.name)
    _time_axis(ax, spec.window)
    ax.legend(loc="upper left", bbox_to_anchor=(1.005, 1.0), fontsize=8, frameon=False)
    return fig


def draw_overview(spec: OverviewFigure) -> Figure:
    """One lane per source (bar height: events per bin, scaled per lane), spans, markers."""
    fig, ax = _figure()
    edges = _x(spec.edges)
    width = np.diff(edges)
    for row, lane in enumerate(spec.lanes):
        counts = np.asarray(lane.counts, dtype=float)
        scale = counts.max() or 1.0
        ax.bar(
            edges[:-1],
            counts / scale * 0.8,
            width=width,
            bottom=row - 0.4,
            align="edge",
            color="#4c72b0",
            linewidth=0,
        )
    ax.set_yticks(range(len(spec.lanes)))
    ax.set_yticklabels([f"{lane.source} ({lane.total:,})" for lane in spec.lanes])
    ax.set_ylim(-0.6, max(len(spec.lanes), 1) - 0.4)
    ax.invert_yaxis()
    _spans(ax, spec.spans)
    _markers(ax, spec.markers, (spec.edges[0], spec.edges[-1]))
    ax.set_title(f"{spec.title}: events per source", loc="left", fontsize=11)
    _time_axis(ax, (spec.edges[0], spec.edges[-1]))
    return fig


def _figure() -> tuple[Figure, Axes]:
    with matplotlib.rc_context(_RC):
        fig = Figure(figsize=SIZE, dpi=DPI, layout="constrained")
        ax = fig.add_subplot()
    ax.grid(True, axis="x", color="#dddddd", linewidth=0.6)
    return fig, ax


def _spans(ax: Axes, spans: Sequence[Span]) -> None:
    """Impact spans shaded over the axes' height, as one collection: a noisy threshold gives
    thousands of breaches, and matplotlib draws (and saves) an artist at a time."""
    if not spans:
        return
    edges = _x([t for span in spans for t in (span.start, span.end)]).reshape(-1, 2)
    boxes = [[(x0, 0), (x0, 1), (x1, 1), (x1, 0)] for x0, x1 in edges.tolist()]
    shade = PolyCollection(
        boxes, transform=ax.get_xaxis_transform(), facecolor="#d62728", alpha=0.10, linewidth=0
    )
    shade.set_label("impact")
    ax.add_collection(shade, autolim=False)


def _markers(
    ax: Axes, markers: Sequence[Marker], window: tuple[pd.Timestamp, pd.Timestamp]
) -> None:
    """A vertical line per marker, labelled along the line with its category and time;
    markers closer than 1 % of the window share one label, so none overprints another. The
    full text is in the HTML report and the timeline."""
    close = (window[1] - window[0]) / 100
    groups: list[list[Marker]] = []
    for marker in markers:
        if groups and marker.time - groups[-1][0].time <= close:
            groups[-1].append(marker)
        else:
            groups.append([marker])
    for group in groups:
        for marker in group:
            (x,) = _x((marker.time,))
            ax.axvline(x, color=COLOURS.get(marker.category, "#444444"), linewidth=1.1)
        names = ", ".join(dict.fromkeys(m.category for m in group))
        (x,) = _x((group[0].time,))
        ax.text(
            x,
            0.99,
            f"{names} {group[0].time.strftime('%H:%M')}",
            transform=ax.get_xaxis_transform(),
            rotation=90,
            va="top",
            ha="right",
            fontsize=7,
            color=COLOURS.get(group[0].category, "#444444"),
            bbox={"facecolor": "white", "alpha": 0.75, "edgecolor": "none", "pad": 0.6},
        )


def _time_axis(ax: Axes, window: tuple[pd.Timestamp, pd.Timestamp]) -> None:
    locator = mdates.AutoDateLocator(tz=UTC, maxticks=12)  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_locator(locator)
    formatter = mdates.ConciseDateFormatter(locator, tz=UTC)  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_formatter(formatter)
    ax.set_xlim(*_x(window))
    ax.set_xlabel("time (UTC)")


def _x(times: Sequence[pd.Timestamp]) -> np.ndarray:
    """UTC instants as matplotlib date numbers (days since the epoch)."""
    ns = np.asarray([pd.Timestamp(t).value for t in times], dtype="float64")
    return ns / 86_400e9


def _save(bundle: Path, name: str, title: str, fig: Figure) -> Written:
    png, svg = f"{FIGURES}/{name}.png", f"{FIGURES}/{name}.svg"
    with matplotlib.rc_context(_RC):
        with atomic_open(bundle / png) as handle:
            fig.savefig(handle, format="png", dpi=DPI, metadata={"Software": None})
        with atomic_open(bundle / svg) as handle:
            fig.savefig(handle, format="svg", metadata={"Date": None, "Creator": None})
    return Written(name, title, png, svg)


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._") or "query"


def _alt(text: str) -> str:
    return re.sub(r"[\[\]\\`*<>]", "", " ".join(text.split()))


def _relative(bundle: Path, folder: Path) -> str:
    import os

    return os.path.relpath(bundle.resolve(), folder.resolve())

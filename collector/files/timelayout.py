"""A ``[[file]]`` table's own timestamp layout: its ``time_format`` and ``time_regex`` as the
time engine's families (see ``timeline.timestamps.layout``), and the check that the layout
reads at least one of a file's first lines (else the table is wrong, and the user is told
which file and which line). In a plain log the layout reads each line's time; in a
``kubectl-logs`` or ``cri`` file, whose time is the runtime's, it reads the app's own stamp
after it (``embedded_time``, what clock checks compare the runtime's with)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from incident_timeline.collector.errors import ConfigError
from incident_timeline.collector.kubernetes.formats import app_text
from incident_timeline.collector.lines import split_lines
from incident_timeline.timeline.timestamps import FAMILIES, Families, parse_timestamps
from incident_timeline.timeline.timestamps.layout import LayoutError, compile_format, placed

SAMPLE_LINES = 64  # the first lines a table's layout must read one of
PLAIN = ("auto", "log")  # formats whose lines' time a layout reads
APP = ("kubectl-logs", "cri")  # formats whose app stamps (after the runtime's) a layout reads


def table_layout(
    time_format: str | None, time_regex: str | None, fmt: str, where: str, path: Path
) -> Families | None:
    """The families a table's ``time_format``/``time_regex`` make (None: neither is set);
    ConfigError naming the key when they cannot be read, or are set for a structured format."""
    if time_format is None and time_regex is None:
        return None
    if fmt not in PLAIN + APP:
        raise ConfigError(
            f"{path}: {where}.time_format and time_regex are for plain logs (format = 'log' "
            f"or 'auto') and the app's stamps in 'kubectl-logs' or 'cri' files, not format = "
            f"{fmt!r}, which knows its own timestamps"
        )
    try:
        if time_format is None:
            return placed(FAMILIES, time_regex or "")
        return (compile_format(time_format, time_regex),)
    except LayoutError as exc:
        raise ConfigError(f"{path}: {where}: {exc}") from None


def first_miss(
    head: bytes, layout: Families, tz: str, window: tuple[Any, Any], fmt: str = "log"
) -> tuple[int, str] | None:
    """None when ``layout`` reads a timestamp in one of the first SAMPLE_LINES lines of
    ``head`` (of a ``kubectl-logs`` or ``cri`` file: in what follows the runtime's part);
    else the first of those lines (its number and text, cut at 200 characters)."""
    lines = split_lines(head).head(SAMPLE_LINES)
    if lines.empty:
        return None
    text = lines
    if fmt in APP:
        text = app_text(b"\n".join(head.split(b"\n")[: int(lines.index[-1])]), fmt)
    got = parse_timestamps(text, tz, window, families=layout)
    if got["time"].notna().any():
        return None
    return int(lines.index[0]), str(lines.iloc[0])[:200]

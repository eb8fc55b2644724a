"""The output formats of ``incident timeline``, apart from `render` (which brings pandas) so
the command line can list them without importing it."""

from __future__ import annotations

FORMATS: tuple[str, ...] = ("table", "md", "csv", "jsonl", "parquet", "html", "timesketch")
CHUNKED: tuple[str, ...] = ("table", "md", "csv", "jsonl")  # see render.render_chunks

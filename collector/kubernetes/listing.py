"""Lists in chunks, kept as received: ``?limit=N&continue=TOKEN`` until the response's
``metadata.continue`` is empty (``apimachinery:pkg/apis/meta/v1/types.go`` ListOptions).

A continue token the server no longer honours answers 410 ``Expired`` (etcd compacted the
revision it names, typically after 5 minutes): the list starts again from the beginning, as
client-go's pager does when it falls back to a full list (``client-go/tools/pager/pager.go``).
Every page is stored under ``raw/kubernetes/``; a restarted list keeps its earlier pages too.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from incident_timeline.collector.bundle import SourceWriter
from incident_timeline.collector.kubernetes.client import KubeAPI, KubeAPIError, Query

MAX_RESTARTS = 3


@dataclasses.dataclass
class Listed:
    """A whole list: its items, each with the raw file and JSON pointer it came from."""

    items: list[dict[str, Any]]
    refs: list[tuple[str, str]]
    pages: int = 0
    restarts: int = 0

    def __iter__(self) -> Any:
        return iter(zip(self.items, self.refs, strict=True))


def list_all(
    api: KubeAPI,
    out: SourceWriter,
    path: str,
    query: Query,
    folder: str,
    page_size: int,
) -> Listed:
    """Every item of the list at ``path``; pages go to ``raw/kubernetes/<folder>.<n>.json``.
    A `KubeAPIError` (403, 404, ...) is raised for the caller to report."""
    listed = Listed([], [])
    attempt = 0
    token: str | None = None
    while True:
        params = [*query, ("limit", str(page_size))]
        if token:
            params.append(("continue", token))
        try:
            body, document = api.get_json(path, params)
        except KubeAPIError as exc:
            if exc.code == 410 and token and attempt < MAX_RESTARTS:
                attempt += 1
                listed.restarts += 1
                listed.items, listed.refs, token = [], [], None
                out.warn(f"{path}: continue token expired (410); listed again from the start")
                continue
            raise
        stem = f"{folder}.{attempt}-{listed.pages}" if attempt else f"{folder}.{listed.pages}"
        rel = out.write_raw(f"{stem}.json", body)
        listed.pages += 1
        items = document.get("items") if isinstance(document, dict) else None
        for i, item in enumerate(items or []):
            if isinstance(item, dict):
                listed.items.append(item)
                listed.refs.append((rel, f"/items/{i}"))
        token = ((document.get("metadata") or {}) if isinstance(document, dict) else {}).get(
            "continue"
        )
        if not token:
            return listed

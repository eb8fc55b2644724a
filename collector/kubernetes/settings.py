"""The ``[kubernetes]`` table, read strictly, and the kubectl-like command-line overrides.

Defaults and why:

- ``max_log_requests`` 16: kubectl's ``--max-log-requests`` defaults to 5 concurrent streams
  (``kubectl/pkg/cmd/logs/logs.go``); collecting a whole namespace wants more, but few enough
  that the kubelets serving the streams are not swamped during an incident.
- ``qps`` 5 / ``burst`` 10: client-go's ``rest.DefaultQPS`` and ``rest.DefaultBurst``
  (``client-go/rest/config.go``), for lists and gets. Opening log streams has its own bucket
  (``log_qps`` 50 / ``log_burst`` 100): they are bounded by ``max_log_requests`` already, and at
  5/s 500 container logs would take 100 s to even start.
- ``page_size`` 500: kubectl's ``--chunk-size`` default (``kubectl/pkg/cmd/get/get.go``).
- ``limit_bytes`` 1 GiB per container log: generous; a cap that cuts is named in the manifest.
- ``timeout`` 60 s: a list or get must answer whole within it (a trickle is cut, as
  `collector.http`); a log stream may take longer, each read waiting at most this long.
- ``budget``: seconds for the whole source, as every other source's ``budget`` (unset: the
  ``[incident] source_budget``). Every request ends by it: the source is then ``partial`` (or
  ``failed``) with "gave up after N s", keeping what came, and the other sources go on.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

from incident_timeline.collector.config import Config, build
from incident_timeline.collector.errors import ConfigError
from incident_timeline.collector.kubernetes.selectors import check_selector

_NAMESPACE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")  # RFC 1123 label, as the API


@dataclasses.dataclass(frozen=True, kw_only=True)
class KubernetesSettings:
    """The ``[kubernetes]`` table, e.g. ``context = "prod"``, ``namespaces = ["checkout"]``,
    ``selector = "app=checkout-api"``."""

    kubeconfig: str | None = None
    context: str | None = None
    namespaces: list[str] = dataclasses.field(default_factory=list)
    all_namespaces: bool = False
    selector: str | None = None
    field_selector: str | None = None
    logs: bool = True
    previous: bool = True
    events: bool = True
    rollouts: bool = True
    max_log_requests: int = 16
    qps: float = 5.0
    burst: int = 10
    log_qps: float = 50.0
    log_burst: int = 100
    limit_bytes: int = 1 << 30
    page_size: int = 500
    timeout: float = 60.0
    retries: int = 3
    budget: float | None = None
    progress: bool = True


def settings_from_table(table: Any, path: Path) -> KubernetesSettings:
    """Build and check the ``[kubernetes]`` table; a ConfigError names the key."""
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [kubernetes] must be a table: write [kubernetes]")
    settings = build(KubernetesSettings, table, "kubernetes", path)
    check(settings, path)
    return settings


def check(settings: KubernetesSettings, path: Path | str) -> None:
    """Values the types cannot say are wrong: bad namespace names, non-positive limits."""
    for ns in settings.namespaces:
        if not _NAMESPACE.match(ns) or len(ns) > 63:
            raise ConfigError(
                f"{path}: kubernetes.namespaces: {ns!r} is not a namespace name "
                "(lower-case letters, digits and '-', at most 63)"
            )
    if settings.all_namespaces and settings.namespaces:
        raise ConfigError(
            f"{path}: kubernetes.all_namespaces = true and kubernetes.namespaces both given; "
            "choose one (kubectl refuses -A with -n too)"
        )
    for key in ("max_log_requests", "burst", "log_burst", "limit_bytes", "page_size"):
        if getattr(settings, key) < 1:
            raise ConfigError(f"{path}: kubernetes.{key} must be at least 1")
    for key in ("qps", "log_qps"):
        if getattr(settings, key) < 0:
            raise ConfigError(f"{path}: kubernetes.{key} must be 0 (no limit) or more")
    check_selector(settings.selector, f"{path}: kubernetes.selector")
    if settings.timeout <= 0 or settings.retries < 0:
        raise ConfigError(f"{path}: kubernetes.timeout must be > 0 and retries >= 0")
    if settings.budget is not None and settings.budget <= 0:
        raise ConfigError(f"{path}: kubernetes.budget must be > 0 (seconds for the source)")


def with_overrides(
    config: Config,
    *,
    context: str | None = None,
    namespaces: tuple[str, ...] = (),
    all_namespaces: bool = False,
    selector: str | None = None,
) -> Config:
    """``config`` with kubectl-like flags applied over its ``[kubernetes]`` table. A flag
    without a table adds the Kubernetes source with its defaults (a config with only
    ``[[file]]`` tables can still collect a cluster)."""
    flags: dict[str, Any] = {}
    if context is not None:
        flags["context"] = context
    if namespaces:
        flags["namespaces"] = list(namespaces)
        flags["all_namespaces"] = False
    if all_namespaces:
        if namespaces:
            raise ConfigError("-A/--all-namespaces and -n/--namespace cannot be used together")
        flags["all_namespaces"], flags["namespaces"] = True, []
    if selector is not None:
        flags["selector"] = selector
    if not flags:
        return config
    from incident_timeline.collector.kubernetes.collector import KubernetesCollector

    current = config.sources.get("kubernetes")
    if current is not None and not isinstance(current, KubernetesCollector):
        raise ConfigError("the kubernetes source is not the built-in collector; flags do not apply")
    base = current.settings if current is not None else KubernetesSettings()
    settings = dataclasses.replace(base, **flags)
    check(settings, "command line")
    collector = KubernetesCollector(settings, config.base_dir)
    raw = dict(config.raw)
    raw["kubernetes"] = {**raw.get("kubernetes", {}), **flags}
    return dataclasses.replace(config, sources={**config.sources, "kubernetes": collector}, raw=raw)

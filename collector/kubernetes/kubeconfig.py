"""Which API server and credentials: the user's kubeconfig (``KUBECONFIG``, a context), or
the pod's service account in-cluster, loaded by the official ``kubernetes`` client so that
every auth plugin it supports (exec, OIDC, bearer tokens and token files, client
certificates) stays the client's."""

from __future__ import annotations

import dataclasses
import importlib
import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import urllib3

from incident_timeline.collector.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class Connection:
    """An ApiClient, the context it uses (None: in-cluster) and that context's namespace."""

    client: Any
    context: str | None
    namespace: str | None


def load_client(
    kubeconfig: str | None,
    context: str | None,
    *,
    env: Mapping[str, str],
    base_dir: Path,
    pool: int,
) -> Connection:
    """An ApiClient from ``kubeconfig`` (else ``$KUBECONFIG``, else ``~/.kube/config``) and
    ``context``; in-cluster config when there is no kubeconfig and the pod's service account
    is mounted (``KUBERNETES_SERVICE_HOST``), as client-go's ``BuildConfigFromFlags`` does."""
    from kubernetes import client
    from kubernetes.config.config_exception import ConfigException

    config: Any = importlib.import_module("kubernetes.config")  # untyped

    configuration = client.Configuration()
    path = _kubeconfig_path(kubeconfig, env, base_dir)
    namespace = None
    try:
        if path is None and env.get("KUBERNETES_SERVICE_HOST"):
            if context:
                raise ConfigError(f"kubernetes.context {context!r} needs a kubeconfig file")
            namespace = _in_cluster(configuration, env)
        elif path is None:
            raise ConfigError(
                "no kubeconfig found: set kubernetes.kubeconfig or $KUBECONFIG, or create "
                "~/.kube/config (kubectl config view shows what kubectl uses)"
            )
        else:
            contexts, active = config.list_kube_config_contexts(config_file=path)
            chosen = next((c for c in contexts if c.get("name") == context), None)
            if context and chosen is None:
                names = ", ".join(sorted(str(c.get("name")) for c in contexts)) or "none"
                raise ConfigError(f"no context {context!r} in kubeconfig {path}; it has: {names}")
            chosen = chosen or active or {}
            context = chosen.get("name")
            namespace = (chosen.get("context") or {}).get("namespace")
            with _exec_failures() as failures:
                config.load_kube_config(
                    config_file=path,
                    context=context,
                    client_configuration=configuration,
                    persist_config=False,
                )
            if failures:
                raise ConfigException(f"the exec credential plugin failed: {failures[0]}")
    except (ConfigException, OSError, ValueError) as exc:
        where = f"context {context!r} of " if context else ""
        raise ConfigError(f"cannot use {where}kubeconfig {path}: {exc}") from None
    configuration.connection_pool_maxsize = pool
    # One retry policy, the project's: urllib3 would otherwise retry 429s itself (it honours
    # Retry-After for 413/429/503 by default) and hide them from `KubeAPI`'s count and backoff.
    configuration.retries = urllib3.Retry(0, redirect=0, respect_retry_after_header=False)
    return Connection(client.ApiClient(configuration=configuration), context, namespace)


@contextmanager
def _exec_failures() -> Iterator[list[str]]:
    """What the client's exec plugin runner logged as failed. It logs (``logging.error``) and
    goes on without a token (``kube_config.py _load_from_exec_plugin``), which the API server
    would answer with a bare 401; the plugin's own message says what to do (log in again)."""
    found: list[str] = []

    class Catch(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            text = record.getMessage()
            if record.levelno >= logging.ERROR and text.startswith("exec:"):
                found.append(" ".join(text.removeprefix("exec:").split()))

    handler = Catch()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield found
    finally:
        root.removeHandler(handler)


def _in_cluster(configuration: Any, env: Mapping[str, str]) -> str | None:
    """Load the pod's service account into ``configuration`` (token, CA, and the API server
    from ``KUBERNETES_SERVICE_HOST``/``_PORT`` in ``env``) with the client's own
    ``InClusterConfigLoader``, reading the files where the client says they are
    (``incluster_config.SERVICE_TOKEN_FILENAME``, ``SERVICE_CERT_FILENAME``); the token is
    read again as the client refreshes it (bound tokens rotate). Returns the pod's namespace
    (the ``namespace`` file beside the token), as client-go's ``inClusterClientConfig``."""
    incluster: Any = importlib.import_module("kubernetes.config.incluster_config")  # untyped
    token = incluster.SERVICE_TOKEN_FILENAME
    loader = incluster.InClusterConfigLoader(
        token_filename=token, cert_filename=incluster.SERVICE_CERT_FILENAME, environ=env
    )
    loader.load_and_set(configuration)
    ns_file = Path(token).parent / "namespace"
    if not ns_file.exists():
        return None
    return ns_file.read_text().strip() or None


def _kubeconfig_path(kubeconfig: str | None, env: Mapping[str, str], base_dir: Path) -> str | None:
    if kubeconfig:
        path = Path(kubeconfig).expanduser()
        return str(path if path.is_absolute() else base_dir / path)
    if env.get("KUBECONFIG"):
        return env["KUBECONFIG"]  # may list several files (':'); the client merges them
    default = Path(env.get("HOME", os.path.expanduser("~"))) / ".kube" / "config"
    return str(default) if default.exists() else None

"""The ways the ``kubernetes`` client authenticates, each driven through ``incident collect``
against the API double, which answers 401 unless the request carries its token:

- an exec credential plugin (``users[].user.exec``): a real script printing an ExecCredential
  (``client.authentication.k8s.io/v1beta1``, https://kubernetes.io/docs/reference/access-authn-authz/authentication/#client-go-credential-plugins);
- a bearer token from a file (``users[].user.tokenFile``, relative to the kubeconfig);
- OIDC (``auth-provider: oidc`` with an unexpired ``id-token``; kubectl dropped the provider
  in 1.26, the Python client 37.x still reads it: ``kube_config.py _load_oid_token``);
- client certificates (``client-certificate``/``client-key`` files) against a server that
  requires one signed by its CA;
- in-cluster config: no kubeconfig, ``KUBERNETES_SERVICE_HOST``/``_PORT`` set, the service
  account's token, CA and namespace files where the client's ``incluster_config`` says they
  are (pointed at temp files), over TLS.

Every token is masked: none reaches the manifest, the events or a raw file.
"""

from __future__ import annotations

import base64
import gzip
import json
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from incident_timeline.collector.bundle import read_manifest
from tests.doubles.kubernetes import Cluster, Running, client_cert, ns_of, pod, serve
from tests.support import cli, events_of

NS = "shop"
SINCE = datetime(2026, 2, 17, 14, 0, tzinfo=UTC)
WINDOW = ["--since", "2026-02-17T14:00:00Z", "--until", "2026-02-17T15:00:00Z"]
LINES = 12


def cluster(token: str) -> Cluster:
    """One pod with one container logging a line every 5 minutes; ``token`` required."""
    c = Cluster(token=token)
    c.add("pods", pod("web-1", NS, "node-a", SINCE, [("app", "shop:v1")]))
    c.logs[(NS, "web-1", "app", False)] = [
        (ns_of(SINCE + timedelta(minutes=5 * i)), f"INFO served request {i}") for i in range(LINES)
    ]
    return c


@pytest.fixture
def no_kubeconfig(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A HOME without ~/.kube/config and no $KUBECONFIG (the user's own is never read)."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("KUBECONFIG", raising=False)
    for name in ("KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT"):
        monkeypatch.delenv(name, raising=False)
    return home


def collect(tmp: Path, table: str) -> Path:
    """``incident collect -n shop`` with this [kubernetes] table; the bundle."""
    config = tmp / "config.toml"
    config.write_text(f"[kubernetes]\n{table}qps = 0\nevents = false\nrollouts = false\n")
    cli(["collect", "-c", str(config), *WINDOW, "-n", NS, "-o", str(tmp / "b")])
    return tmp / "b"


def assert_collected(bundle: Path, token: str) -> None:
    """Every log line arrived, the source is ok, and the token is nowhere in the bundle."""
    manifest = read_manifest(bundle)
    assert manifest["sources"]["kubernetes"]["status"] == "ok"
    events = events_of(bundle, "kubernetes")
    logs = events.loc[events["kind"] == "log"]
    assert logs["message"].tolist() == [f"INFO served request {i}" for i in range(LINES)]
    assert set(logs["stream"]) == {f"{NS}/web-1/app"}
    for path in bundle.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            data = gzip.decompress(data) if path.suffix == ".gz" else data
            assert token.encode() not in data, path


@pytest.fixture
def double() -> Iterator[Running]:
    running = serve(cluster("exec-issued-token-4711"))
    yield running
    running.stop()


def test_an_exec_credential_plugin_supplies_the_token(
    tmp_path: Path, double: Running, no_kubeconfig: Path
) -> None:
    token = double.cluster.token
    assert token is not None
    ran = tmp_path / "plugin-ran.json"
    plugin = tmp_path / "credential-plugin.py"
    credential = {
        "apiVersion": "client.authentication.k8s.io/v1beta1",
        "kind": "ExecCredential",
        "status": {"token": token, "expirationTimestamp": "2099-01-01T00:00:00Z"},
    }
    plugin.write_text(
        "import os, sys\n"
        f"open({str(ran)!r}, 'w').write(os.environ['KUBERNETES_EXEC_INFO'])\n"
        f"print({json.dumps(credential)!r})\n"
    )
    user = {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "command": sys.executable,
            "args": [str(plugin)],
            "interactiveMode": "Never",
        }
    }
    kubeconfig = double.kubeconfig(tmp_path / "kubeconfig.json", user=user)
    assert_collected(collect(tmp_path, f'kubeconfig = "{kubeconfig}"\n'), token)
    # the client ran the plugin, telling it what kubectl tells one
    info = json.loads(ran.read_text())
    assert (info["kind"], info["apiVersion"]) == (
        "ExecCredential",
        "client.authentication.k8s.io/v1beta1",
    )


def test_a_failing_exec_plugin_is_named_with_its_message(
    tmp_path: Path, double: Running, no_kubeconfig: Path
) -> None:
    plugin = tmp_path / "expired.py"
    plugin.write_text("import sys\nsys.exit('the SSO session expired: run sso-login')\n")
    user = {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "command": sys.executable,
            "args": [str(plugin)],
        }
    }
    kubeconfig = double.kubeconfig(tmp_path / "kubeconfig.json", user=user)
    config = tmp_path / "config.toml"
    config.write_text(f'[kubernetes]\nkubeconfig = "{kubeconfig}"\n')
    cli(["collect", "-c", str(config), *WINDOW, "-o", str(tmp_path / "b")], exit_code=3)
    source = read_manifest(tmp_path / "b")["sources"]["kubernetes"]
    assert (source["status"], source["error"]) == (
        "failed",
        f"cannot use context 'double' of kubeconfig {kubeconfig}: the exec credential plugin "
        "failed: process returned 1. the SSO session expired: run sso-login",
    )
    assert double.cluster.requests == []  # not a bare 401: nothing was sent


def test_a_token_file_relative_to_the_kubeconfig(
    tmp_path: Path, double: Running, no_kubeconfig: Path
) -> None:
    token = double.cluster.token
    assert token is not None
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "token").write_text(token)
    kubeconfig = double.kubeconfig(
        tmp_path / "kubeconfig.json", user={"tokenFile": "secrets/token"}
    )
    assert_collected(collect(tmp_path, f'kubeconfig = "{kubeconfig}"\n'), token)


def test_a_wrong_token_file_is_refused_with_the_context_named(
    tmp_path: Path, double: Running, no_kubeconfig: Path
) -> None:
    (tmp_path / "token").write_text("not-the-token")
    kubeconfig = double.kubeconfig(tmp_path / "kubeconfig.json", user={"tokenFile": "token"})
    config = tmp_path / "config.toml"
    config.write_text(f'[kubernetes]\nkubeconfig = "{kubeconfig}"\nqps = 0\n')
    cli(["collect", "-c", str(config), *WINDOW, "-o", str(tmp_path / "b")], exit_code=3)
    error = read_manifest(tmp_path / "b")["sources"]["kubernetes"]["error"]
    assert error.startswith("the API server refused the credentials of context 'double'")
    assert "not-the-token" not in error


def jwt(claims: dict[str, Any]) -> str:
    """An unsigned-looking JWT (the client checks its shape and ``exp``, never the
    signature: the API server does)."""

    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part(claims)}.c2lnbmF0dXJl"


def test_an_oidc_id_token_is_sent_as_the_bearer(tmp_path: Path, no_kubeconfig: Path) -> None:
    exp = int((datetime.now(UTC) + timedelta(hours=1)).timestamp())
    token = jwt({"iss": "https://issuer.example", "sub": "oncall", "aud": "kubernetes", "exp": exp})
    assert not set("=+/") & set(token)  # the client refuses url-unsafe tokens
    running = serve(cluster(token))
    try:
        user = {
            "auth-provider": {
                "name": "oidc",
                "config": {
                    "client-id": "kubernetes",
                    "idp-issuer-url": "https://issuer.example",
                    "id-token": token,
                },
            }
        }
        kubeconfig = running.kubeconfig(tmp_path / "kubeconfig.json", user=user)
        assert_collected(collect(tmp_path, f'kubeconfig = "{kubeconfig}"\n'), token)
    finally:
        running.stop()


def test_in_cluster_config_from_the_service_account(
    tmp_path: Path, no_kubeconfig: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kubernetes.config import incluster_config

    token = "service-account-token-0815"
    running = serve(cluster(token), tls_dir=tmp_path / "tls")
    try:
        assert running.ca_file is not None
        account = tmp_path / "serviceaccount"
        account.mkdir()
        (account / "token").write_text(token)
        (account / "ca.crt").write_bytes(running.ca_file.read_bytes())
        (account / "namespace").write_text(NS)
        # the client's own file locations, pointed at the temp service account
        monkeypatch.setattr(incluster_config, "SERVICE_TOKEN_FILENAME", str(account / "token"))
        monkeypatch.setattr(incluster_config, "SERVICE_CERT_FILENAME", str(account / "ca.crt"))
        monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1")
        monkeypatch.setenv("KUBERNETES_SERVICE_PORT", str(running.server.server_address[1]))
        config = tmp_path / "config.toml"
        config.write_text("[kubernetes]\nqps = 0\nevents = false\nrollouts = false\n")
        # no -n: the namespace is the service account's
        cli(["collect", "-c", str(config), *WINDOW, "-o", str(tmp_path / "b")])
        assert_collected(tmp_path / "b", token)
        seen = running.cluster.seen(r"/pods$")
        assert [path for _, path, _ in seen] == [f"/api/v1/namespaces/{NS}/pods"]
    finally:
        running.stop()


def test_a_token_a_container_logs_is_masked_in_the_stored_log_and_events(
    tmp_path: Path, double: Running, no_kubeconfig: Path
) -> None:
    token = double.cluster.token
    assert token is not None
    double.cluster.logs[(NS, "web-1", "app", False)] = [
        (ns_of(SINCE + timedelta(minutes=1)), f"DEBUG calling the API with Bearer {token}"),
        (ns_of(SINCE + timedelta(minutes=2)), "INFO done"),
    ]
    kubeconfig = double.kubeconfig(tmp_path / "kubeconfig.json", token=token)
    bundle = collect(tmp_path, f'kubeconfig = "{kubeconfig}"\n')
    rel = f"raw/kubernetes/logs/{NS}/web-1/app.log.gz"
    stored = gzip.decompress((bundle / rel).read_bytes()).decode()
    assert stored.splitlines()[0] == (
        "2026-02-17T14:01:00.000000000Z DEBUG calling the API with "
        "<secret masked by incident-timeline>"
    )
    assert (
        read_manifest(bundle)["files"][rel]["masked"]
        == "1 occurrence(s) of a configured secret masked"
    )
    events = events_of(bundle, "kubernetes")
    logs = events.loc[events["kind"] == "log", "message"].tolist()
    assert logs == ["DEBUG calling the API with <secret masked by incident-timeline>", "INFO done"]


def test_a_client_certificate_gets_in_where_one_is_required(
    tmp_path: Path, no_kubeconfig: Path
) -> None:
    tls = tmp_path / "tls"
    served = cluster("")
    served.token = None  # the certificate is the credential
    running = serve(served, tls_dir=tls, client_certs=True)
    try:
        cert, key = client_cert(tls, "oncall")
        user = {"client-certificate": str(cert), "client-key": str(key)}
        kubeconfig = running.kubeconfig(tmp_path / "kubeconfig.json", user=user)
        bundle = collect(tmp_path, f'kubeconfig = "{kubeconfig}"\n')
        assert_collected(bundle, key.read_text().splitlines()[1])  # no line of the key
        # without the certificate the TLS handshake itself is refused
        bare = running.kubeconfig(tmp_path / "bare.json", token="no-certificate")
        config = tmp_path / "bare.toml"
        config.write_text(f'[kubernetes]\nkubeconfig = "{bare}"\nqps = 0\nretries = 0\n')
        cli(["collect", "-c", str(config), *WINDOW, "-o", str(tmp_path / "b2")], exit_code=3)
        error = read_manifest(tmp_path / "b2")["sources"]["kubernetes"]["error"]
        assert error.startswith("cannot reach the API server of context 'double'")
    finally:
        running.stop()

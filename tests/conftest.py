"""Shared fixtures. Unit tests never touch the network: any connection to a non-loopback
address fails loudly."""

from __future__ import annotations

import socket

import pytest

_connect = socket.socket.connect


def _loopback_only(self: socket.socket, address: object) -> object:
    host = address[0] if isinstance(address, tuple) else str(address)
    if self.family == socket.AF_UNIX or host in ("127.0.0.1", "::1", "localhost"):
        return _connect(self, address)
    raise RuntimeError(f"test tried to reach the network: {address!r}")


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make any real, non-loopback connection fail loudly."""
    monkeypatch.setattr(socket.socket, "connect", _loopback_only)

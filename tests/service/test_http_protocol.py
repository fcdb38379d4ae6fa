"""Every connection has TCP_NODELAY set, whatever the worker count (no 40 ms ACK waits)."""

from __future__ import annotations

import os
import socket
from typing import Any

import pytest
from uvicorn.protocols.http.h11_impl import H11Protocol

from fhir_module.cli import main
from fhir_module.server._http import NoDelayH11Protocol


class _Transport:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def get_extra_info(self, name: str) -> Any:
        return self.sock if name == "socket" else None


def test_connection_made_sets_tcp_nodelay(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(H11Protocol, "connection_made", lambda self, transport: None)
    monkeypatch.setattr(NoDelayH11Protocol, "_admit", lambda self, transport: None)
    with (
        socket.create_server(("127.0.0.1", 0)) as server,
        socket.create_connection(server.getsockname()) as client,
    ):
        accepted, _ = server.accept()
        with accepted:
            accepted.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 0)
            NoDelayH11Protocol.connection_made(
                object.__new__(NoDelayH11Protocol), _Transport(accepted)
            )  # type: ignore[arg-type]
            assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
        assert client


@pytest.mark.parametrize("workers", ["1", "2"])
def test_serve_runs_uvicorn_with_the_protocol(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any, workers: str
) -> None:
    seen: dict[str, Any] = {}
    monkeypatch.setattr("uvicorn.run", lambda *args, **kwargs: seen.update(kwargs))
    # serve hands its settings to the workers through the environment: keep that local.
    monkeypatch.setattr(
        os, "environ", {k: v for k, v in os.environ.items() if not k.startswith("FHIR_MODULE_")}
    )
    assert main(["serve", "--db", str(tmp_path / "db.sqlite3"), "--workers", workers]) == 0
    assert seen["http"] is NoDelayH11Protocol

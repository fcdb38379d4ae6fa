"""Connections: slow and idle ones are closed, their number is capped, accept errors are quiet.

The service runs under uvicorn with its own protocol on a loopback port, in a thread, with
a half-second header timeout and room for four connections.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import uvicorn

from fhir_module.knowledge import Knowledge
from fhir_module.server import Settings, _http, create_app
from fhir_module.server._http import (
    ACCEPT_OUT_OF_RESOURCES,
    ConnectionLimits,
    NoDelayH11Protocol,
    quiet_accept_errors,
)

TIMEOUT = 0.5
CAP = 4


@pytest.fixture
def live(
    tmp_path: Path, knowledge: Knowledge, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[str, int]]:
    monkeypatch.setattr(_http, "_limits", ConnectionLimits(TIMEOUT, CAP))
    settings = Settings(db_path=tmp_path / "c.sqlite3", header_timeout=TIMEOUT)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(
        create_app(settings, knowledge),
        host="127.0.0.1",
        port=port,
        http=NoDelayH11Protocol,
        timeout_keep_alive=5,
        log_level="warning",
        proxy_headers=False,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.02)
    yield "127.0.0.1", port
    server.should_exit = True
    thread.join(10)


def _closed_within(sock: socket.socket, seconds: float, trickle: bytes = b"") -> float:
    """Seconds until the server closes `sock` (sending `trickle` a byte every 0.1 s)."""
    start = time.monotonic()
    sock.settimeout(0.1)
    while time.monotonic() - start < seconds:
        try:
            if trickle:
                sock.send(trickle[:1])
                trickle = trickle[1:] or trickle
            if sock.recv(4096) == b"":
                return time.monotonic() - start
        except TimeoutError:
            continue
        except OSError:  # reset by the server
            return time.monotonic() - start
    raise AssertionError(f"still open after {seconds} s")


def test_a_connection_that_sends_nothing_is_closed(live: tuple[str, int]) -> None:
    with socket.create_connection(live) as sock:
        assert _closed_within(sock, 5) >= TIMEOUT * 0.8


def test_headers_sent_a_byte_at_a_time_do_not_hold_a_connection(live: tuple[str, int]) -> None:
    with socket.create_connection(live) as sock:
        sock.sendall(b"GET /cds-services HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        assert _closed_within(sock, 5, trickle=b"X-Slow: " + b"a" * 200) < 3


def test_a_body_sent_too_slowly_gets_408(live: tuple[str, int]) -> None:
    with socket.create_connection(live) as sock:
        sock.sendall(
            b"POST /cds-services/medication-safety-order-sign HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b'Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"hook":'
        )
        sock.settimeout(5)
        start = time.monotonic()
        answer = sock.recv(4096)
        assert answer.startswith(b"HTTP/1.1 408") and time.monotonic() - start < 3


def test_a_kept_alive_connection_serves_requests_in_a_row(live: tuple[str, int]) -> None:
    base = f"http://{live[0]}:{live[1]}"
    with requests.Session() as session:
        for _ in range(3):
            assert session.get(f"{base}/cds-services", timeout=5).status_code == 200
            time.sleep(TIMEOUT / 3)


def test_idle_connections_at_the_cap_make_room_for_a_caller(live: tuple[str, int]) -> None:
    idle = [socket.create_connection(live) for _ in range(CAP + 2)]
    try:
        answer = requests.get(f"http://{live[0]}:{live[1]}/cds-services", timeout=5)
        assert answer.status_code == 200
        still_open = 0
        for sock in idle:
            sock.settimeout(0.05)
            try:
                still_open += sock.recv(1) != b""
            except TimeoutError:
                still_open += 1
            except OSError:
                pass
        assert still_open < CAP
    finally:
        for sock in idle:
            sock.close()


def test_open_mode_over_http_refuses_a_rebound_host(live: tuple[str, int]) -> None:
    base = f"http://{live[0]}:{live[1]}"
    answer = requests.get(f"{base}/cds-services", headers={"Host": "rebound.example"}, timeout=5)
    assert answer.status_code == 421
    assert answer.json()["resourceType"] == "OperationOutcome"


def test_accept_errors_are_logged_once_a_second(caplog: pytest.LogCaptureFixture) -> None:
    now = [100.0]
    loop = asyncio.new_event_loop()
    try:
        other: list[str] = []
        loop.set_exception_handler(lambda _, context: other.append(context["message"]))
        quiet_accept_errors(loop, clock=lambda: now[0])
        error = OSError(errno.EMFILE, "Too many open files")
        with caplog.at_level(logging.ERROR, logger="fhir_module.service"):
            for _ in range(2048):  # asyncio tries up to the backlog each time
                loop.call_exception_handler(
                    {"message": ACCEPT_OUT_OF_RESOURCES, "exception": error}
                )
            now[0] += 1.0
            loop.call_exception_handler({"message": ACCEPT_OUT_OF_RESOURCES, "exception": error})
            loop.call_exception_handler({"message": "something else"})
        lines = [r.getMessage() for r in caplog.records]
        assert lines == [
            "cannot accept connections: EMFILE (0 more such errors not logged)",
            "cannot accept connections: EMFILE (2047 more such errors not logged)",
        ]
        assert not any(r.exc_info for r in caplog.records)
        assert other == ["something else"]  # the loop's own handler still gets the rest
    finally:
        loop.close()


def test_the_cap_fits_the_open_file_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    settings = Settings(max_connections=10**7)
    try:
        cap = _http.configure_connections(settings)
        now_soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        assert cap <= now_soft - _http.RESERVED_FILES
        assert _http.configure_connections(Settings(max_connections=100)) == 100
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        monkeypatch.setattr(_http, "_limits", ConnectionLimits())

"""What the EHR's FHIR server answers is read within bounds: bytes, depth, time and entries.

A hostile or broken server must not exhaust the service's memory or hold a call for
ever: beyond a bound the read fails and the answer is 412 naming the prefetch key,
never a 500 and never cards judged on part of the record.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import responses

from fhir_module.knowledge import Knowledge
from fhir_module.server import Settings, create_app

from ._jwt import write_config
from ._requests import (
    PATIENT,
    PATIENT_ID,
    SERVER,
    TOKEN,
    full_prefetch,
    hook_request,
    searchset,
)
from .conftest import TestClient

SIGN = "/cds-services/medication-safety-order-sign"
CAP = 64 * 1024
CONDITION = {
    "resourceType": "Condition",
    "id": "c",
    "subject": {"reference": f"Patient/{PATIENT_ID}"},
    "clinicalStatus": {"coding": [{"code": "active"}]},
    "code": {"text": "Hypertension"},
}


@pytest.fixture
def capped(settings: Settings, knowledge: Knowledge) -> Iterator[TestClient]:
    """The service reading FHIR answers of at most 64 KiB, 5 entries per search."""
    tight = dataclasses.replace(settings, max_fhir_bytes=CAP, max_entries=5)
    with TestClient(create_app(tight, knowledge)) as client:
        yield client


def _without(key: str) -> dict[str, Any]:
    prefetch = full_prefetch()
    del prefetch[key]
    return hook_request(prefetch=prefetch)


def _failed(response: Any, key: str, code: str) -> None:
    assert response.status_code == 412
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    issue = outcome["issue"][0]
    assert issue["code"] == code and issue["expression"] == [f"prefetch.{key}"]
    assert PATIENT_ID not in response.text and TOKEN not in response.text


def _padded(size: int) -> bytes:
    """The test patient as JSON of exactly `size` bytes (whitespace inside the object)."""
    text = json.dumps(PATIENT).encode()
    return text[:1] + b" " * (size - len(text)) + text[1:]


def test_the_cap_defaults_to_the_request_body_limit() -> None:
    assert Settings().fhir_answer_bytes == Settings().max_body_bytes == 5 * 1024 * 1024
    assert Settings(max_body_bytes=2048).fhir_answer_bytes == 2048
    assert Settings(max_body_bytes=2048, max_fhir_bytes=10_000).fhir_answer_bytes == 10_000
    env = {"FHIR_MODULE_MAX_FHIR_BYTES": "300000", "FHIR_MODULE_MAX_BODY_BYTES": "4096"}
    settings = Settings.from_env(env)
    assert settings.fhir_answer_bytes == 300_000
    assert Settings.from_env(settings.to_env()) == settings
    assert Settings.from_env({"FHIR_MODULE_MAX_BODY_BYTES": "4096"}).fhir_answer_bytes == 4096


@pytest.mark.parametrize("value", ["lots", "100"])
def test_a_bad_cap_is_refused(value: str) -> None:
    from fhir_module import ConfigError

    with pytest.raises(ConfigError, match="MAX_FHIR_BYTES|max_fhir_bytes"):
        Settings.from_env({"FHIR_MODULE_MAX_FHIR_BYTES": value})


@pytest.mark.parametrize(
    "body, headers, status",
    [
        (_padded(CAP), {}, 200),  # exactly at the cap: read
        (_padded(CAP + 1), {}, 412),  # one byte over, with its Content-Length
        (gzip.compress(_padded(CAP)), {"Content-Encoding": "gzip"}, 200),
        # 20 MiB of JSON in a 20 KiB gzip: the cap counts what it decodes to
        (gzip.compress(_padded(20 * 1024 * 1024)), {"Content-Encoding": "gzip"}, 412),
    ],
    ids=["at-the-cap", "over-the-cap", "gzip-at-the-cap", "gzip-bomb"],
)
def test_an_answer_over_the_byte_cap_is_not_had(
    capped: TestClient, body: bytes, headers: dict[str, str], status: int
) -> None:
    with responses.RequestsMock() as rsps:
        rsps.get(
            f"{SERVER}/Patient/{PATIENT_ID}",
            body=body,
            headers=headers,
            content_type="application/fhir+json",
        )
        response = capped.post(SIGN, json=_without("patient"))
    if status == 200:
        assert response.status_code == 200, response.text
        assert response.json()["cards"]
    else:
        _failed(response, "patient", "too-costly")


def _nested(depth: int) -> bytes:
    return (
        b'{"resourceType": "Patient", "id": "x", "extension": ' + b"[" * depth + b"]" * depth + b"}"
    )


@pytest.mark.parametrize(
    "body, code",
    [
        (_nested(100), "too-costly"),  # deeper than request bodies may nest
        (_nested(50_000), "incomplete"),  # deeper than the JSON parser goes: not JSON to us
        (b'{"resourceType": "Patient", "id": "x", "weight": NaN}', "incomplete"),
        (b'{"resourceType": "Patient", "id": "x"', "incomplete"),  # cut short
    ],
    ids=["100-deep", "50000-deep", "nan", "truncated"],
)
def test_an_answer_json_would_not_take_in_a_request_is_not_had(
    client: TestClient, body: bytes, code: str
) -> None:
    with responses.RequestsMock() as rsps:
        rsps.get(f"{SERVER}/Patient/{PATIENT_ID}", body=body, content_type="application/json")
        _failed(client.post(SIGN, json=_without("patient")), "patient", code)


def test_nesting_as_deep_as_a_request_may_is_read(client: TestClient) -> None:
    patient = dict(PATIENT, extension=json.loads(b"[" * 60 + b"]" * 60))
    with responses.RequestsMock() as rsps:
        rsps.get(f"{SERVER}/Patient/{PATIENT_ID}", json=patient)
        assert client.post(SIGN, json=_without("patient")).status_code == 200


def _pages(rsps: responses.RequestsMock, *sizes: int) -> None:
    """The Condition search in pages of `sizes` entries, each linking to the next."""
    for i, size in enumerate(sizes):
        nxt = f"{SERVER}/Condition?page={i + 1}" if i + 1 < len(sizes) else None
        url = f"{SERVER}/Condition" + (f"?page={i}" if i else "")
        rsps.get(url, json=searchset(*[CONDITION] * size, next_url=nxt))


@pytest.mark.parametrize(
    "sizes, status",
    [
        ((5,), 200),
        ((3, 2), 200),  # 5 in all: at the cap
        ((6,), 412),
        ((3, 3), 412),  # each page is small, together they are over
        ((2, 2, 2), 412),
    ],
)
def test_the_entry_cap_holds_across_next_pages(
    capped: TestClient, sizes: tuple[int, ...], status: int
) -> None:
    with responses.RequestsMock() as rsps:
        _pages(rsps, *sizes)
        response = capped.post(SIGN, json=_without("conditions"))
    if status == 200:
        assert response.status_code == 200, response.text
    else:
        _failed(response, "conditions", "too-costly")


def test_the_entry_cap_counts_a_paginated_prefetch_with_its_next_pages(
    capped: TestClient,
) -> None:
    prefetch = full_prefetch()
    prefetch["conditions"] = searchset(*[CONDITION] * 3, next_url=f"{SERVER}/Condition?page=1")
    with responses.RequestsMock() as rsps:
        rsps.get(f"{SERVER}/Condition?page=1", json=searchset(*[CONDITION] * 3))
        _failed(capped.post(SIGN, json=hook_request(prefetch=prefetch)), "conditions", "too-costly")


# A FHIR server on loopback, for what only a real connection shows: streaming and time.


class _Ehr(BaseHTTPRequestHandler):
    """Answers every read as `behave` says; records whether the service hung up early."""

    protocol_version = "HTTP/1.1"
    behave: Callable[[_Ehr], None]
    hung_up = threading.Event()

    def do_GET(self) -> None:  # noqa: N802 - the http.server name
        try:
            type(self).behave(self)
        except (BrokenPipeError, ConnectionResetError):
            type(self).hung_up.set()

    def log_message(self, *args: Any) -> None:
        pass


def _endless_chunks(handler: _Ehr) -> None:
    """A valid Patient of 32 MiB, sent chunked (no Content-Length), as fast as it is taken."""
    handler.send_response(200)
    handler.send_header("Content-Type", "application/fhir+json")
    handler.send_header("Transfer-Encoding", "chunked")
    handler.end_headers()
    text = json.dumps(PATIENT).encode()
    parts = [text[:1]] + [b" " * 65536] * 512 + [text[1:]]
    for part in parts:
        handler.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
    handler.wfile.write(b"0\r\n\r\n")


def _trickle(handler: _Ehr, pause: float = 0.2) -> None:
    """A valid Patient with 25 spaces `pause` s apart in it (5 s by default): each socket read
    is quick, the whole is not."""
    body = json.dumps(PATIENT).encode()
    handler.send_response(200)
    handler.send_header("Content-Type", "application/fhir+json")
    handler.send_header("Content-Length", str(len(body) + 25))
    handler.end_headers()
    handler.wfile.write(body[:1])
    for _ in range(25):
        time.sleep(pause)
        handler.wfile.write(b" ")
        handler.wfile.flush()
    handler.wfile.write(body[1:])


def _trickled_head(handler: _Ehr) -> None:
    """The status line at once, then the headers a byte at a time (5 s in all), then a
    Patient: every socket read is quick, the head is not."""
    body = json.dumps(PATIENT).encode()
    handler.wfile.write(b"HTTP/1.1 200 OK\r\n")
    head = (
        "Content-Type: application/fhir+json\r\n"
        f"X-Padding: {'x' * 40}\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    for i in range(len(head)):
        handler.wfile.write(head[i : i + 1])
        handler.wfile.flush()
        time.sleep(5 / len(head))
    handler.wfile.write(body)


@pytest.fixture
def ehr(tmp_path: Path, knowledge: Knowledge) -> Iterator[Callable[..., TestClient]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ehr)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/fhir"
    clients: list[TestClient] = []

    def service(behave: Callable[[_Ehr], None], **limits: Any) -> TestClient:
        _Ehr.behave = staticmethod(behave)  # type: ignore[assignment]
        _Ehr.hung_up = threading.Event()
        config = write_config(tmp_path, fhir_servers=(base,))
        settings = Settings(db_path=tmp_path / "e.sqlite3", config_path=config, **limits)
        client = TestClient(create_app(settings, knowledge))
        client.__enter__()
        clients.append(client)
        client.fhir_base = base  # type: ignore[attr-defined]
        return client

    try:
        yield service
    finally:
        for client in clients:
            client.__exit__(None, None, None)
        server.shutdown()
        server.server_close()


def _from(client: TestClient) -> dict[str, Any]:
    request = _without("patient")
    request["fhirServer"] = client.fhir_base  # type: ignore[attr-defined]
    return request


def test_a_streamed_answer_is_dropped_at_the_cap(ehr: Callable[..., TestClient]) -> None:
    client = ehr(_endless_chunks, max_fhir_bytes=256 * 1024)
    _failed(client.post(SIGN, json=_from(client)), "patient", "too-costly")
    # the service stopped reading and closed the connection: the 32 MiB were never all taken
    assert _Ehr.hung_up.wait(10)


def test_a_streamed_answer_under_the_cap_is_read(ehr: Callable[..., TestClient]) -> None:
    client = ehr(_endless_chunks, max_fhir_bytes=64 * 1024 * 1024)
    response = client.post(SIGN, json=_from(client))
    assert response.status_code == 200 and response.json()["cards"]


def test_one_read_has_one_deadline_not_one_per_socket_read(
    ehr: Callable[..., TestClient],
) -> None:
    client = ehr(_trickle, fhir_timeout=1.0)
    started = time.monotonic()
    response = client.post(SIGN, json=_from(client))
    elapsed = time.monotonic() - started
    _failed(response, "patient", "timeout")
    assert elapsed < 3.0  # the trickle would take 5 s; the read stops at its 1 s deadline


def test_a_trickled_status_line_and_headers_are_given_up_at_the_deadline(
    ehr: Callable[..., TestClient], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="urllib3")
    client = ehr(_trickled_head, fhir_timeout=1.0)
    started = time.monotonic()
    _failed(client.post(SIGN, json=_from(client)), "patient", "timeout")
    assert time.monotonic() - started < 3.0
    assert _Ehr.hung_up.wait(10)  # the service closed the connection
    assert PATIENT_ID not in caplog.text


def _malformed_head(handler: _Ehr) -> None:
    body = json.dumps(PATIENT).encode()
    handler.wfile.write(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/fhir+json\r\nnot a header\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
    )
    handler.close_connection = True


def test_headers_that_do_not_parse_are_logged_without_the_url(
    ehr: Callable[..., TestClient], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="urllib3")
    client = ehr(_malformed_head)
    # the read goes on (the body is read to the connection's end) and the call is answered
    assert client.post(SIGN, json=_from(client)).status_code == 200
    # urllib3 warns, naming the URL of the read (it holds the patient id): not here
    assert "did not parse" in caplog.text and PATIENT_ID not in caplog.text


def test_a_slow_answer_within_the_deadline_is_read(ehr: Callable[..., TestClient]) -> None:
    client = ehr(lambda handler: _trickle(handler, 0.04), fhir_timeout=5.0)  # 1 s of 5
    assert client.post(SIGN, json=_from(client)).status_code == 200


def test_a_server_that_never_answers_is_given_up_on_time(
    ehr: Callable[..., TestClient],
) -> None:
    def silent(handler: _Ehr) -> None:
        time.sleep(3)
        handler.connection.shutdown(socket.SHUT_RDWR)

    client = ehr(silent, fhir_timeout=0.5)
    started = time.monotonic()
    _failed(client.post(SIGN, json=_from(client)), "patient", "timeout")
    assert time.monotonic() - started < 2.5

"""No token, JWT, patient id or birth date in any log, even with every logger at DEBUG."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from fhir_module.knowledge import Knowledge
from fhir_module.server import Settings, create_app

from ._jwt import SERVICE_URL, token, write_config
from ._requests import PATIENT, PATIENT_ID, TOKEN, hook_request, searchset
from .conftest import TestClient

LOGGERS = (
    "",
    "fhir_module",
    "uvicorn",
    "uvicorn.error",
    "uvicorn.access",
    "httpx",
    "httpcore",
    "urllib3",
    "urllib3.connectionpool",
    "requests",
    "fastapi",
    "starlette",
)


class _Fhir(BaseHTTPRequestHandler):
    """The EHR's FHIR server, on loopback, for real: urllib3 logs what it does."""

    calls: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - the http.server name
        self.calls.append(self.path)
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            self.send_response(401)
            self.end_headers()
            return
        body = PATIENT if self.path.startswith("/fhir/Patient/") else searchset()
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/fhir+json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
        pass


@pytest.fixture
def fhir_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Fhir)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Fhir.calls = []
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/fhir"
    finally:
        server.shutdown()
        server.server_close()


def test_a_full_run_logs_no_secret_and_no_patient_data(
    tmp_path: Path,
    knowledge: Knowledge,
    fhir_server: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    config = write_config(tmp_path, fhir_servers=(fhir_server,))
    settings = Settings(db_path=tmp_path / "h.sqlite3", config_path=config, fhir_timeout=5)
    base = SERVICE_URL
    sign = "/cds-services/medication-safety-order-sign"
    jwts: list[str] = []

    def bearer(path: str) -> dict[str, str]:
        jwts.append(token(base + path))
        return {"Authorization": f"Bearer {jwts[-1]}"}

    with TestClient(create_app(settings, knowledge)) as client:
        assert client.get("/cds-services", headers=bearer("/cds-services")).status_code == 200

        fetching = hook_request(prefetch={})
        fetching["fhirServer"] = fhir_server
        answer = client.post(sign, json=fetching, headers=bearer(sign))
        assert answer.status_code == 200 and len(_Fhir.calls) == 4

        card = answer.json()["cards"][0]["uuid"]
        item = {"card": card, "outcome": "overridden", "outcomeTimestamp": "2024-05-01T10:00:00Z"}
        feedback = f"{sign}/feedback"
        assert (
            client.post(feedback, json={"feedback": [item]}, headers=bearer(feedback)).status_code
            == 200
        )

        bad = hook_request()
        bad["context"]["patientId"] = 4711
        assert client.post(sign, json=bad, headers=bearer(sign)).status_code == 400

        stolen = jwts[1]  # a replay: the signature is good, the jti is spent
        replay = {"Authorization": f"Bearer {stolen}"}
        assert client.post(sign, json=hook_request(), headers=replay).status_code == 401

        unlisted = hook_request(prefetch={})
        unlisted["fhirServer"] = "https://elsewhere.example.com/fhir"
        assert client.post(sign, json=unlisted, headers=bearer(sign)).status_code == 412

    logged = caplog.text + "".join(repr(r.args) for r in caplog.records)
    assert "authentication failed: replay" in logged and "fhirServer not read" in logged
    for secret in (TOKEN, PATIENT_ID, PATIENT["birthDate"], *jwts):
        assert secret not in logged
    for part in {p for jwt in jwts for p in jwt.split(".")}:
        assert part not in logged

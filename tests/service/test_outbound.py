"""What the service's outbound requests take from the environment: egress proxies and CA
bundles, as a hospital deployment sets them; never `.netrc` credentials."""

from __future__ import annotations

import json
import socketserver
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
import responses

from fhir_module.hooks._session import outbound_session
from fhir_module.knowledge import Knowledge
from fhir_module.server import Settings, create_app

from ._jwt import JWKS_URL, SERVICE_URL, jwks, key, token, write_config
from ._requests import PATIENT, PATIENT_ID, SERVER, TOKEN, full_prefetch, hook_request, searchset
from .conftest import TestClient

SIGN = "/cds-services/medication-safety-order-sign"
ENVIRONMENT = (
    "NETRC",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    *(f"{name}_proxy" for name in ("http", "https", "all", "no")),
    *(f"{name}_PROXY" for name in ("HTTP", "HTTPS", "ALL", "NO")),
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def netrc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A .netrc (named by $NETRC, as requests reads it) with credentials for the EHR's host."""
    path = tmp_path / "netrc"
    path.write_text(
        "machine ehr.example.org login clinic password hunter2\n"
        "default login anyone password fallback\n"
    )
    path.chmod(0o600)
    monkeypatch.setenv("NETRC", str(path))
    # The file is one requests uses: a plain Session would send its credentials.
    with responses.RequestsMock() as rsps:
        rsps.get(f"{SERVER}/metadata")
        requests.Session().get(f"{SERVER}/metadata")
        assert rsps.calls[0].request.headers["Authorization"].startswith("Basic ")
    return "hunter2"


def _patient_read(**request: Any) -> dict[str, Any]:
    prefetch = full_prefetch()
    del prefetch["patient"]
    return hook_request(prefetch=prefetch, **request)


@pytest.mark.parametrize(
    "with_token, sent",
    [(True, f"Bearer {TOKEN}"), (False, None)],
    ids=["the-bearer-token-alone", "no-credential-at-all"],
)
def test_netrc_credentials_never_go_with_a_fhir_read(
    client: TestClient, netrc: str, with_token: bool, sent: str | None
) -> None:
    with responses.RequestsMock() as rsps:
        rsps.get(f"{SERVER}/Patient/{PATIENT_ID}", json=PATIENT)
        response = client.post(SIGN, json=_patient_read(token=with_token))
        assert response.status_code == 200
        assert len(rsps.calls) == 1
        assert rsps.calls[0].request.headers.get("Authorization") == sent


def test_netrc_credentials_never_go_with_a_key_set_fetch(
    tmp_path: Path, knowledge: Knowledge, netrc: str
) -> None:
    config = write_config(tmp_path, jwks_url=JWKS_URL)
    settings = Settings(db_path=tmp_path / "k.sqlite3", config_path=config)
    with responses.RequestsMock() as rsps, TestClient(create_app(settings, knowledge)) as client:
        rsps.get(JWKS_URL, json=jwks(key()))
        answer = client.get(
            "/cds-services",
            headers={"Authorization": f"Bearer {token(SERVICE_URL + '/cds-services')}"},
        )
        assert answer.status_code == 200
        assert "Authorization" not in rsps.calls[0].request.headers


def test_a_session_made_for_outbound_reads_never_reads_netrc(netrc: str) -> None:
    with responses.RequestsMock() as rsps, outbound_session() as session:
        rsps.get(f"{SERVER}/metadata")
        rsps.get("https://other.example.net/x")
        session.get(f"{SERVER}/metadata")
        session.get("https://other.example.net/x")  # the netrc's default entry
        assert all("Authorization" not in c.request.headers for c in rsps.calls)


PROXY = "http://proxy.hospital.example:3128"


@pytest.mark.parametrize(
    "environment, proxy, verify",
    [
        ({}, None, True),
        ({"HTTPS_PROXY": PROXY}, PROXY, True),
        ({"https_proxy": PROXY}, PROXY, True),
        ({"ALL_PROXY": PROXY}, PROXY, True),
        ({"HTTP_PROXY": PROXY}, None, True),  # for http URLs only
        ({"HTTPS_PROXY": PROXY, "NO_PROXY": "ehr.example.org"}, None, True),
        ({"HTTPS_PROXY": PROXY, "no_proxy": ".example.org"}, None, True),
        ({"HTTPS_PROXY": PROXY, "NO_PROXY": "other.example.org"}, PROXY, True),
        ({"REQUESTS_CA_BUNDLE": "/etc/ssl/hospital-ca.pem"}, None, "/etc/ssl/hospital-ca.pem"),
        ({"CURL_CA_BUNDLE": "/etc/ssl/hospital-ca.pem"}, None, "/etc/ssl/hospital-ca.pem"),
    ],
)
def test_egress_proxies_and_ca_bundles_from_the_environment_are_used(
    client: TestClient,
    monkeypatch: pytest.MonkeyPatch,
    environment: dict[str, str],
    proxy: str | None,
    verify: Any,
) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    with responses.RequestsMock() as rsps:
        rsps.get(f"{SERVER}/Patient/{PATIENT_ID}", json=PATIENT)
        assert client.post(SIGN, json=_patient_read()).status_code == 200
        sent = rsps.calls[0].request.req_kwargs  # type: ignore[attr-defined]
        chosen = sent["proxies"].get("https") or sent["proxies"].get("all")
        assert (chosen, sent["verify"]) == (proxy, verify)


# A real proxy and a real FHIR server on loopback, for what the HTTP library does with them.


class _Recorder(BaseHTTPRequestHandler):
    """Records each request line and its headers; refuses to forward anything (403)."""

    seen: list[str] = []

    def _refuse(self) -> None:
        type(self).seen.append(self.requestline + "\n" + str(self.headers))
        self.send_response(403)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_CONNECT = do_GET = _refuse  # noqa: N815 - the http.server names

    def log_message(self, *args: Any) -> None:
        pass


class _Fhir(BaseHTTPRequestHandler):
    """The EHR's FHIR server: a Patient read and empty searches, with the right token."""

    seen: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - the http.server name
        type(self).seen.append(self.path)
        ok = self.headers.get("Authorization") == f"Bearer {TOKEN}"
        body = (PATIENT if "/Patient/" in self.path else searchset()) if ok else {}
        data = json.dumps(body).encode()
        self.send_response(200 if ok else 401)
        self.send_header("Content-Type", "application/fhir+json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


def _serve(handler: type[BaseHTTPRequestHandler]) -> socketserver.TCPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    return server


@pytest.fixture
def proxy() -> Iterator[str]:
    _Recorder.seen = []
    server = _serve(_Recorder)
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def fhir_server() -> Iterator[str]:
    _Fhir.seen = []
    server = _serve(_Fhir)
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/fhir"
    finally:
        server.shutdown()
        server.server_close()


def test_an_https_fhir_server_is_reached_through_the_egress_proxy(
    client: TestClient, proxy: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", proxy)
    response = client.post(SIGN, json=_patient_read())
    # the proxy was asked for a tunnel to the EHR (and refused it here): the key is not had
    assert response.status_code == 412
    assert response.json()["issue"][0]["expression"] == ["prefetch.patient"]
    assert len(_Recorder.seen) == 1
    assert _Recorder.seen[0].startswith("CONNECT ehr.example.org:443 ")
    # the token goes inside the TLS tunnel, never to the proxy
    assert TOKEN not in _Recorder.seen[0] and PATIENT_ID not in _Recorder.seen[0]


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "http_proxy", "ALL_PROXY"])
def test_a_loopback_fhir_server_is_never_reached_through_a_proxy(
    tmp_path: Path,
    knowledge: Knowledge,
    proxy: str,
    fhir_server: str,
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
) -> None:
    monkeypatch.setenv(variable, proxy)
    config = write_config(tmp_path, fhir_servers=(fhir_server,))
    settings = Settings(db_path=tmp_path / "l.sqlite3", config_path=config)
    request = hook_request(prefetch={})
    request["fhirServer"] = fhir_server
    with TestClient(create_app(settings, knowledge)) as client:
        assert client.post(SIGN, json=request).status_code == 200
    # a proxy's loopback is not this machine's: the reads went straight to the server
    assert len(_Fhir.seen) == 4 and _Recorder.seen == []

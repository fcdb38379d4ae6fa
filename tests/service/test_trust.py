"""Whom the service trusts: the fhirServer allowlist, open mode, the config file, `serve`."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
import responses

from fhir_module.cli import main
from fhir_module.errors import ConfigError
from fhir_module.knowledge import Knowledge
from fhir_module.server import Settings, create_app, load_config

from ._jwt import SERVICE_URL, jwks, key, write_config
from ._requests import PATIENT, SERVER, hook_request, searchset
from .conftest import TestClient

SIGN = "/cds-services/medication-safety-order-sign"
ELSEWHERE = "https://elsewhere.example.com/fhir"
LOCAL = "http://127.0.0.1:8081/fhir"


def _serve_everything(rsps: responses.RequestsMock, base: str) -> None:
    rsps.get(f"{base}/Patient/pat-4711", json=PATIENT)
    for kind in ("Observation", "Condition", "MedicationRequest"):
        rsps.get(f"{base}/{kind}", json=searchset())


def _request(server: str) -> dict[str, Any]:
    request = hook_request(prefetch={})
    request["fhirServer"] = server
    return request


def test_a_listed_fhir_server_is_read(client: TestClient) -> None:
    with responses.RequestsMock() as rsps:
        _serve_everything(rsps, SERVER)
        # spelt differently from the config (case, trailing slash): the same server
        response = client.post(SIGN, json=_request("HTTPS://EHR.example.org/fhir/"))
        assert len(rsps.calls) == 4
    assert response.status_code == 200


def test_an_unlisted_fhir_server_is_never_contacted(client: TestClient) -> None:
    with responses.RequestsMock() as rsps:
        # nothing registered: any request at all would fail the test
        response = client.post(SIGN, json=_request(ELSEWHERE))
        assert not rsps.calls
    assert response.status_code == 412
    assert "may not read this fhirServer" in response.json()["issue"][0]["diagnostics"]


def test_an_unlisted_fhir_server_is_fine_when_nothing_is_needed(client: TestClient) -> None:
    request = hook_request()  # everything prefetched
    request["fhirServer"] = ELSEWHERE
    with responses.RequestsMock() as rsps:
        response = client.post(SIGN, json=request)
        assert not rsps.calls
    assert response.status_code == 200 and response.json()["cards"]


def test_open_mode_reads_loopback_servers_only(
    open_settings: Settings, knowledge: Knowledge, caplog: pytest.LogCaptureFixture
) -> None:
    with TestClient(create_app(open_settings, knowledge)) as client:
        assert "open mode" in caplog.text
        with responses.RequestsMock() as rsps:
            assert client.post(SIGN, json=_request(SERVER)).status_code == 412
            assert not rsps.calls
        with responses.RequestsMock() as rsps:
            _serve_everything(rsps, LOCAL)
            assert client.post(SIGN, json=_request(LOCAL)).status_code == 200
            assert len(rsps.calls) == 4


@pytest.mark.parametrize("peer", [("10.1.2.3", 40000), ("192.0.2.7", 1234), ("testclient", 1)])
def test_open_mode_serves_loopback_callers_only(
    open_settings: Settings, knowledge: Knowledge, peer: tuple[str, int]
) -> None:
    app = create_app(open_settings, knowledge)
    with TestClient(app, client=peer) as client:
        assert client.get("/cds-services").status_code == 401
    with TestClient(app, client=("::1", 5)) as client:
        assert client.get("/cds-services").status_code == 200


def _config(tmp_path: Path, text: str) -> Path:
    (tmp_path / "ehr-jwks.json").write_text(json.dumps(jwks(key())))
    path = tmp_path / "bad.toml"
    if "[[clients]]" in text and "public_base_url" not in text:
        text = f'public_base_url = "{SERVICE_URL}"\n' + text
    path.write_text(text)
    return path


CLIENT = '[[clients]]\nissuer = "https://ehr.example.org"\njwks_file = "ehr-jwks.json"\n'


@pytest.mark.parametrize(
    "text, problem",
    [
        ("", "at least one"),
        ("clients = 3", "at least one"),
        ("this is = not toml [", "not valid TOML"),
        (CLIENT + "fhir_servers = ['http://ehr.example.org/fhir']", "https"),
        (CLIENT + "fhir_servers = 'https://ehr.example.org/fhir'", "list of URLs"),
        (CLIENT + "fhir_servers = ['https://ehr.example.org/fhir?x=1']", "plain URL"),
        (CLIENT.replace('jwks_file = "ehr-jwks.json"', ""), "give jwks_url, jwks_file"),
        (CLIENT.replace("ehr-jwks.json", "absent.json"), "absent.json"),
        (CLIENT.replace("ehr-jwks.json", "bad.toml"), "not JSON"),
        (CLIENT + "tenat = 'typo'", "unknown key 'tenat'"),
        (CLIENT + CLIENT, "twice"),
        ("public_base_url = 'ftp://x'\n" + CLIENT, "public_base_url"),
        (CLIENT.replace('issuer = "https://ehr.example.org"', "issuer = ''"), "issuer"),
    ],
)
def test_a_bad_config_is_one_line_and_exit_2(
    tmp_path: Path, text: str, problem: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _config(tmp_path, text)
    assert main(["serve", "--config", str(path), "--db", str(tmp_path / "d.sqlite3")]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and problem in err and "Traceback" not in err


def test_a_missing_config_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--config", str(tmp_path / "nope.toml")]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_config_paths_resolve_beside_the_file(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, public_base_url="https://cds.example.org/"))
    (client,) = config.clients.values()
    assert client.jwks_file == tmp_path.resolve() / "ehr-jwks.json"
    assert config.public_base_url == "https://cds.example.org"
    assert client.allows_fhir_server("https://ehr.example.org:443/fhir")
    assert not client.allows_fhir_server("https://ehr.example.org/fhir/other")
    with pytest.raises(ConfigError):
        load_config(write_config(tmp_path, fhir_servers=("http://10.0.0.1/fhir",)))
    assert load_config(write_config(tmp_path, fhir_servers=(LOCAL,)))


def test_serve_refuses_a_public_address_without_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: pytest.fail("must not start"))
    for host in ("0.0.0.0", "192.0.2.1", "::"):
        assert main(["serve", "--host", host, "--db", str(tmp_path / "d.sqlite3")]) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and "--config" in err


def test_serve_in_open_mode_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import uvicorn

    seen: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: seen.update(app=app, **kw))
    assert main(["serve", "--db", str(tmp_path / "d.sqlite3")]) == 0
    assert "open mode" in capsys.readouterr().err
    seen["app"].state.store.close()


def test_serve_with_config_listens_anywhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import uvicorn

    seen: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: seen.update(app=app, **kw))
    config = write_config(tmp_path)
    argv = ["serve", "--host", "0.0.0.0", "--config", str(config)]
    assert main([*argv, "--db", str(tmp_path / "d.sqlite3")]) == 0
    assert seen["host"] == "0.0.0.0" and seen["app"].state.config is not None
    assert "open mode" not in capsys.readouterr().err
    seen["app"].state.store.close()


@pytest.mark.parametrize(
    "host, status",
    [
        ("localhost:8080", 200),
        ("LOCALHOST", 200),
        ("127.0.0.1:8080", 200),
        ("127.0.0.2", 200),
        ("[::1]:8080", 200),
        ("rebound.example:8080", 421),  # DNS rebinding: the page's own name, now 127.0.0.1
        ("localhost.rebound.example", 421),
        ("127.0.0.1.nip.io", 421),
        ("[::ffff:10.0.0.1]", 421),
        ("", 421),
    ],
)
def test_open_mode_answers_loopback_host_names_only(
    open_settings: Settings, knowledge: Knowledge, host: str, status: int
) -> None:
    with TestClient(create_app(open_settings, knowledge)) as client:
        answer = client.get("/cds-services", headers={"Host": host})
        assert answer.status_code == status
        if status != 200:
            assert answer.json()["issue"][0]["code"] == "security"
            sign = client.post(SIGN, json=_request(LOCAL), headers={"Host": host})
            assert sign.status_code == status


def _preflight(client: TestClient, origin: str) -> str | None:
    answer = client.options(
        "/cds-services",
        headers={"Origin": origin, "Access-Control-Request-Method": "POST"},
    )
    return answer.headers.get("access-control-allow-origin")


@pytest.mark.parametrize(
    "origin, allowed",
    [
        ("http://localhost:3000", True),
        ("http://127.0.0.1:8000", True),
        ("http://[::1]:5173", True),
        ("https://evil.example", False),
        ("http://localhost.evil.example", False),
        ("https://sandbox.cds-hooks.org", False),
    ],
)
def test_open_mode_allows_loopback_origins_by_default(
    open_settings: Settings, knowledge: Knowledge, origin: str, allowed: bool
) -> None:
    with TestClient(create_app(open_settings, knowledge)) as client:
        assert (_preflight(client, origin) == origin) is allowed


def test_cors_origins_are_a_setting(
    open_settings: Settings, settings: Settings, knowledge: Knowledge
) -> None:
    sandbox = "https://sandbox.cds-hooks.org"
    chosen = dataclasses.replace(open_settings, cors_origins=(sandbox,))
    with TestClient(create_app(chosen, knowledge)) as client:
        assert _preflight(client, sandbox) == sandbox
        assert _preflight(client, "http://localhost:3000") is None
    # trusted clients: any origin by default, each call brings its own JWT
    with TestClient(create_app(settings, knowledge)) as client:
        assert _preflight(client, "https://ehr.example.org") == "*"
    env = Settings.from_env({"FHIR_MODULE_CORS_ORIGINS": f"{sandbox}, http://localhost:3000"})
    assert env.cors_origins == (sandbox, "http://localhost:3000")
    assert Settings.from_env({}).cors_origins is None

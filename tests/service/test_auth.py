"""CDS Hooks 2.0.1 client authentication: a signed JWT on every call, else a bare 401."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
import responses

from fhir_module.knowledge import Knowledge
from fhir_module.server import Settings, create_app
from fhir_module.server._jwks import KeySet

from ._jwt import ISSUER, JWKS_URL, SERVICE_URL, jwks, key, token, write_config
from ._requests import hook_request
from .conftest import TestClient, record_thread_hand_offs

BASE = SERVICE_URL
DISCOVERY = "/cds-services"
SIGN = "/cds-services/medication-safety-order-sign"


def call(client: TestClient, path: str, bearer: str | None, **kwargs: Any) -> Any:
    headers = {"Authorization": f"Bearer {bearer}"} if bearer is not None else {}
    if path == DISCOVERY:
        return client.get(path, headers=headers)
    return client.post(path, json=hook_request(), headers=headers)


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def unsigned(aud: str) -> str:
    """A token with alg none: header and claims, no signature."""
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": aud, "exp": now + 60, "iat": now, "jti": "n-1"}
    return f"{_b64({'alg': 'none', 'typ': 'JWT', 'kid': key().kid})}.{_b64(claims)}."


@pytest.mark.parametrize("alg", ["ES384", "RS384"])
@pytest.mark.parametrize("path", [DISCOVERY, SIGN])
def test_a_signed_call_is_answered(client: TestClient, alg: str, path: str) -> None:
    response = call(client, path, token(BASE + path, key(alg)))
    assert response.status_code == 200


def test_feedback_needs_its_own_aud(client: TestClient) -> None:
    url = f"{SIGN}/feedback"
    body = {"feedback": []}
    headers = {"Authorization": f"Bearer {token(BASE + url)}"}
    assert client.post(url, json=body, headers=headers).status_code == 200
    headers = {"Authorization": f"Bearer {token(BASE + SIGN)}"}
    assert client.post(url, json=body, headers=headers).status_code == 401


def test_aud_may_be_an_array(client: TestClient) -> None:
    bearer = token([BASE + DISCOVERY, "https://other.example.org/x"])
    assert call(client, DISCOVERY, bearer).status_code == 200


def _bad_tokens() -> dict[str, Any]:
    url = BASE + SIGN
    now = int(time.time())
    hs256 = jwt.encode(
        {"iss": ISSUER, "aud": url, "exp": now + 60, "iat": now, "jti": "h"},
        "a-shared-secret-of-at-least-32-bytes!!",
        algorithm="HS256",
        headers={"kid": key().kid},
    )
    return {
        "no header": None,
        "bad scheme": "Basic dXNlcjpwYXNz",
        "not a JWT": "Bearer abc.def",
        "alg none": f"Bearer {unsigned(url)}",
        "HS256": f"Bearer {hs256}",
        "no kid": f"Bearer {token(url, header={'kid': None})}",
        "unknown kid": f"Bearer {token(url, key('ES384', 'not-in-the-jwks'))}",
        "bad signature": f"Bearer {_forged(url)}",
        "wrong iss": f"Bearer {token(url, iss='https://evil.example.org')}",
        "wrong aud": f"Bearer {token('https://cds.other.org/cds-services/x')}",
        "expired": f"Bearer {token(url, exp=now - 3600, iat=now - 3900)}",
        "iat in the future": f"Bearer {token(url, iat=now + 3600, exp=now + 3900)}",
        "missing jti": f"Bearer {token(url, drop=('jti',))}",
        "missing exp": f"Bearer {token(url, drop=('exp',))}",
        "too long a life": f"Bearer {token(url, exp=now + 30 * 86400)}",
        "typ not JWT": f"Bearer {token(url, header={'typ': 'at+jwt'})}",
        "jku not allowed": f"Bearer {token(url, header={'jku': 'https://evil.example.org/k'})}",
        "RS384 header on an EC key": f"Bearer {_wrong_family(url)}",
    }


def _forged(aud: str) -> str:
    """The test EHR's header and claims under another key's signature."""
    head, body, _ = token(aud).split(".")
    impostor = key("ES384", "impostor")  # same kid in the header, another private key
    signature = token(aud, impostor, header={"kid": key().kid}).split(".")[2]
    return f"{head}.{body}.{signature}"


def _wrong_family(aud: str) -> str:
    # An RS384 signature under the kid of the EC key: the key cannot serve that alg.
    rsa = key("RS384")
    return token(aud, rsa, header={"kid": key().kid})


BAD = _bad_tokens()
#: the category each failure is logged under (never the token)
REASONS = {
    "no header": "no-credentials",
    "bad scheme": "not-bearer",
    "not a JWT": "malformed",
    "alg none": "alg",
    "HS256": "alg",
    "no kid": "kid-missing",
    "unknown kid": "unknown-kid",
    "bad signature": "signature",
    "wrong iss": "issuer",
    "wrong aud": "aud",
    "expired": "expired",
    "iat in the future": "iat-future",
    "missing jti": "jti-missing",
    "missing exp": "exp-missing",
    "too long a life": "lifetime",
    "typ not JWT": "typ",
    "jku not allowed": "jku",
    "RS384 header on an EC key": "key-alg",
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_each_failure_is_a_bare_401(
    client: TestClient, case: str, caplog: pytest.LogCaptureFixture
) -> None:
    authorization = BAD[case]
    headers = {} if authorization is None else {"Authorization": authorization}
    raw = TestClient(client.app, sign=False)
    response = raw.post(SIGN, json=hook_request(), headers=headers)
    assert response.status_code == 401
    assert response.content == b""
    assert response.headers["www-authenticate"] == "Bearer"
    assert f"authentication failed: {REASONS[case]}\n" in caplog.text
    if authorization:
        credential = authorization.split(" ", 1)[-1]
        assert credential not in caplog.text


def test_a_replayed_token_is_refused(client: TestClient) -> None:
    bearer = token(BASE + SIGN)
    assert call(client, SIGN, bearer).status_code == 200
    assert call(client, SIGN, bearer).status_code == 401


def test_the_tenant_is_checked(tmp_path: Path, knowledge: Knowledge) -> None:
    settings = Settings(
        db_path=tmp_path / "t.sqlite3", config_path=write_config(tmp_path, tenant="hospital-a")
    )
    url = BASE + DISCOVERY
    with TestClient(create_app(settings, knowledge)) as client:
        assert call(client, DISCOVERY, token(url, tenant="hospital-a")).status_code == 200
        assert call(client, DISCOVERY, token(url, tenant="hospital-b")).status_code == 401
        assert call(client, DISCOVERY, token(url)).status_code == 401


def test_aud_behind_a_proxy_is_the_public_url(tmp_path: Path, knowledge: Knowledge) -> None:
    public = "https://cds.example.org/baclofen"
    config = write_config(tmp_path, public_base_url=public + "/")
    settings = Settings(db_path=tmp_path / "p.sqlite3", config_path=config)
    with TestClient(create_app(settings, knowledge)) as client:
        assert call(client, DISCOVERY, token(public + DISCOVERY)).status_code == 200
        # the Host the request names does not count any more
        assert call(client, DISCOVERY, token(BASE + DISCOVERY)).status_code == 401


def test_the_jwks_url_is_fetched_and_refreshed_for_a_new_kid(
    tmp_path: Path, knowledge: Knowledge
) -> None:
    settings = Settings(
        db_path=tmp_path / "u.sqlite3", config_path=write_config(tmp_path, jwks_url=JWKS_URL)
    )
    rotated = key("ES384", "es384-rotated")
    url = BASE + DISCOVERY
    with responses.RequestsMock() as rsps, TestClient(create_app(settings, knowledge)) as client:
        rsps.get(JWKS_URL, json=jwks(key()))
        rsps.get(JWKS_URL, json=jwks(key(), rotated))
        assert call(client, DISCOVERY, token(url)).status_code == 200
        assert call(client, DISCOVERY, token(url)).status_code == 200
        assert len(rsps.calls) == 1  # cached
        # the EHR rotated its keys: an unknown kid makes the service look again, once
        assert call(client, DISCOVERY, token(url, rotated)).status_code == 200
        assert len(rsps.calls) == 2
        # a jku naming the configured URL is honoured
        bearer = token(url, header={"jku": JWKS_URL})
        assert call(client, DISCOVERY, bearer).status_code == 200
        # and a made-up kid straight after does not make it fetch again (rate limit)
        stranger = key("ES384", "es384-unknown")
        assert call(client, DISCOVERY, token(url, stranger)).status_code == 401
        assert len(rsps.calls) == 2


def test_key_set_reloads_are_rate_limited_and_survive_failures() -> None:
    now = [1000.0]
    keys = KeySet(url=JWKS_URL, clock=lambda: now[0], min_refresh=60, ttl=3600)
    with responses.RequestsMock() as rsps:
        rsps.get(JWKS_URL, status=503)
        assert keys.find(key().kid) is None
        assert keys.find(key().kid) is None
        assert len(rsps.calls) == 1  # failures are rate-limited too
        now[0] += 61
        rsps.replace(responses.GET, JWKS_URL, json=jwks(key()))
        assert keys.find(key().kid) is not None
        now[0] += 3601
        rsps.replace(responses.GET, JWKS_URL, body=b"not json")
        # stale, reloaded, the reload fails: the keys known are kept
        assert keys.find(key().kid) is not None
        assert len(rsps.calls) == 3


def test_private_keys_in_a_jwks_file_are_refused(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec
    from jwt.algorithms import ECAlgorithm

    private = json.loads(ECAlgorithm.to_jwk(ec.generate_private_key(ec.SECP384R1())))
    (tmp_path / "k.json").write_text(json.dumps({"keys": [{**private, "kid": "p"}]}))
    with pytest.raises(Exception, match="private key"):
        KeySet(file=tmp_path / "k.json")


@pytest.fixture
def key_set_hand_offs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Each time the Guard hands a token check to the thread pool (other work not listed)."""
    import fhir_module.server._offload as offload

    handed = record_thread_hand_offs(monkeypatch, offload)

    class Checks(list[str]):
        def __eq__(self, other: object) -> bool:
            return [w for w in handed if w == "verify"] == other

    return Checks()


def test_every_token_check_runs_in_a_thread(
    client: TestClient, key_set_hand_offs: list[str]
) -> None:
    # The check may fetch a key set and always writes the replay cache: never on the loop.
    assert call(client, SIGN, token(BASE + SIGN)).status_code == 200
    assert key_set_hand_offs == ["verify"]
    for _ in range(3):
        assert call(client, SIGN, token(BASE + SIGN)).status_code == 200
    assert call(client, SIGN, "not-a-jwt").status_code == 401
    assert key_set_hand_offs == ["verify"] * 5
    assert call(client, SIGN, token(BASE + SIGN, key("ES384", "es384-unknown"))).status_code == 401
    assert key_set_hand_offs == ["verify"] * 6


def test_a_key_set_to_fetch_is_fetched_in_a_thread(
    tmp_path: Path, knowledge: Knowledge, key_set_hand_offs: list[str]
) -> None:
    settings = Settings(
        db_path=tmp_path / "u.sqlite3", config_path=write_config(tmp_path, jwks_url=JWKS_URL)
    )
    url = BASE + DISCOVERY
    with responses.RequestsMock() as rsps, TestClient(create_app(settings, knowledge)) as client:
        rsps.get(JWKS_URL, json=jwks(key()))
        assert call(client, DISCOVERY, token(url)).status_code == 200
        assert key_set_hand_offs == ["verify"] and len(rsps.calls) == 1
        for _ in range(3):
            assert call(client, DISCOVERY, token(url)).status_code == 200
        assert key_set_hand_offs == ["verify"] * 4 and len(rsps.calls) == 1  # kept, not refetched


def test_trusted_clients_need_the_public_base_url(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from fhir_module.cli import main
    from fhir_module.errors import ConfigError
    from fhir_module.server import load_config

    config = write_config(tmp_path, public_base_url=None)
    with pytest.raises(ConfigError, match="public_base_url: required"):
        load_config(config)
    assert main(["serve", "--config", str(config), "--db", str(tmp_path / "d.sqlite3")]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "public_base_url" in err


@pytest.mark.parametrize(
    "claimed",
    [
        {"Host": "evil.example"},
        {"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https"},
        {"Forwarded": "host=evil.example;proto=https"},
    ],
)
def test_aud_is_never_what_the_request_headers_claim(
    client: TestClient, claimed: dict[str, str]
) -> None:
    for aud in ("http://evil.example", "https://evil.example"):
        bearer = token(aud + DISCOVERY)
        answer = client.get(DISCOVERY, headers={**claimed, "Authorization": f"Bearer {bearer}"})
        assert answer.status_code == 401
    # the configured public URL is what counts, whatever the headers say
    bearer = token(SERVICE_URL + DISCOVERY)
    answer = client.get(DISCOVERY, headers={**claimed, "Authorization": f"Bearer {bearer}"})
    assert answer.status_code == 200


def test_a_pinned_key_set_is_never_fetched_and_its_jku_is_accepted(
    tmp_path: Path, knowledge: Knowledge
) -> None:
    config = write_config(tmp_path, jwks_url=JWKS_URL, pinned=True)
    settings = Settings(db_path=tmp_path / "k.sqlite3", config_path=config)
    url = BASE + DISCOVERY
    with responses.RequestsMock() as rsps, TestClient(create_app(settings, knowledge)) as client:
        # nothing registered: a fetch of the JWKS URL would be recorded
        assert call(client, DISCOVERY, token(url, header={"jku": JWKS_URL})).status_code == 200
        assert call(client, DISCOVERY, token(url)).status_code == 200
        assert call(client, DISCOVERY, token(url, key("ES384", "es384-new"))).status_code == 401
        other_jku = token(url, header={"jku": "https://ehr.example.org/other-jwks.json"})
        assert call(client, DISCOVERY, other_jku).status_code == 401
        assert not rsps.calls


def test_a_key_set_with_one_kid_twice_is_refused(tmp_path: Path, knowledge: Knowledge) -> None:
    from fhir_module.errors import ConfigError
    from fhir_module.server import check_config

    twice = {"keys": [key().public_jwk(), {**key("RS384").public_jwk(), "kid": key().kid}]}
    config = write_config(tmp_path)
    (tmp_path / "ehr-jwks.json").write_text(json.dumps(twice))
    with pytest.raises(ConfigError, match="two keys have the kid"):
        check_config(config)
    # fetched from a URL: the set is not taken, so no token of that kid passes
    settings = Settings(
        db_path=tmp_path / "d.sqlite3", config_path=write_config(tmp_path, jwks_url=JWKS_URL)
    )
    with responses.RequestsMock() as rsps, TestClient(create_app(settings, knowledge)) as client:
        rsps.get(JWKS_URL, json=twice)
        assert call(client, DISCOVERY, token(BASE + DISCOVERY)).status_code == 401
        assert call(client, DISCOVERY, token(BASE + DISCOVERY, key("RS384"))).status_code == 401

"""Property-based fuzzing of the HTTP layer: mangled bodies and tokens never get a 5xx."""

from __future__ import annotations

import base64
from typing import Any

import responses
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ._jwt import token
from ._requests import hook_request, mangle
from .conftest import TestClient
from .test_validation import FIELDS, JSON

SIGN = "/cds-services/medication-safety-order-sign"
FEEDBACK = f"{SIGN}/feedback"
FAST = settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def _assert_answered(response: Any) -> None:
    assert response.status_code < 500
    if response.status_code >= 400 and response.status_code != 401:
        assert response.json()["resourceType"] == "OperationOutcome"


@FAST
@given(path=st.lists(FIELDS, min_size=1, max_size=4), value=JSON, server=st.booleans())
def test_no_mangled_request_gets_a_server_error(
    client: TestClient, path: list[str], value: Any, server: bool
) -> None:
    request = hook_request("order-sign", prefetch={} if server else None, server=server)
    mangle(request, path, value)
    with responses.RequestsMock(assert_all_requests_are_fired=False):
        _assert_answered(client.post(SIGN, json=request))


@FAST
@given(body=JSON)
def test_no_feedback_body_gets_a_server_error(client: TestClient, body: Any) -> None:
    _assert_answered(client.post(FEEDBACK, json={"feedback": body}))
    _assert_answered(client.post(FEEDBACK, json=body))


def _flip(segment: str, at: int, bit: int) -> str:
    raw = bytearray(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    if raw:
        raw[at % len(raw)] ^= 1 << bit
    return base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()


@settings(max_examples=40, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(part=st.integers(0, 2), at=st.integers(0, 10_000), bit=st.integers(0, 7))
def test_no_tampered_token_gets_in(client: TestClient, part: int, at: int, bit: int) -> None:
    """One bit flipped anywhere in a good token (header, claims or signature): a bare 401."""
    parts = token(str(client.base_url) + "/cds-services").split(".")
    parts[part] = _flip(parts[part], at, bit)
    response = client.get("/cds-services", headers={"Authorization": "Bearer " + ".".join(parts)})
    assert response.status_code == 401 and response.content == b""

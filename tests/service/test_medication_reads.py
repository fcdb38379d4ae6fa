"""A draft order whose medicationReference the call does not resolve: FHIR resolves a
relative reference against the server, so the service reads `Medication/{id}` from the
allowed fhirServer (token only under its base) and judges the order. Where it cannot be
read, the call still gets its answer: the order is not known to be the drug."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import responses

from fhir_module.knowledge import Knowledge
from fhir_module.server import Settings, create_app

from ._jwt import write_config
from ._requests import SERVER, TOKEN, baclofen_order, full_prefetch, hook_request, rule_ids
from .conftest import TestClient

SIGN = "/cds-services/medication-safety-order-sign"
SELECT = "/cds-services/medication-safety-order-select"
BACLOFEN = {
    "resourceType": "Medication",
    "id": "zzz",
    "code": {
        "coding": [
            {
                "system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                "code": "197446",
                "display": "baclofen 10 MG Oral Tablet",
            }
        ]
    },
}
OTHER = {
    "resourceType": "Medication",
    "id": "zzz",
    "code": {"text": "Amoxicillin 500 MG Oral Capsule"},
}


def _referencing(oid: str = "mr-1", reference: str = "Medication/zzz") -> dict[str, Any]:
    order = baclofen_order(oid)
    del order["medicationCodeableConcept"]
    order["medicationReference"] = {"reference": reference}
    return order


@pytest.mark.parametrize("hook, path", [("order-sign", SIGN), ("order-select", SELECT)])
def test_a_referenced_medication_is_read_from_the_fhir_server_and_the_order_judged(
    client: TestClient, hook: str, path: str
) -> None:
    with responses.RequestsMock() as rsps:
        rsps.get(f"{SERVER}/Medication/zzz", json=BACLOFEN)
        response = client.post(path, json=hook_request(hook, _referencing()))
        assert [c.request.url for c in rsps.calls] == [f"{SERVER}/Medication/zzz"]
        assert rsps.calls[0].request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert response.status_code == 200
    assert "max-daily-dose" in rule_ids(response.json())


def test_each_medication_is_read_once_and_the_redirect_stays_under_the_base(
    client: TestClient,
) -> None:
    orders = [
        _referencing("mr-1"),
        _referencing("mr-2"),
        _referencing("mr-3", "Medication/zzz/_history/2"),
    ]
    with responses.RequestsMock() as rsps:
        rsps.get(
            f"{SERVER}/Medication/zzz",
            status=302,
            headers={"Location": "https://other.example/fhir/Medication/zzz"},
        )
        response = client.post(SIGN, json=hook_request("order-sign", *orders))
        assert len(rsps.calls) == 1  # the redirect elsewhere never gets the token
    assert response.status_code == 200 and response.json() == {"cards": []}


@pytest.mark.parametrize(
    "answer",
    [
        {"status": 404},
        {"status": 500},
        {"json": OTHER},
        {"json": {"resourceType": "Patient", "id": "zzz"}},
        {"body": "not json"},
    ],
    ids=["absent", "server error", "another drug", "not a Medication", "not JSON"],
)
def test_a_medication_that_cannot_be_had_leaves_the_order_unknown(
    client: TestClient, answer: dict[str, Any]
) -> None:
    with responses.RequestsMock() as rsps:
        rsps.get(f"{SERVER}/Medication/zzz", **answer)
        response = client.post(SIGN, json=hook_request("order-sign", _referencing()))
        assert len(rsps.calls) == 1
    assert response.status_code == 200 and response.json() == {"cards": []}


def test_without_a_fhir_server_nothing_is_read(client: TestClient) -> None:
    with responses.RequestsMock() as rsps:
        response = client.post(SIGN, json=hook_request("order-sign", _referencing(), server=False))
        assert not rsps.calls
    assert response.status_code == 200 and response.json() == {"cards": []}


def test_a_fhir_server_the_caller_may_not_name_is_not_read(
    tmp_path: Path, knowledge: Knowledge
) -> None:
    settings = Settings(
        db_path=tmp_path / "m.sqlite3",
        config_path=write_config(tmp_path, fhir_servers=("https://elsewhere.example.org/fhir",)),
    )
    with responses.RequestsMock() as rsps, TestClient(create_app(settings, knowledge)) as c:
        response = c.post(SIGN, json=hook_request("order-sign", _referencing()))
        assert not rsps.calls
    assert response.status_code == 200 and response.json() == {"cards": []}


def test_a_medication_in_the_call_is_not_read_again(client: TestClient) -> None:
    request = hook_request("order-sign", _referencing())
    request["context"]["draftOrders"]["entry"].append({"resource": BACLOFEN})
    with responses.RequestsMock() as rsps:
        response = client.post(SIGN, json=request)
        assert not rsps.calls
    assert "max-daily-dose" in rule_ids(response.json())


@pytest.mark.parametrize(
    "reference",
    [
        "Medication/..",
        "Medication/a/b",
        "#zzz",
        "urn:uuid:0c3a9c6e-1a4e-4b8a-9c1e-2f6a3a0c9b11",
        "Substance/zzz",
    ],
)
def test_only_a_plain_medication_id_is_read(client: TestClient, reference: str) -> None:
    with responses.RequestsMock() as rsps:
        response = client.post(
            SIGN, json=hook_request("order-sign", _referencing("mr-1", reference))
        )
        assert not rsps.calls
    assert response.status_code == 200 and response.json() == {"cards": []}


def test_prefetch_is_still_read_as_before(client: TestClient) -> None:
    prefetch = full_prefetch()
    del prefetch["patient"]
    with responses.RequestsMock() as rsps:
        rsps.get(f"{SERVER}/Medication/zzz", json=BACLOFEN)
        rsps.get(
            f"{SERVER}/Patient/pat-4711",
            json={"resourceType": "Patient", "id": "pat-4711", "birthDate": "1980-02-03"},
        )
        response = client.post(
            SIGN, json=hook_request("order-sign", _referencing(), prefetch=prefetch)
        )
        assert sorted(c.request.url for c in rsps.calls) == [
            f"{SERVER}/Medication/zzz",
            f"{SERVER}/Patient/pat-4711",
        ]
    assert "max-daily-dose" in rule_ids(response.json())


def test_one_call_reads_at_most_max_pages_medications(
    client: TestClient, settings: Settings
) -> None:
    # Thirty drafts, each naming another Medication the server does not have: the call
    # reads a bounded number of them, not one per draft.
    orders = [_referencing(f"mr-{i}", f"Medication/m{i}") for i in range(30)]
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        for i in range(30):
            rsps.get(f"{SERVER}/Medication/m{i}", status=404)
        response = client.post(SIGN, json=hook_request("order-sign", *orders))
        reads = len(rsps.calls)
    assert response.status_code == 200
    assert reads == settings.max_pages < 30

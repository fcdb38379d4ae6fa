"""POST /cds-services/{id}: prefetch, FHIR reads for what prefetch lacks, and 412."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests
import responses
from responses import matchers

from ._requests import (
    PATIENT,
    PATIENT_ID,
    SERVER,
    TOKEN,
    baclofen_order,
    full_prefetch,
    hook_request,
    other_order,
    rule_ids,
    searchset,
)
from .conftest import TestClient, record_thread_hand_offs

SIGN = "/cds-services/medication-safety-order-sign"
SELECT = "/cds-services/medication-safety-order-select"
FIXTURES = Path("/work/shared/fixtures/third-party")
PREGNANT = {
    "resourceType": "Observation",
    "id": "obs-1",
    "status": "final",
    "code": {"coding": [{"system": "http://loinc.org", "code": "82810-3"}]},
    "subject": {"reference": f"Patient/{PATIENT_ID}"},
    "effectiveDateTime": "2024-04-20",
    "valueCodeableConcept": {"coding": [{"system": "http://snomed.info/sct", "code": "77386006"}]},
}


def post(client: TestClient, url: str, body: Any) -> tuple[int, dict[str, Any]]:
    response = client.post(url, json=body)
    return response.status_code, response.json()


def mock_server(rsps: responses.RequestsMock, **bodies: Any) -> None:
    """The EHR's FHIR server: each resource path answers with its body (a dict or a status)."""
    paths = {
        "patient": f"{SERVER}/Patient/{PATIENT_ID}",
        "observations": f"{SERVER}/Observation",
        "conditions": f"{SERVER}/Condition",
        "medications": f"{SERVER}/MedicationRequest",
    }
    auth = matchers.header_matcher({"Authorization": f"Bearer {TOKEN}"})
    for key, url in paths.items():
        body = bodies.get(key, PATIENT if key == "patient" else searchset())
        if isinstance(body, int):
            rsps.get(url, status=body, json={"resourceType": "OperationOutcome"}, match=[auth])
        elif isinstance(body, Exception):
            rsps.get(url, body=body)
        else:
            rsps.get(url, json=body, match=[auth])


def test_prefetched_request_gets_cards_without_a_fhir_read(client: TestClient) -> None:
    with responses.RequestsMock() as rsps:
        status, body = post(client, SIGN, hook_request())
        assert not rsps.calls
    assert status == 200
    assert rule_ids(body) == ["max-daily-dose", "starting-dose"]
    assert all(len(c["summary"]) < 140 for c in body["cards"])


def test_order_select_judges_the_selected_order(client: TestClient) -> None:
    status, body = post(client, SELECT, hook_request("order-select"))
    assert status == 200 and "counselling" in rule_ids(body)


def test_absent_prefetch_is_read_with_the_token(client: TestClient) -> None:
    request = hook_request(prefetch={})
    with responses.RequestsMock() as rsps:
        mock_server(rsps, observations=searchset(PREGNANT))
        status, body = post(client, SIGN, request)
        assert len(rsps.calls) == 4
        assert all(c.request.headers["Authorization"] == f"Bearer {TOKEN}" for c in rsps.calls)
        search = next(
            str(c.request.url) for c in rsps.calls if "/Observation" in str(c.request.url)
        )
        assert f"patient={PATIENT_ID}" in search and "82810-3" in search
    assert status == 200 and "pregnancy" in rule_ids(body)


def test_only_the_missing_keys_are_read(client: TestClient) -> None:
    prefetch = full_prefetch()
    del prefetch["conditions"]
    with responses.RequestsMock() as rsps:
        rsps.get(f"{SERVER}/Condition", json=searchset())
        status, _ = post(client, SIGN, hook_request(prefetch=prefetch))
        assert len(rsps.calls) == 1
    assert status == 200


def test_next_links_are_followed(client: TestClient) -> None:
    prefetch = full_prefetch()
    del prefetch["observations"]
    page2 = f"{SERVER}/Observation?page=2"
    with responses.RequestsMock() as rsps:
        rsps.get(page2, json=searchset(PREGNANT))
        rsps.get(f"{SERVER}/Observation", json=searchset(next_url=page2))
        status, body = post(client, SIGN, hook_request(prefetch=prefetch))
        assert len(rsps.calls) == 2
        assert rsps.calls[1].request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert status == 200 and "pregnancy" in rule_ids(body)


def test_a_paginated_prefetch_is_completed_from_the_server(client: TestClient) -> None:
    prefetch = full_prefetch()
    prefetch["observations"] = searchset(next_url=f"{SERVER}/Observation?page=2")
    with responses.RequestsMock() as rsps:
        rsps.get(f"{SERVER}/Observation", json=searchset(PREGNANT))
        status, body = post(client, SIGN, hook_request(prefetch=prefetch))
        assert len(rsps.calls) == 1
    assert status == 200 and "pregnancy" in rule_ids(body)


def test_the_page_cap_is_honoured(client: TestClient) -> None:
    # settings.max_pages is 3: the first page and two next pages, then no more
    prefetch = full_prefetch()
    del prefetch["conditions"]
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.get(f"{SERVER}/Condition", json=searchset(next_url=f"{SERVER}/Condition?page=n"))
        status, _ = post(client, SIGN, hook_request(prefetch=prefetch))
        assert len(rsps.calls) == 3
    assert status == 200


def test_a_next_link_to_another_host_never_gets_the_token(client: TestClient) -> None:
    prefetch = full_prefetch()
    prefetch["observations"] = searchset(next_url="https://elsewhere.example.com/Observation")
    with responses.RequestsMock() as rsps:
        status, body = post(client, SIGN, hook_request(prefetch=prefetch))
        assert not rsps.calls
    assert status == 412 and body["issue"][0]["expression"] == ["prefetch.observations"]


@pytest.mark.parametrize(
    "failure, code",
    [
        (requests.ConnectTimeout(), "timeout"),
        (requests.ReadTimeout(), "timeout"),
        (requests.ConnectionError(), "incomplete"),
        (500, "incomplete"),
        (401, "security"),
    ],
)
def test_a_failing_fhir_server_gives_412(client: TestClient, failure: Any, code: str) -> None:
    prefetch = full_prefetch()
    del prefetch["medications"]
    with responses.RequestsMock() as rsps:
        if isinstance(failure, int):
            rsps.get(f"{SERVER}/MedicationRequest", status=failure, json={})
        else:
            rsps.get(f"{SERVER}/MedicationRequest", body=failure)
        status, body = post(client, SIGN, hook_request(prefetch=prefetch))
    assert status == 412
    assert body["resourceType"] == "OperationOutcome"
    issue = body["issue"][0]
    assert issue["code"] == code and issue["expression"] == ["prefetch.medications"]
    assert PATIENT_ID not in json.dumps(body) and TOKEN not in json.dumps(body)


def test_no_fhir_server_and_no_prefetch_gives_412(client: TestClient) -> None:
    status, body = post(client, SIGN, hook_request(prefetch={}, server=False))
    assert status == 412 and "fhirServer" in body["issue"][0]["diagnostics"]


def test_null_prefetch_means_no_data(client: TestClient) -> None:
    prefetch = dict.fromkeys(("patient", "observations", "conditions", "medications"))
    with responses.RequestsMock() as rsps:
        status, body = post(client, SIGN, hook_request(prefetch=prefetch))
        assert not rsps.calls
    assert status == 200 and "patient-data-missing" in rule_ids(body)


@pytest.mark.parametrize(
    "failed",
    [
        {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "timeout"}]},
        {
            "resourceType": "Bundle",
            "type": "searchset",
            "entry": [
                {
                    "resource": {"resourceType": "OperationOutcome", "issue": []},
                    "search": {"mode": "outcome"},
                }
            ],
        },
    ],
)
def test_an_operation_outcome_prefetch_is_read_again(client: TestClient, failed: Any) -> None:
    prefetch = full_prefetch()
    prefetch["observations"] = failed
    with responses.RequestsMock() as rsps:
        rsps.get(f"{SERVER}/Observation", json=searchset(PREGNANT))
        status, body = post(client, SIGN, hook_request(prefetch=prefetch))
        assert len(rsps.calls) == 1
    assert status == 200 and "pregnancy" in rule_ids(body)


def test_outcome_entries_of_a_search_are_skipped(client: TestClient) -> None:
    prefetch = full_prefetch()
    prefetch["observations"] = searchset(PREGNANT)
    prefetch["observations"]["entry"].append(
        {
            "resource": {"resourceType": "OperationOutcome", "issue": []},
            "search": {"mode": "outcome"},
        }
    )
    status, body = post(client, SIGN, hook_request(prefetch=prefetch))
    assert status == 200 and "pregnancy" in rule_ids(body)


def test_a_patient_the_server_does_not_know_is_no_patient(client: TestClient) -> None:
    prefetch = full_prefetch()
    del prefetch["patient"]
    with responses.RequestsMock() as rsps:
        rsps.get(f"{SERVER}/Patient/{PATIENT_ID}", status=404, json={})
        status, body = post(client, SIGN, hook_request(prefetch=prefetch))
    assert status == 200 and "patient-data-missing" in rule_ids(body)


def test_no_drug_order_answers_at_once_without_reading(client: TestClient) -> None:
    with responses.RequestsMock() as rsps:
        status, body = post(client, SIGN, hook_request("order-sign", other_order(), prefetch={}))
        assert not rsps.calls
    assert (status, body) == (200, {"cards": []})


@pytest.mark.parametrize(
    "name, url",
    [("order_select_hook_request.json", SELECT), ("order_sign_hook_request.json", SIGN)],
)
def test_third_party_requests_get_a_sensible_answer(
    client: TestClient, name: str, url: str
) -> None:
    request = json.loads((FIXTURES / name).read_text())
    with responses.RequestsMock() as rsps:
        status, body = post(client, url, request)
        assert not rsps.calls
    assert (status, body) == (200, {"cards": []})


def test_third_party_shapes_with_a_baclofen_order(client: TestClient) -> None:
    """Their untidiness (no Bundle type, doseAndRate as an object, a NutritionOrder) is fine."""
    request = json.loads((FIXTURES / "order_sign_hook_request.json").read_text())
    order = baclofen_order()
    order["dosageInstruction"][0]["doseAndRate"] = order["dosageInstruction"][0]["doseAndRate"][0]
    order["subject"] = {"reference": "Patient/someone-else"}
    request["context"]["draftOrders"]["entry"].append({"resource": order})
    request["prefetch"] = full_prefetch()
    status, body = post(client, SIGN, request)
    assert status == 200 and "max-daily-dose" in rule_ids(body)


def test_an_unexpected_fault_is_a_bare_500(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise KeyError(PATIENT_ID)

    monkeypatch.setattr("fhir_module.hooks._pipeline._judged", broken)
    response = client.post(SIGN, json=hook_request())
    assert response.status_code == 500
    assert response.json()["issue"][0]["code"] == "exception"
    assert PATIENT_ID not in response.text and PATIENT_ID not in caplog.text
    assert "KeyError" in caplog.text


def test_cards_are_answered_even_if_the_audit_fails(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    client.app.state.store.close()  # type: ignore[attr-defined]
    status, body = post(client, SIGN, hook_request())
    assert status == 200 and body["cards"]
    assert "audit not written" in caplog.text
    response = client.post(
        f"{SIGN}/feedback",
        json={
            "feedback": [
                {
                    "card": body["cards"][0]["uuid"],
                    "outcome": "overridden",
                    "outcomeTimestamp": "2024-05-01T10:00:00Z",
                }
            ]
        },
    )
    # feedback that cannot be stored must not be acknowledged
    assert response.status_code == 500


@pytest.fixture
def thread_hand_offs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the work the service hands to the thread pool, as it does so."""
    import fhir_module.server._offload as offload

    return record_thread_hand_offs(monkeypatch, offload)


def _cards(body: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(c["source"]["topic"]["code"], c["indicator"], c["summary"]) for c in body["cards"]]


def test_a_hook_call_and_its_audit_each_run_in_a_thread_once(
    client: TestClient, thread_hand_offs: list[str]
) -> None:
    status, body = post(client, SIGN, hook_request())
    assert status == 200 and _cards(body)
    assert thread_hand_offs == ["verify", "run_hook", "record_call"]


def test_calls_that_read_the_fhir_server_do_so_in_a_thread(
    client: TestClient, thread_hand_offs: list[str]
) -> None:
    prefetch = full_prefetch()
    del prefetch["conditions"]
    with responses.RequestsMock() as rsps:
        rsps.get(f"{SERVER}/Condition", json=searchset())
        status, body = post(client, SIGN, hook_request(prefetch=prefetch))
        assert len(rsps.calls) == 1
    assert status == 200 and "max-daily-dose" in rule_ids(body)
    assert thread_hand_offs == ["verify", "run_hook", "record_call"]


def test_a_fault_is_a_bare_500(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise KeyError(PATIENT_ID)

    monkeypatch.setattr("fhir_module.hooks._pipeline._judged", broken)
    response = client.post(SIGN, json=hook_request())
    assert response.status_code == 500 and PATIENT_ID not in response.text


def test_medications_read_with_the_orders_are_what_their_references_name(
    client: TestClient,
) -> None:
    """The medications search includes the Medications the orders reference; an active order
    named only by such a reference is on record (a duplicate of the new one)."""
    active = baclofen_order("mr-old", mg=10)
    active["status"] = "active"
    del active["medicationCodeableConcept"]
    active["medicationReference"] = {"reference": "Medication/med-9"}
    included = {
        "resourceType": "Medication",
        "id": "med-9",
        "code": {
            "coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "197391"}]
        },
    }
    page = searchset(active)
    page["entry"].append({"resource": included, "search": {"mode": "include"}})
    prefetch = full_prefetch()
    del prefetch["medications"]
    with responses.RequestsMock() as rsps:
        rsps.get(f"{SERVER}/MedicationRequest", json=page)
        status, body = post(client, SIGN, hook_request(prefetch=prefetch))
        search = str(rsps.calls[0].request.url)
    assert "_include=MedicationRequest%3Amedication" in search or (
        "_include=MedicationRequest:medication" in search
    )
    assert status == 200 and "duplicate-therapy" in rule_ids(body)

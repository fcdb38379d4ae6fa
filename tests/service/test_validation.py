"""Bad requests get 400 with an OperationOutcome naming the field, never echoing a value."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fhir_module.errors import InvalidRequest
from fhir_module.hooks import handle_hook
from fhir_module.knowledge import Knowledge

from ._requests import PATIENT_ID, TOKEN, hook_request, mangle
from .conftest import TestClient

SIGN = "/cds-services/medication-safety-order-sign"
SELECT = "/cds-services/medication-safety-order-select"
Edit = Callable[[dict[str, Any]], Any]


def _del(*path: str) -> Edit:
    def edit(request: dict[str, Any]) -> None:
        target = request
        for part in path[:-1]:
            target = target[part]
        del target[path[-1]]

    return edit


def _set(value: Any, *path: str | int) -> Edit:
    def edit(request: dict[str, Any]) -> None:
        target: Any = request
        for part in path[:-1]:
            target = target[part]
        target[path[-1]] = value

    return edit


CASES = [
    # (edit, expression, issue code)
    (_del("hook"), "hook", "required"),
    (_del("hookInstance"), "hookInstance", "required"),
    (_del("context"), "context", "required"),
    (_del("context", "patientId"), "context.patientId", "required"),
    (_del("context", "userId"), "context.userId", "required"),
    (_del("context", "draftOrders"), "context.draftOrders", "required"),
    (_del("context", "selections"), "context.selections", "required"),
    (_del("fhirAuthorization", "access_token"), "fhirAuthorization.access_token", "required"),
    (_del("fhirAuthorization", "subject"), "fhirAuthorization.subject", "required"),
    (_del("fhirServer"), None, "invalid"),
    (_set(42, "hookInstance"), "hookInstance", "structure"),
    (_set(" ", "hookInstance"), "hookInstance", "invalid"),
    (_set(4711, "context", "patientId"), "context.patientId", "structure"),
    (_set("MedicationRequest/mr-1", "context", "selections"), "context.selections", "structure"),
    (_set([7], "context", "selections"), "context.selections[0]", "structure"),
    (_set([], "context", "draftOrders"), "context.draftOrders", "structure"),
    (
        _set({"resourceType": "Parameters"}, "context", "draftOrders"),
        "context.draftOrders.resourceType",
        "invalid",
    ),
    (
        _set({"resource": 3}, "context", "draftOrders", "entry", 0),
        "context.draftOrders.entry[0].resource",
        "structure",
    ),
    (_set("ftp://ehr.example.org", "fhirServer"), "fhirServer", "invalid"),
    (_set("MAC", "fhirAuthorization", "token_type"), "fhirAuthorization.token_type", "invalid"),
    (_set("300", "fhirAuthorization", "expires_in"), "fhirAuthorization.expires_in", "structure"),
    (_set([], "prefetch"), "prefetch", "structure"),
    (_set("Patient/1", "prefetch", "patient"), "prefetch.patient", "structure"),
    (_set({"resourceType": "Observation"}, "prefetch", "patient"), "prefetch.patient", "invalid"),
    (_set("order-sign", "hook"), "hook", "invalid"),
]


@pytest.mark.parametrize("edit, expression, code", CASES)
def test_a_bad_request_gets_400_naming_the_field(
    client: TestClient, edit: Edit, expression: str | None, code: str
) -> None:
    request = hook_request("order-select")
    edit(request)
    response = client.post(SELECT, json=request)
    assert response.status_code == 400
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    (issue,) = outcome["issue"]
    assert issue["severity"] == "error" and issue["code"] == code
    assert issue.get("expression") == ([expression] if expression else None)
    assert PATIENT_ID not in response.text and TOKEN not in response.text


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"",
        b"[1, 2]",
        b'"text"',
        b"NaN",
        b'{"hook": NaN}',
        b"[" * 100_000,
        "\u00e9".encode("latin-1"),
    ],
)
def test_a_body_that_is_not_a_json_object_gets_400(client: TestClient, body: bytes) -> None:
    response = client.post(SIGN, content=body)
    assert response.status_code == 400
    assert response.json()["issue"][0]["code"] == "structure"


def test_an_unknown_service_gets_404(client: TestClient) -> None:
    response = client.post("/cds-services/no-such-service", json=hook_request())
    assert response.status_code == 404
    assert response.json()["issue"][0]["code"] == "not-found"
    assert (
        client.post("/cds-services/no-such-service/feedback", json={"feedback": []}).status_code
        == 404
    )


def test_untidy_but_valid_requests_pass(client: TestClient) -> None:
    request = hook_request()
    del request["context"]["draftOrders"]["type"]
    request["extension"] = {"org.example.anything": True}
    request["context"]["encounterId"] = "enc-1"
    request["fhirAuthorization"]["token_type"] = "bearer"
    assert client.post(SIGN, json=request).status_code == 200


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=12,
)
FIELDS = st.sampled_from(
    [
        "hook",
        "hookInstance",
        "context",
        "prefetch",
        "fhirServer",
        "patientId",
        "draftOrders",
        "selections",
        "entry",
        "resource",
        "dosageInstruction",
        "doseAndRate",
        "patient",
    ]
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path=st.lists(FIELDS, min_size=1, max_size=4), value=JSON)
def test_no_mangled_request_breaks_the_pipeline(
    knowledge: Knowledge, path: list[str], value: Any
) -> None:
    """Whatever a field is replaced by, the answer is a response or InvalidRequest."""
    request = hook_request("order-select", server=False)
    mangle(request, path, value)
    try:
        response = handle_hook(knowledge, "medication-safety-order-select", json.dumps(request))
    except InvalidRequest:
        return
    except Exception as exc:  # the data layer may say 412; anything else is a bug
        assert type(exc).__name__ == "FetchFailed", repr(exc)
        return
    assert isinstance(response["cards"], list)


ORDER_PATHS = st.sampled_from(
    [
        ("status",),
        ("subject",),
        ("authoredOn",),
        ("medicationCodeableConcept",),
        ("medicationCodeableConcept", "text"),
        ("medicationReference",),
        ("dosageInstruction",),
        ("dosageInstruction", 0),
        ("dosageInstruction", 0, "route"),
        ("dosageInstruction", 0, "timing"),
        ("dosageInstruction", 0, "timing", "repeat"),
        ("dosageInstruction", 0, "timing", "repeat", "frequency"),
        ("dosageInstruction", 0, "timing", "repeat", "periodUnit"),
        ("dosageInstruction", 0, "doseAndRate"),
        ("dosageInstruction", 0, "doseAndRate", 0),
        ("dosageInstruction", 0, "doseAndRate", 0, "doseQuantity"),
        ("dosageInstruction", 0, "doseAndRate", 0, "doseQuantity", "value"),
        ("dosageInstruction", 0, "doseAndRate", 0, "doseQuantity", "unit"),
    ]
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path=ORDER_PATHS, value=JSON)
def test_no_mangled_order_breaks_the_pipeline(
    knowledge: Knowledge, path: tuple[Any, ...], value: Any
) -> None:
    """Real EHR orders are untidy: whatever a field holds, the answer is cards, not a crash."""
    request = hook_request("order-sign", server=False)
    target: Any = request["context"]["draftOrders"]["entry"][0]["resource"]
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    response = handle_hook(knowledge, "medication-safety-order-sign", request)
    assert isinstance(response["cards"], list)

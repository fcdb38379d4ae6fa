"""The dose work of one hook call is bounded: dosage instructions and their dose and timing
entries, over the draft orders and the patient's own, beyond the limits get 413."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fhir_module.knowledge import Knowledge
from fhir_module.server import Settings, create_app

from ._requests import baclofen_order, full_prefetch, hook_request, other_order, rule_ids, searchset
from .conftest import TestClient

SIGN = "/cds-services/medication-safety-order-sign"
SELECT = "/cds-services/medication-safety-order-select"
WHERE = ["MedicationRequest.dosageInstruction"]


@pytest.fixture
def tight(settings: Settings, knowledge: Knowledge) -> Any:
    """A service that takes at most 4 dosage instructions and 8 dose and timing entries."""
    limited = dataclasses.replace(settings, max_dosages=4, max_dose_entries=8)
    with TestClient(create_app(limited, knowledge)) as client:
        yield client


def _dosages(order: dict[str, Any], count: int) -> dict[str, Any]:
    first = order["dosageInstruction"][0]
    order["dosageInstruction"] = [{**copy.deepcopy(first), "sequence": i + 1} for i in range(count)]
    return order


def _timing(key: str, count: int) -> Callable[[dict[str, Any]], None]:
    """Puts `count` entries in one of the lists the daily dose reads of the first dosage."""

    def put(order: dict[str, Any]) -> None:
        dosage = order["dosageInstruction"][0]
        if key == "doseAndRate":
            dosage["doseAndRate"] = dosage["doseAndRate"] * count
        elif key == "maxDosePerPeriod":
            cap = {
                "numerator": {"value": 60, "unit": "mg"},
                "denominator": {"value": 1, "unit": "d"},
            }
            dosage["maxDosePerPeriod"] = [cap] * count
        elif key == "event":
            dosage["timing"]["event"] = [f"2024-05-01T{h % 24:02d}:00:00Z" for h in range(count)]
        elif key == "coding":
            code = {
                "system": "http://terminology.hl7.org/CodeSystem/v3-GTSAbbreviation",
                "code": "TID",
            }
            dosage["timing"]["code"] = {"coding": [code] * count}
        else:
            values = {"timeOfDay": "08:00:00", "when": "MORN", "dayOfWeek": "mon"}
            dosage["timing"]["repeat"][key] = [values[key]] * count

    return put


@pytest.mark.parametrize(
    "key", ["doseAndRate", "maxDosePerPeriod", "event", "coding", "timeOfDay", "when", "dayOfWeek"]
)
def test_dose_and_timing_entries_beyond_the_limit_get_413(tight: TestClient, key: str) -> None:
    # the order's own doseAndRate entry counts: 8 in all is the limit
    at, beyond = baclofen_order(), baclofen_order()
    _timing(key, 7 if key != "doseAndRate" else 8)(at)
    _timing(key, 8 if key != "doseAndRate" else 9)(beyond)
    assert tight.post(SIGN, json=hook_request("order-sign", at)).status_code == 200
    response = tight.post(SIGN, json=hook_request("order-sign", beyond))
    assert response.status_code == 413
    issue = response.json()["issue"][0]
    assert issue["code"] == "too-costly" and issue["expression"] == WHERE
    assert "8 dose and timing entries" in issue["diagnostics"]


@pytest.mark.parametrize(
    "orders",
    [
        [_dosages(baclofen_order("mr-1"), 5)],
        [baclofen_order(f"mr-{i}") for i in range(5)],
        [_dosages(baclofen_order("mr-1"), 3), _dosages(baclofen_order("mr-2"), 2)],
    ],
    ids=["one order", "five orders", "two orders"],
)
def test_dosage_instructions_beyond_the_limit_get_413(
    tight: TestClient, orders: list[dict[str, Any]]
) -> None:
    for path, hook in ((SIGN, "order-sign"), (SELECT, "order-select")):
        response = tight.post(path, json=hook_request(hook, *orders))
        assert response.status_code == 413, hook
        issue = response.json()["issue"][0]
        assert issue["code"] == "too-costly" and issue["expression"] == WHERE
        assert "more than 4" in issue["diagnostics"]


def test_the_patients_own_orders_count_too(tight: TestClient) -> None:
    active = []
    for i in range(3):
        past = baclofen_order(f"active-{i}")
        past["status"] = "active"
        active.append(past)
    prefetch = full_prefetch()
    prefetch["medications"] = searchset(*active)
    two = [baclofen_order("mr-1"), baclofen_order("mr-2")]
    response = tight.post(SIGN, json=hook_request("order-sign", *two, prefetch=prefetch))
    assert response.status_code == 413
    prefetch["medications"] = searchset(*active[:2])
    response = tight.post(SIGN, json=hook_request("order-sign", *two, prefetch=prefetch))
    assert response.status_code == 200 and "duplicate-therapy" in rule_ids(response.json())


@pytest.mark.parametrize("where", ["medications", "draftOrders", "own key"])
def test_the_patients_own_orders_naming_a_medication_count_too(
    tight: TestClient, where: str
) -> None:
    # The active orders name their drug only through a Medication of the call: they are
    # counted as the engine resolves them.
    medication = {
        "resourceType": "Medication",
        "id": "bac-10",
        "code": {"text": "baclofen 10 MG Oral Tablet"},
    }
    active = []
    for i in range(3):
        past = baclofen_order(f"active-{i}")
        del past["medicationCodeableConcept"]
        past.update(status="active", medicationReference={"reference": "Medication/bac-10"})
        active.append(past)
    prefetch = full_prefetch()
    two = [baclofen_order("mr-1"), baclofen_order("mr-2")]
    request = hook_request("order-sign", *two, prefetch=prefetch)
    if where == "medications":
        prefetch["medications"] = searchset(*active, medication)
    else:
        prefetch["medications"] = searchset(*active)
        if where == "draftOrders":
            request["context"]["draftOrders"]["entry"].append({"resource": medication})
        else:
            prefetch["medication"] = medication
    response = tight.post(SIGN, json=request)
    assert response.status_code == 413
    assert response.json()["issue"][0]["expression"] == WHERE
    prefetch["medications"]["entry"] = [
        e for e in prefetch["medications"]["entry"] if e["resource"]["id"] != "active-2"
    ]
    response = tight.post(SIGN, json=request)
    assert response.status_code == 200 and "duplicate-therapy" in rule_ids(response.json())


def test_orders_of_other_drugs_are_not_counted(tight: TestClient) -> None:
    others = []
    for i in range(6):
        other = other_order()
        other.update(id=f"amox-{i}", dosageInstruction=[{"text": "500 mg"}] * 3)
        others.append(other)
    response = tight.post(SIGN, json=hook_request("order-sign", *others))
    assert response.status_code == 200 and response.json() == {"cards": []}
    response = tight.post(SIGN, json=hook_request("order-sign", baclofen_order(), *others))
    assert response.status_code == 200 and rule_ids(response.json())


def test_the_default_limits_refuse_a_thousand_orders_of_two_instructions(
    client: TestClient,
) -> None:
    assert Settings().max_dosages == 1000 and Settings().max_dose_entries == 2000
    orders = [_dosages(baclofen_order(f"mr-{i}"), 2) for i in range(1000)]
    request = hook_request("order-sign", *orders)
    response = client.post(SIGN, json=request)
    assert response.status_code == 413
    assert response.json()["issue"][0]["expression"] == WHERE


def test_many_orders_judged_together_stop_each_active_order_once(
    tmp_path: Path, knowledge: Knowledge
) -> None:
    # 300 drafts of one route and 300 active orders: one duplicate-therapy card whose
    # suggestion stops each active order once (each draft's card names them all).
    settings = Settings(db_path=tmp_path / "db.sqlite3")
    active = []
    for i in range(300):
        past = baclofen_order(f"active-{i}", mg=5, per_day=1)
        past.update(status="active", authoredOn="2024-04-01")
        active.append(past)
    prefetch = full_prefetch()
    prefetch["medications"] = searchset(*active)
    drafts = [baclofen_order(f"mr-{i}", mg=5, per_day=1) for i in range(300)]
    with TestClient(create_app(settings, knowledge)) as client:
        response = client.post(SIGN, json=hook_request("order-sign", *drafts, prefetch=prefetch))
    assert response.status_code == 200
    cards = [
        c for c in response.json()["cards"] if c["source"]["topic"]["code"] == "duplicate-therapy"
    ]
    assert len(cards) == 1
    (suggestion,) = cards[0]["suggestions"]
    stopped = [ref for a in suggestion["actions"] for ref in a["resourceId"]]
    assert stopped == [f"MedicationRequest/active-{i}" for i in range(300)]


def test_the_work_limits_come_from_the_environment() -> None:
    env = {"FHIR_MODULE_MAX_DOSAGES": "7", "FHIR_MODULE_MAX_DOSE_ENTRIES": "9"}
    settings = Settings.from_env(env)
    assert (settings.max_dosages, settings.max_dose_entries) == (7, 9)
    assert Settings.from_env(settings.to_env()) == settings


@pytest.mark.parametrize(
    "env",
    [
        {"FHIR_MODULE_MAX_DOSAGES": "0"},
        {"FHIR_MODULE_MAX_DOSE_ENTRIES": "-1"},
        {"FHIR_MODULE_MAX_DOSAGES": "many"},
    ],
)
def test_bad_work_limits_are_refused(env: dict[str, str]) -> None:
    from fhir_module.errors import ConfigError

    with pytest.raises(ConfigError):
        Settings.from_env(env)

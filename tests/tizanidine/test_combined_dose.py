"""The draft plus the active tizanidine orders on record against the daily maximum: an order
on record whose dose cannot be computed is said, not left out; an order the draft replaces
is not added to it; proposals and plans are not orders being taken."""

from __future__ import annotations

import copy
import json
from datetime import date
from typing import Any

import pytest

from fhir_module import evaluate
from fhir_module.knowledge import Knowledge

from .conftest import ROOT

EXAMPLES = ROOT / "examples" / "tizanidine"
DAY = date(2026, 11, 26)


def _request(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((EXAMPLES / f"{name}.request.json").read_text())
    return document


def _draft(request: dict[str, Any]) -> dict[str, Any]:
    resource: dict[str, Any] = request["context"]["draftOrders"]["entry"][0]["resource"]
    return resource


def _on_record(request: dict[str, Any]) -> dict[str, Any]:
    resource: dict[str, Any] = request["prefetch"]["medications"]["entry"][0]["resource"]
    return resource


def _rules(terms: Knowledge, request: dict[str, Any]) -> list[str]:
    answer = evaluate(request, knowledge=terms, today=DAY)
    return [c["source"]["topic"]["code"] for c in answer["cards"]]


def test_the_draft_and_the_active_order_are_above_the_maximum(terms: Knowledge) -> None:
    assert _rules(terms, _request("order-sign-combined-max-daily-dose")) == [
        "combined-max-daily-dose"
    ]


def test_an_active_order_whose_dose_cannot_be_computed_is_said(terms: Knowledge) -> None:
    answer = evaluate(_request("order-sign-combined-unchecked"), knowledge=terms, today=DAY)
    [card] = answer["cards"]
    assert card["source"]["topic"]["code"] == "combined-unchecked"
    assert card["indicator"] == "warning"
    assert "MedicationRequest/mr-t-old (active order of 2026-11-10)" in card["detail"]
    assert "the dosage gives no dose" in card["detail"]
    assert "36 mg/day" in card["detail"]


@pytest.mark.parametrize(
    "reference",
    [
        "MedicationRequest/mr-t-old",
        "https://ehr.example.org/fhir/MedicationRequest/mr-t-old",
        "MedicationRequest/mr-t-old/_history/3",
    ],
)
@pytest.mark.parametrize(
    "example", ["order-sign-combined-max-daily-dose", "order-sign-combined-unchecked"]
)
def test_an_order_the_draft_replaces_is_not_added_to_it(
    terms: Knowledge, example: str, reference: str
) -> None:
    request = _request(example)
    _draft(request)["priorPrescription"] = {"reference": reference}
    assert _rules(terms, request) == []


def test_an_order_another_order_replaces_still_counts(terms: Knowledge) -> None:
    request = _request("order-sign-combined-max-daily-dose")
    _draft(request)["priorPrescription"] = {"reference": "MedicationRequest/mr-t-older"}
    assert _rules(terms, request) == ["combined-max-daily-dose"]


def test_the_draft_stored_as_active_is_not_added_to_itself(terms: Knowledge) -> None:
    """An EHR that stores the order being signed returns it among the patient's orders."""
    request = _request("order-sign-combined-max-daily-dose")
    stored = copy.deepcopy(_draft(request))
    stored["status"] = "active"
    _on_record(request).update(stored)
    assert _rules(terms, request) == []


@pytest.mark.parametrize("intent", ["proposal", "plan"])
def test_a_proposal_or_plan_is_not_added(terms: Knowledge, intent: str) -> None:
    for example in ("order-sign-combined-max-daily-dose", "order-sign-combined-unchecked"):
        request = _request(example)
        _on_record(request)["intent"] = intent
        assert _rules(terms, request) == [], example


@pytest.mark.parametrize("intent", ["original-order", "reflex-order", "filler-order"])
def test_real_orders_of_every_intent_are_added(terms: Knowledge, intent: str) -> None:
    request = _request("order-sign-combined-max-daily-dose")
    _on_record(request)["intent"] = intent
    assert _rules(terms, request) == ["combined-max-daily-dose"]


def _without_route(order: dict[str, Any], route: Any = None) -> None:
    """The order coded by the ingredient alone (no form to imply a route), its route removed
    or replaced by one no route ValueSet classifies."""
    order["medicationCodeableConcept"] = {
        "coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "57258"}]
    }
    for instruction in order["dosageInstruction"]:
        instruction.pop("route", None)
        if route is not None:
            instruction["route"] = route


#: a local route code with a text no route ValueSet names
LOCAL_ROUTE = {
    "coding": [{"system": "urn:oid:1.2.840.114350.1.13.0", "code": "99"}],
    "text": "Per protocol",
}


@pytest.mark.parametrize(
    ("route", "said"),
    [
        (None, "its route is not known, so it may be given by this route"),
        (LOCAL_ROUTE, "it may be given by this route"),
    ],
)
def test_an_active_order_of_no_known_route_may_be_of_this_route_and_is_said(
    terms: Knowledge, route: Any, said: str
) -> None:
    request = _request("order-sign-combined-max-daily-dose")
    _without_route(_on_record(request), route)
    answer = evaluate(request, knowledge=terms, today=DAY)
    [card] = answer["cards"]
    assert card["source"]["topic"]["code"] == "combined-unchecked"
    assert "MedicationRequest/mr-t-old (active order of 2026-11-10)" in card["detail"]
    assert said in card["detail"]


def test_a_baclofen_order_on_record_of_no_known_route_is_a_duplicate_not_a_new_start(
    terms: Knowledge,
) -> None:
    request = json.loads(
        (ROOT / "examples" / "order-sign-duplicate-therapy.request.json").read_text()
    )
    on_record = request["prefetch"]["medications"]["entry"][0]["resource"]
    on_record["medicationCodeableConcept"] = {
        "coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "1292"}]
    }
    for instruction in on_record["dosageInstruction"]:
        instruction.pop("route", None)
    rules = _rules(terms, request)
    assert "duplicate-therapy" in rules and "starting-dose" not in rules

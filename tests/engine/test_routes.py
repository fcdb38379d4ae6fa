"""A route the order states is never replaced by the product's usual route; a stated route the
module cannot classify gets a warning card naming it."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from fhir_module import evaluate
from fhir_module.dosing import DoseUnknown, daily_dose

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
DAY = date(2026, 11, 26)
SCT = "http://snomed.info/sct"
EDQM = "http://standardterms.edqm.eu"
V3 = "http://terminology.hl7.org/CodeSystem/v3-RouteOfAdministration"
INTRATHECAL_2000 = {
    "coding": [
        {
            "system": "http://www.nlm.nih.gov/research/umls/rxnorm",
            "code": "1666613",
            "display": "20 ML baclofen 2 MG/ML Injection",
        }
    ]
}
TABLET_10 = {
    "coding": [
        {
            "system": "http://www.nlm.nih.gov/research/umls/rxnorm",
            "code": "197391",
            "display": "baclofen 10 MG Oral Tablet",
        }
    ]
}


def request(route: dict[str, Any] | None, medication: dict[str, Any]) -> Any:
    """An adult's baclofen order (the injection-route example) with this product and route."""
    req = json.loads((EXAMPLES / "order-sign-injection-route.request.json").read_text())
    order = req["context"]["draftOrders"]["entry"][0]["resource"]
    order["medicationCodeableConcept"] = medication
    dosage = order["dosageInstruction"][0]
    dosage.pop("text", None)
    if route is None:
        dosage.pop("route", None)
    else:
        dosage["route"] = route
    return req


def cards(route: dict[str, Any] | None, medication: dict[str, Any]) -> dict[str, Any]:
    response = evaluate(request(route, medication), today=DAY)
    return {c["source"]["topic"]["code"]: c for c in response["cards"]}


@pytest.mark.parametrize(
    "route",
    [
        {"text": "SubQ"},
        {"text": "subcut."},
        {"text": "intraveineuse"},
        {"text": "i.v. Infusion"},
        {"text": "IV push"},
        {"text": "Sous-cutanée"},
        {"text": "vía intravenosa"},
        {"coding": [{"system": V3, "code": "IVPUSH"}]},
        {"coding": [{"system": SCT, "code": "58100008", "display": "Intra-arterial route"}]},
        {"coding": [{"system": EDQM, "code": "20066000"}], "text": "s.c."},
    ],
    ids=lambda r: r.get("text") or r["coding"][0]["code"],
)
def test_an_intrathecal_product_by_another_injection_route_is_contraindicated(
    route: dict[str, Any],
) -> None:
    found = cards(route, INTRATHECAL_2000)
    assert found["injection-route"]["indicator"] == "critical"
    assert "intrathecal-test-dose" not in found


@pytest.mark.parametrize(
    ("route", "named"),
    [
        ({"coding": [{"system": SCT, "code": "37161004", "display": "Per rectum"}]}, "Per rectum"),
        ({"coding": [{"system": SCT, "code": "418136008"}]}, "http://snomed.info/sct 418136008"),
        ({"text": "via PEG tube"}, "via PEG tube"),
        ({"text": "i.th. Pumpe"}, "i.th. Pumpe"),
    ],
)
def test_a_stated_route_that_cannot_be_classified_is_said_not_replaced(
    route: dict[str, Any], named: str
) -> None:
    for product in (INTRATHECAL_2000, TABLET_10):
        found = cards(route, product)
        card = found["route-unrecognised"]
        assert card["indicator"] == "warning"
        assert named in card["summary"] + card["detail"]
        assert "maxima" in card["detail"]
        # The product's route was not put in its place, and only one card says so.
        assert not {"intrathecal-test-dose", "starting-dose", "dose-unverifiable"} & set(found)


def test_with_no_route_stated_the_product_stands_in_and_the_card_says_so() -> None:
    found = cards(None, INTRATHECAL_2000)  # 1 mg/day: above the usual intrathecal range
    assert "route-unrecognised" not in found and "intrathecal-test-dose" in found
    detail = found["intrathecal-above-usual"]["detail"]
    assert "route not stated: intrathecal from the product" in detail


@pytest.mark.parametrize(
    ("route", "category_card"),
    [
        ({"text": "intrathécale"}, "intrathecal-test-dose"),
        ({"text": "Intrathekal"}, "intrathecal-test-dose"),
        ({"coding": [{"system": V3, "code": "ITINJ"}]}, "intrathecal-test-dose"),
    ],
)
def test_spellings_in_other_languages_are_recognised(
    route: dict[str, Any], category_card: str
) -> None:
    found = cards(route, INTRATHECAL_2000)
    assert category_card in found and "route-unrecognised" not in found


def test_a_recognised_and_an_unrecognised_route_in_one_order_are_mixed_routes(
    knowledge: Any,
) -> None:
    order = request({"coding": [{"system": SCT, "code": "47625008"}]}, INTRATHECAL_2000)
    order = order["context"]["draftOrders"]["entry"][0]["resource"]
    second = json.loads(json.dumps(order["dosageInstruction"][0]))
    second["route"] = {"text": "per PEG"}
    order["dosageInstruction"].append(second)
    dose = daily_dose(order, knowledge)
    assert isinstance(dose, DoseUnknown) and dose.route == "other-injection"
    assert "different routes" in dose.reason
    assert any("'per PEG'" in note for note in dose.assumptions)


@pytest.mark.parametrize(
    ("name", "route"),
    [
        ("BACLOFENE 10 mg, comprimé sécable", "oral"),
        ("Baclofen-ratiopharm 25 mg Tabletten", "oral"),
        ("Baclofeno 10 mg comprimidos", "oral"),
        ("Baclofène intrathécale 0,05 mg/ml, solution injectable", "intrathecal"),
        ("Lioresal Intrathekal 0,05 mg/ml Injektionslösung", "intrathecal"),
        ("baclofen 10 mg", "unknown"),
    ],
)
def test_with_no_route_stated_a_name_in_another_language_implies_it(
    knowledge: Any, name: str, route: str
) -> None:
    order = request(None, {"text": name})["context"]["draftOrders"]["entry"][0]["resource"]
    dose = daily_dose(order, knowledge)
    assert dose.route == route
    if route != "unknown":
        assert any(f"route not stated: {route} from the name" in a for a in dose.assumptions)


def test_an_unrecognised_route_card_also_says_when_the_dose_cannot_be_read() -> None:
    req = request({"text": "via PEG tube"}, TABLET_10)
    dosage = req["context"]["draftOrders"]["entry"][0]["resource"]["dosageInstruction"][0]
    dosage["doseAndRate"][0]["doseQuantity"] = {"value": 2, "unit": "puff"}
    found = {c["source"]["topic"]["code"]: c for c in evaluate(req, today=DAY)["cards"]}
    assert "dose-unverifiable" not in found
    assert (
        "nor could the daily dose be computed: the dose unit 'puff'"
        in found["route-unrecognised"]["detail"]
    )


@pytest.mark.parametrize(
    ("code", "card"),
    [
        ("127492001", "max-daily-dose"),  # nasogastric: the oral maximum applies
        ("127490009", "max-daily-dose"),  # gastrostomy
        ("418114005", "injection-route"),  # intravenous central
        ("417255000", "injection-route"),  # intraosseous
    ],
)
def test_snomed_route_codes_of_the_fhir_route_value_set(code: str, card: str) -> None:
    req = request({"coding": [{"system": SCT, "code": code}]}, TABLET_10)
    dosage = req["context"]["draftOrders"]["entry"][0]["resource"]["dosageInstruction"][0]
    dosage["doseAndRate"][0]["doseQuantity"] = {"value": 120, "unit": "mg", "code": "mg"}
    found = {c["source"]["topic"]["code"] for c in evaluate(req, today=DAY)["cards"]}
    assert card in found and "route-unrecognised" not in found


@pytest.mark.parametrize(
    "medication", [{"text": "baclofen 10 mg"}, {"text": "baclofen"}], ids=lambda m: m["text"]
)
def test_a_route_that_cannot_be_inferred_is_one_sentence_in_the_card(
    medication: dict[str, Any],
) -> None:
    card = cards(None, medication)["dose-unverifiable"]
    assert "the route is not given and cannot be inferred" in card["detail"]
    assert "could be applied." in card["detail"]
    assert ".." not in card["detail"] and ": The" not in card["detail"]

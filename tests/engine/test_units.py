"""The units real clients send: {pill}-style annotations, EDQM units of presentation, volumes
beyond mL; a unit that is truly unknown stays 'dose-unverifiable'."""

from __future__ import annotations

import copy
import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from fhir_module import evaluate
from fhir_module.dosing import DailyDose, DoseUnknown, daily_dose
from fhir_module.knowledge import Knowledge

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
DAY = date(2026, 11, 26)
RX = "http://www.nlm.nih.gov/research/umls/rxnorm"
UCUM = "http://unitsofmeasure.org"
EDQM = "http://standardterms.edqm.eu"
TABLET_20 = {"system": RX, "code": "197392", "display": "baclofen 20 MG Oral Tablet"}
IT_2000 = {"system": RX, "code": "1666613", "display": "20 ML baclofen 2 MG/ML Injection"}


def sandbox_order(count: float, per_day: int, quantity: dict[str, Any] | None = None) -> Any:
    """A MedicationRequest as the CDS Hooks sandbox sends it: an RxNorm product, '{pill}' with
    no unit text, a daily frequency, no route."""
    return {
        "resourceType": "MedicationRequest",
        "id": "request-123",
        "status": "draft",
        "intent": "order",
        "subject": {"reference": "Patient/pat-1"},
        "authoredOn": "2026-11-26",
        "medicationCodeableConcept": {"text": TABLET_20["display"], "coding": [TABLET_20]},
        "dosageInstruction": [
            {
                "text": f"{count} {{pill}} {per_day} times daily",
                "doseAndRate": [
                    {"doseQuantity": quantity or {"value": count, "system": UCUM, "code": "{pill}"}}
                ],
                "timing": {"repeat": {"frequency": per_day, "period": 1, "periodUnit": "d"}},
            }
        ],
    }


def request(order: dict[str, Any]) -> Any:
    req = json.loads((EXAMPLES / "order-sign-injection-route.request.json").read_text())
    req["context"]["draftOrders"]["entry"] = [{"resource": order}]
    return req


def rules(order: dict[str, Any]) -> set[str]:
    return {c["source"]["topic"]["code"] for c in evaluate(request(order), today=DAY)["cards"]}


def test_the_sandbox_overdose_is_flagged_and_a_normal_order_is_quiet() -> None:
    assert "max-daily-dose" in rules(sandbox_order(2, 4))  # 2 x 20 mg x 4 = 160 mg/day
    assert "dose-unverifiable" not in rules(sandbox_order(1, 3))  # 60 mg/day


SOLID = [
    ({"value": 2, "system": UCUM, "code": "{pill}"}, "160"),
    ({"value": 2, "system": UCUM, "code": "{tab}"}, "160"),
    ({"value": 2, "system": UCUM, "code": "{tablet}"}, "160"),
    ({"value": 2, "system": UCUM, "code": "{capsule}"}, "160"),
    ({"value": 2, "system": UCUM, "code": "{tbl}"}, "160"),
    ({"value": 2, "unit": "Comprimé", "system": EDQM, "code": "15054000"}, "160"),
    ({"value": 2, "unit": "Tablet", "system": EDQM, "code": "15054000"}, "160"),
    ({"value": 2, "unit": "pills"}, "160"),
    ({"value": 2, "unit": "Tabletten"}, "160"),
]


@pytest.mark.parametrize(("quantity", "mg"), SOLID, ids=[str(q) for q, _ in SOLID])
def test_solid_units_of_presentation(
    knowledge: Knowledge, quantity: dict[str, Any], mg: str
) -> None:
    order = sandbox_order(2, 4, quantity)
    dose = daily_dose(order, knowledge)
    assert isinstance(dose, DailyDose) and dose.mg_per_day == Decimal(mg)
    assert "max-daily-dose" in rules(order)


def intrathecal(quantity: dict[str, Any], key: str = "doseQuantity") -> dict[str, Any]:
    order = sandbox_order(1, 1)
    order["medicationCodeableConcept"] = {"coding": [IT_2000]}
    order["dosageInstruction"][0]["doseAndRate"] = [{key: quantity}]
    if key == "rateQuantity":
        del order["dosageInstruction"][0]["timing"]
    return order


VOLUMES = [
    ({"value": 250, "unit": "uL", "system": UCUM, "code": "uL"}, "doseQuantity", "0.5"),
    ({"value": 250, "unit": "\u00b5L"}, "doseQuantity", "0.5"),
    ({"value": 0.0025, "unit": "dL", "system": UCUM, "code": "dL"}, "doseQuantity", "0.5"),
    ({"value": 0.00025, "unit": "L", "system": UCUM, "code": "L"}, "doseQuantity", "0.5"),
    ({"value": 20, "unit": "uL/h", "system": UCUM, "code": "uL/h"}, "rateQuantity", "0.96"),
]


@pytest.mark.parametrize(("quantity", "key", "mg"), VOLUMES, ids=[str(v[0]) for v in VOLUMES])
def test_volumes_beyond_ml_convert(
    knowledge: Knowledge, quantity: dict[str, Any], key: str, mg: str
) -> None:
    dose = daily_dose(intrathecal(copy.deepcopy(quantity), key), knowledge)
    assert isinstance(dose, DailyDose) and dose.mg_per_day == Decimal(mg), dose


@pytest.mark.parametrize(
    "quantity",
    [
        {"value": 2, "unit": "puff"},
        {"value": 2, "system": UCUM, "code": "{spray}"},
        {"value": 2, "system": EDQM, "code": "15047000"},  # not a tablet or capsule code
    ],
)
def test_a_truly_unknown_unit_stays_unverifiable(
    knowledge: Knowledge, quantity: dict[str, Any]
) -> None:
    order = sandbox_order(2, 4, quantity)
    assert isinstance(daily_dose(order, knowledge), DoseUnknown)
    assert "dose-unverifiable" in rules(order)


@pytest.mark.parametrize(
    ("name", "mg"),
    [
        ("BACLOFENE 10 mg, comprimé sécable", "80"),
        ("Baclofen-ratiopharm 25 mg Tabletten", "200"),
        ("Baclofeno 10 mg comprimidos EFG", "80"),
        ("Lioresal 10 mg compresse", "80"),
        ("baclofen 10 mg gélules", "80"),
    ],
)
def test_the_strength_is_read_from_names_in_other_languages(
    knowledge: Knowledge, name: str, mg: str
) -> None:
    order = sandbox_order(2, 4, {"value": 2, "system": UCUM, "code": "{tbl}"})
    order["medicationCodeableConcept"] = {"text": name}
    dose = daily_dose(order, knowledge)
    assert isinstance(dose, DailyDose) and dose.mg_per_day == Decimal(mg), dose


def test_a_german_eprescription_medication_with_edqm_by_its_oid(knowledge: Knowledge) -> None:
    """An ingredient-only Medication with its EDQM dose form and units sent under EDQM's OID,
    and no route: the route comes from the dose form, the strength from the ingredient."""
    oid = "urn:oid:0.4.0.127.0.16.1.1.2.1"
    medication = {
        "resourceType": "Medication",
        "id": "m1",
        "code": {"text": "Baclofen-ratiopharm 25 mg Tabletten"},
        "form": {"coding": [{"system": EDQM, "code": "10219000"}], "text": "Tablette"},
        "ingredient": [
            {
                "itemCodeableConcept": {
                    "coding": [{"system": "http://fdasis.nlm.nih.gov", "code": "H789N3FKE8"}]
                },
                "strength": {
                    "numerator": {"value": 25, "unit": "mg", "system": UCUM, "code": "mg"},
                    "denominator": {
                        "value": 1,
                        "unit": "Tablette",
                        "system": oid,
                        "code": "15054000",
                    },
                },
            }
        ],
    }
    order = sandbox_order(2, 4, {"value": 2, "unit": "Tablette", "system": oid, "code": "15054000"})
    del order["medicationCodeableConcept"]
    order["medicationReference"] = {"reference": "#m1"}
    order["contained"] = [medication]
    dose = daily_dose(order, knowledge)
    assert isinstance(dose, DailyDose) and dose.mg_per_day == 200 and dose.route == "oral"
    assert any("from the Medication's dose form" in a for a in dose.assumptions)


@pytest.mark.parametrize("system", [EDQM, "urn:oid:0.4.0.127.0.16.1.1.2.1"])
def test_an_ingredient_strength_per_edqm_tablet_with_no_unit_text(
    knowledge: Knowledge, system: str
) -> None:
    order = sandbox_order(2, 4, {"value": 2, "system": UCUM, "code": "{pill}"})
    del order["medicationCodeableConcept"]
    order["medicationReference"] = {"reference": "#m"}
    order["contained"] = [
        {
            "resourceType": "Medication",
            "id": "m",
            "code": {"text": "Baclofen"},
            "ingredient": [
                {
                    "itemCodeableConcept": {"text": "Baclofen"},
                    "strength": {
                        "numerator": {"value": 10, "system": UCUM, "code": "mg"},
                        "denominator": {"value": 1, "system": system, "code": "15054000"},
                    },
                }
            ],
        }
    ]
    dose = daily_dose(order, knowledge)
    assert isinstance(dose, DailyDose) and dose.mg_per_day == 80, dose

"""Dose forms that imply a route are knowledge: the form-<category> ValueSets."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from fhir_module import KnowledgeError, load_knowledge
from fhir_module.dosing import daily_dose
from fhir_module.knowledge import Knowledge, default_files

SCT = "http://snomed.info/sct"
EDQM = "http://standardterms.edqm.eu"


def _order(form: dict[str, Any]) -> dict[str, Any]:
    """A no-route order of 2 tablets three times a day, its Medication a form and an
    ingredient strength but no product code."""
    strength = {
        "numerator": {
            "value": 10,
            "unit": "mg",
            "system": "http://unitsofmeasure.org",
            "code": "mg",
        },
        "denominator": {"value": 1, "system": "http://unitsofmeasure.org", "code": "{tbl}"},
    }
    return {
        "resourceType": "MedicationRequest",
        "status": "draft",
        "intent": "order",
        "subject": {"reference": "Patient/p"},
        "contained": [
            {
                "resourceType": "Medication",
                "id": "m",
                "form": form,
                "ingredient": [
                    {
                        "itemCodeableConcept": {
                            "coding": [{"system": SCT, "code": "387342009", "display": "Baclofen"}]
                        },
                        "strength": strength,
                    }
                ],
            }
        ],
        "medicationReference": {"reference": "#m"},
        "dosageInstruction": [
            {
                "timing": {"repeat": {"frequency": 3, "period": 1, "periodUnit": "d"}},
                "doseAndRate": [
                    {
                        "doseQuantity": {
                            "value": 2,
                            "unit": "tablet",
                            "system": "http://unitsofmeasure.org",
                            "code": "{tbl}",
                        }
                    }
                ],
            }
        ],
    }


@pytest.mark.parametrize(
    ("system", "code", "route"),
    [
        (SCT, "385055001", "oral"),  # Tablet
        (SCT, "385049006", "oral"),  # Capsule
        (SCT, "385050006", "oral"),  # Hard capsule
        (SCT, "385023001", "oral"),  # Oral solution
        (EDQM, "10219000", "oral"),  # Tablet
        (EDQM, "10221000", "oral"),  # Film-coated tablet
        (EDQM, "10210000", "oral"),  # Capsule, hard
        (SCT, "385219001", "unknown"),  # Solution for injection: by several routes
        (EDQM, "11201000", "unknown"),  # Solution for injection
    ],
)
def test_a_standard_dose_form_implies_its_route(
    knowledge: Knowledge, system: str, code: str, route: str
) -> None:
    order = _order({"coding": [{"system": system, "code": code}]})
    dose = daily_dose(order, knowledge, order["contained"][0])
    assert dose.route == route
    if route != "unknown":
        assert any(f"route not stated: {route}" in a for a in dose.assumptions), dose


@pytest.fixture()
def copy(tmp_path: Path) -> Path:
    for path in default_files():
        shutil.copy(path, tmp_path / path.name)
    return tmp_path


def test_a_form_value_set_of_no_route_category_stops_loading(copy: Path) -> None:
    path = copy / "ValueSet-form-oral.json"
    vs = json.loads(path.read_text())
    vs["id"], vs["url"] = "form-nasal", vs["url"].replace("form-oral", "form-nasal")
    path.unlink()
    (copy / "ValueSet-form-nasal.json").write_text(json.dumps(vs))
    with pytest.raises(KnowledgeError, match="no ValueSet route-nasal defines that route"):
        load_knowledge(copy, include_default=False)


def test_a_product_whose_dose_form_implies_another_route_stops_loading(copy: Path) -> None:
    path = copy / "MedicationKnowledge-baclofen-50ug-per-ml-intrathecal.json"
    product = json.loads(path.read_text())
    product["doseForm"] = {"coding": [{"system": SCT, "code": "385055001"}]}
    path.write_text(json.dumps(product))
    with pytest.raises(KnowledgeError, match="385055001 implies route oral"):
        load_knowledge(copy, include_default=False)

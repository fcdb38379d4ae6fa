"""An interacting drug on the card is named as the order on record names it: a coding matched
by an ATC is-a filter, or a code the ValueSet lists without a display, is not the name when
the order gives a text or a display; the ValueSet's display, then the code, only after."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest

from fhir_module import evaluate
from fhir_module.facts import PatientRecord
from fhir_module.hooks import evaluate_hook
from fhir_module.knowledge import Knowledge

from ..engine.builders import context, order, patient
from .conftest import ROOT

RX = "http://www.nlm.nih.gov/research/umls/rxnorm"
ATC = "http://www.whocc.no/atc"
NDC = "http://hl7.org/fhir/sid/ndc"
TODAY = date(2026, 11, 26)
EXAMPLES = ROOT / "examples" / "tizanidine"
TABLET = {"coding": [{"system": RX, "code": "313412", "display": "tizanidine 2 MG Oral Tablet"}]}


def _titles(terms: Knowledge, *on_record: dict[str, Any], medications: Any = ()) -> list[str]:
    answer = evaluate_hook(
        terms,
        "order-sign",
        context(order("t", 2, 3, medication=TABLET)),
        PatientRecord(
            patient("1990-05-04"), medication_requests=on_record, medications=tuple(medications)
        ),
        today=TODAY,
    )
    return [c["summary"] for c in answer["cards"]]


def _active(rid: str, medication: dict[str, Any]) -> dict[str, Any]:
    found = order(rid, 1, 1, status="active", authored="2026-09-14")
    found["medicationCodeableConcept"] = medication
    return found


def test_a_contraceptive_matched_by_its_atc_class_is_named_by_the_order_display(
    terms: Knowledge,
) -> None:
    """An EHR's coding list: the ATC code (is-a G03AA) first, the RxNorm SCD with display."""
    yaz = {
        "coding": [
            {"system": ATC, "code": "G03AA12"},
            {
                "system": RX,
                "code": "748879",
                "display": "drospirenone 3 MG / ethinyl estradiol 0.02 MG Oral Tablet",
            },
        ]
    }
    [title] = [t for t in _titles(terms, _active("mr-yaz", yaz)) if "CYP1A2" in t]
    assert title.startswith(
        "Tizanidine with drospirenone 3 MG / ethinyl estradiol 0.02 MG Oral Tablet "
        "(CYP1A2 inhibitor)"
    )


def test_a_referenced_medication_is_named_by_its_code_text(terms: Knowledge) -> None:
    medication = {
        "resourceType": "Medication",
        "id": "med-889",
        "code": {"coding": [{"system": ATC, "code": "G03AB03"}], "text": "Trinordiol 21"},
    }
    on_record = order("mr-tri", 1, 1, status="active", authored="2026-09-14")
    del on_record["medicationCodeableConcept"]
    on_record["medicationReference"] = {"reference": "Medication/med-889"}
    titles = _titles(terms, on_record, medications=[medication])
    assert any(t.startswith("Tizanidine with Trinordiol 21 (CYP1A2 inhibitor)") for t in titles)


def test_a_listed_code_without_display_is_named_by_another_coding_of_the_order(
    terms: Knowledge,
) -> None:
    """RxNorm ingredient code as the EHR sends it, without display; the NDC with one."""
    cipro = {
        "coding": [
            {"system": RX, "code": "2551"},
            {"system": NDC, "code": "0143-9928-01", "display": "Ciprofloxacin 500 mg tablet"},
        ]
    }
    titles = _titles(terms, _active("mr-cip", cipro))
    assert (
        "Tizanidine with Ciprofloxacin 500 mg tablet: contraindicated (potent CYP1A2 inhibitor)"
        in titles
    )


def test_codes_alone_fall_back_to_the_value_set_display_then_the_code(terms: Knowledge) -> None:
    titles = _titles(
        terms,
        _active("mr-cip", {"coding": [{"system": RX, "code": "2551"}]}),
        _active("mr-oc", {"coding": [{"system": ATC, "code": "G03AA07"}]}),
    )
    assert "Tizanidine with ciprofloxacin: contraindicated (potent CYP1A2 inhibitor)" in titles
    assert any(t.startswith("Tizanidine with G03AA07 (CYP1A2 inhibitor)") for t in titles)


@pytest.mark.parametrize(
    "reference",
    [
        "Medication/med-x",  # no fhirServer to read it from
        "#med1",  # a contained Medication the draft does not contain
    ],
)
def test_another_draft_whose_medication_is_not_at_hand_leaves_the_check_incomplete(
    terms: Knowledge, reference: str
) -> None:
    request = json.loads((EXAMPLES / "order-sign-max-daily-dose.request.json").read_text())
    request.pop("fhirServer", None)
    request.pop("fhirAuthorization", None)
    other = {
        "resourceType": "MedicationRequest",
        "id": "mr-other",
        "status": "draft",
        "intent": "order",
        "subject": {"reference": "Patient/pat-1"},
        "medicationReference": {"reference": reference},
    }
    request["context"]["draftOrders"]["entry"].append({"resource": other})
    answer = evaluate(request, knowledge=terms, today=TODAY)
    cards = {c["source"]["topic"]["code"]: c for c in answer["cards"]}
    assert "interaction-unchecked" in cards
    assert f"{reference} (draft order in this request)" in cards["interaction-unchecked"]["detail"]

"""Orders, results and conditions coded by the codes the module's ValueSets list."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
import responses

from fhir_module.facts import PatientRecord
from fhir_module.hooks import Limits, evaluate_hook, handle_hook
from fhir_module.knowledge import Knowledge

from ..engine.builders import ORAL, context, order, patient
from .conftest import MODULE

RX = "http://www.nlm.nih.gov/research/umls/rxnorm"
ATC = "http://www.whocc.no/atc"
LOINC = "http://loinc.org"
SCT = "http://snomed.info/sct"
VS = "http://fhir-module.org/fhir/ValueSet/"
TODAY = date(2026, 11, 26)


def _coded(system: str, code: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code}]}


def _summaries(terms: Knowledge, *orders: dict[str, Any], **record: Any) -> list[str]:
    answer = evaluate_hook(
        terms,
        "order-sign",
        context(*orders),
        PatientRecord(patient("1970-01-01"), **record),
        today=TODAY,
    )
    return [c["summary"] for c in answer["cards"]]


def test_an_order_coded_by_the_rxnorm_ingredient_alone_is_tizanidine(terms: Knowledge) -> None:
    draft = order("t", 14, 3, medication=_coded(RX, "57258"), route=ORAL)
    assert _summaries(terms, draft) == ["Tizanidine 42 mg/day exceeds the 36 mg/day maximum"]


@pytest.mark.parametrize(
    ("system", "code"),
    [
        (RX, "6926"),  # mexiletine
        (RX, "40575"),  # zileuton
        (RX, "7623"),  # ofloxacin
        (RX, "703"),  # amiodarone
        (RX, "281"),  # acyclovir
        (RX, "11170"),  # verapamil
        (RX, "10594"),  # ticlopidine
        (RX, "4124"),  # ethinyl estradiol
        (RX, "6373"),  # levonorgestrel
        (RX, "7514"),  # norethindrone
        (ATC, "C01BB02"),  # mexiletine
        (ATC, "R03DC01"),  # zileuton
        (ATC, "J01MA01"),  # ofloxacin
    ],
)
def test_label_named_inhibitors_by_code(terms: Knowledge, system: str, code: str) -> None:
    assert terms.value_set(VS + "cyp1a2-other-inhibitors").has_coding(system, code)


def test_an_inhibitor_on_record_by_ingredient_code_gives_the_caution_card(
    terms: Knowledge,
) -> None:
    draft = order("t", 2, 3, medication=_coded(RX, "57258"))
    mexiletine = order(
        "m", 200, 3, medication=_coded(RX, "6926"), status="active", authored="2026-11-01"
    )
    summaries = _summaries(terms, draft, medication_requests=(mexiletine,))
    assert any("CYP1A2 inhibitor" in s for s in summaries), summaries


@pytest.mark.parametrize("code", ["35591-7", "88294-4", "50044-7", "70969-1"])
def test_kidney_function_codes(terms: Knowledge, code: str) -> None:
    assert terms.value_set(VS + "renal-function-observations").has_coding(LOINC, code)


@pytest.mark.parametrize("code", ["197315008", "328383001", "59927004"])
def test_liver_disease_codes(terms: Knowledge, code: str) -> None:
    assert terms.value_set(VS + "hepatic-disorders").has_coding(SCT, code)


def test_the_description_claims_no_recognition_of_unlisted_drugs() -> None:
    path = MODULE / "ValueSet-cyp1a2-other-inhibitors.json"
    text = json.loads(path.read_text())["description"]
    assert "still recognised by name" not in text
    assert "is not recognised" in text


def _egfr(value: float, when: str, **unit: str) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": f"egfr-{when}",
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": "98979-8"}], "text": "eGFR"},
        "effectiveDateTime": when,
        "valueQuantity": {"value": value, **unit},
    }


def test_a_later_unreadable_result_is_said_and_the_older_one_not_called_latest(
    terms: Knowledge,
) -> None:
    draft = order("t", 2, 3, medication=_coded(RX, "313412"))
    older = _egfr(18, "2026-06-02", unit="mL/min/1.73m2")  # read: unit text, no code
    later = _egfr(0.3, "2026-11-20", unit="mL/s/1.73m2", code="mL/s/{1.73_m2}")
    answer = evaluate_hook(
        terms,
        "order-sign",
        context(draft),
        PatientRecord(patient("1970-01-01"), observations=(older, later)),
        today=TODAY,
    )
    cards = {c["source"]["topic"]["code"]: c for c in answer["cards"]}
    assert set(cards) == {"renal-impairment", "renal-unreadable"}
    assert cards["renal-impairment"]["detail"].startswith("Latest readable kidney function")
    detail = cards["renal-unreadable"]["detail"]
    assert "eGFR in mL/s/{1.73_m2}" in detail
    assert "older: eGFR 18 mL/min/{1.73_m2} on 2026-06-02" in detail


def test_the_active_order_counts_toward_the_daily_maximum(terms: Knowledge) -> None:
    tablet = _coded(RX, "313413")
    active = order("a", 8, 3, medication=tablet, status="active", authored="2026-11-10")
    draft = order("t", 8, 3, medication=tablet)
    summaries = _summaries(terms, draft, medication_requests=(active,))
    assert summaries == [
        "Tizanidine 48 mg/day with the active order on record: above the 36 mg/day maximum"
    ]
    # A draft above the maximum alone gives the daily-maximum card only, not both.
    alone = order("t", 14, 3, medication=tablet)
    summaries = _summaries(terms, alone, medication_requests=(active,))
    assert "Tizanidine 42 mg/day exceeds the 36 mg/day maximum" in summaries
    assert not any("with the active order" in s for s in summaries)


def test_an_interacting_drug_coded_without_a_display_is_named_by_the_value_set(
    terms: Knowledge,
) -> None:
    draft = order("t", 2, 3, medication=_coded(RX, "313412"))
    cipro = order(
        "c", 500, 2, medication=_coded(RX, "2551"), status="active", authored="2026-11-20"
    )
    amiodarone = order(
        "a", 200, 1, medication=_coded(RX, "703"), status="active", authored="2026-11-01"
    )
    summaries = _summaries(terms, draft, medication_requests=(cipro, amiodarone))
    assert "Tizanidine with ciprofloxacin: contraindicated (potent CYP1A2 inhibitor)" in summaries
    assert any(s.startswith("Tizanidine with amiodarone (CYP1A2 inhibitor)") for s in summaries)
    assert not any("2551" in s or "703" in s for s in summaries)


SERVER = "https://ehr.example.org/fhir"
CIPRO_TABLET = {
    "resourceType": "Medication",
    "id": "med-4471",
    "code": {"coding": [{"system": RX, "code": "197511"}], "text": "Ciprofloxacin 500 mg tablet"},
    "ingredient": [{"itemCodeableConcept": _coded(RX, "2551")}],
}


def _request_with_referenced_order_on_record() -> dict[str, Any]:
    draft = order("t", 2, 3, medication=_coded(RX, "313412"))
    on_record = order("mr-ext", 500, 2, status="active", authored="2026-11-18")
    del on_record["medicationCodeableConcept"]
    on_record["medicationReference"] = {"reference": "Medication/med-4471"}
    empty = {"resourceType": "Bundle", "type": "searchset", "entry": []}
    return {
        "hookInstance": "0b6c3f1e-7d4a-4a57-9a51-3c2f0f1d2b10",
        "hook": "order-sign",
        "fhirServer": SERVER,
        "context": context(draft),
        "prefetch": {
            "patient": patient("1970-01-01"),
            "observations": empty,
            "conditions": empty,
            "medications": {**empty, "entry": [{"resource": on_record}]},
        },
    }


def test_a_medication_of_an_order_on_record_is_read_from_the_fhir_server(
    terms: Knowledge,
) -> None:
    with responses.RequestsMock() as rsps:
        rsps.get(f"{SERVER}/Medication/med-4471", json=CIPRO_TABLET)
        answer = handle_hook(terms, None, _request_with_referenced_order_on_record(), today=TODAY)
        assert [c.request.url for c in rsps.calls] == [f"{SERVER}/Medication/med-4471"]
    assert [c["summary"] for c in answer["cards"]] == [
        "Tizanidine with Ciprofloxacin 500 mg tablet: contraindicated (potent CYP1A2 inhibitor)"
    ]


def test_an_order_on_record_that_cannot_be_identified_says_the_check_is_incomplete(
    terms: Knowledge,
) -> None:
    with responses.RequestsMock() as rsps:
        rsps.get(f"{SERVER}/Medication/med-4471", status=404)
        answer = handle_hook(terms, None, _request_with_referenced_order_on_record(), today=TODAY)
    [card] = answer["cards"]
    assert card["source"]["topic"]["code"] == "interaction-unchecked"
    assert "Medication/med-4471 (active order of 2026-11-18)" in card["detail"]


def test_the_medication_of_a_live_order_is_read_before_those_of_finished_ones(
    terms: Knowledge,
) -> None:
    # Five completed or stopped orders on record, listed first, each naming a Medication the
    # call does not carry, then the active ciprofloxacin order: with three reads allowed, the
    # active order's Medication is read and judged; what is left unread is not live.
    request = _request_with_referenced_order_on_record()
    active = request["prefetch"]["medications"]["entry"][0]["resource"]
    finished = []
    for i in range(5):
        old = order(f"mr-old-{i}", 500, 2, status=("completed", "stopped")[i % 2])
        old["authoredOn"] = "2025-03-01"
        del old["medicationCodeableConcept"]
        old["medicationReference"] = {"reference": f"Medication/old-{i}"}
        finished.append({"resource": old})
    request["prefetch"]["medications"]["entry"] = [*finished, {"resource": active}]
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.get(f"{SERVER}/Medication/med-4471", json=CIPRO_TABLET)
        for i in range(5):
            rsps.get(f"{SERVER}/Medication/old-{i}", status=404)
        answer = handle_hook(terms, None, request, settings=Limits(max_pages=3), today=TODAY)
        urls = [c.request.url for c in rsps.calls]
    assert urls == [
        f"{SERVER}/Medication/med-4471",
        f"{SERVER}/Medication/old-0",
        f"{SERVER}/Medication/old-1",
    ]
    assert [c["summary"] for c in answer["cards"]] == [
        "Tizanidine with Ciprofloxacin 500 mg tablet: contraindicated (potent CYP1A2 inhibitor)"
    ]

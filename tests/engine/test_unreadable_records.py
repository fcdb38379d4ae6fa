"""Records a rule reads but cannot read are named (rule `record-unreadable`), never taken for
read. A Condition's clinical and verification status, however a feed codes it: FHIR's own
codes (R4 and the older system URLs, with or without a system, or the STU3 bare code), the
SNOMED CT problem statuses of C-CDA-derived feeds; a status that cannot be read is never
taken for "active" or for "not there". A status Observation whose latest value says neither
yes nor no is named too."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from fhir_module.facts import PatientRecord
from fhir_module.hooks import evaluate_hook
from fhir_module.knowledge import Knowledge, load_knowledge

from ..tizanidine.conftest import MODULE
from .builders import ORAL, context, order, patient

TODAY = date(2026, 11, 26)
SCT = "http://snomed.info/sct"
CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
EPIC_STATUS = "urn:oid:1.2.840.114350.1.13.0.1.7.4.698084.10005"


def coded(system: str | None, code: str, display: str | None = None) -> dict[str, Any]:
    coding: dict[str, Any] = {"code": code}
    if system is not None:
        coding["system"] = system
    if display is not None:
        coding["display"] = display
    return {"coding": [coding]}


def asthma(clinical: Any = None, verification: Any = None, **more: Any) -> dict[str, Any]:
    cond: dict[str, Any] = {
        "resourceType": "Condition",
        "id": "c-asthma",
        "code": coded("http://hl7.org/fhir/sid/icd-10-cm", "J45.909", "Asthma, uncomplicated"),
        "subject": {"reference": "Patient/p"},
        **more,
    }
    if clinical is not None:
        cond["clinicalStatus"] = clinical
    if verification is not None:
        cond["verificationStatus"] = verification
    return cond


def cards(knowledge: Knowledge, *conditions: dict[str, Any], draft: Any = None) -> dict[str, str]:
    """The rule of each card for a 15 mg/day baclofen order (or `draft`), by its detail."""
    draft = draft or order("b", 5, 3, route=ORAL)
    answer = evaluate_hook(
        knowledge,
        "order-sign",
        context(draft),
        PatientRecord(patient("1971-04-12"), conditions=conditions),
        today=TODAY,
    )
    return {c["source"]["topic"]["code"]: c["detail"] for c in answer["cards"]}


ACTIVE = coded(CLINICAL, "active")
CONFIRMED = coded(VERIFICATION, "confirmed")


@pytest.mark.parametrize(
    ("clinical", "verification"),
    [
        (ACTIVE, CONFIRMED),
        (ACTIVE, None),  # many feeds send no verificationStatus
        (coded(CLINICAL, "relapse"), coded(SCT, "410605003", "Confirmed present")),
        (coded(SCT, "55561003", "Active"), coded(SCT, "410605003")),
        (coded(SCT, "55561003", "Active"), None),
        (coded(None, "recurrence"), coded(None, "confirmed")),  # no system: the bound one
        (coded("http://hl7.org/fhir/condition-clinical", "active"), None),  # the STU3 URL
        ("active", "confirmed"),  # the STU3 shape: a bare code
        # a local code beside the standard one: the standard one is read
        ({"coding": [*ACTIVE["coding"], {"system": EPIC_STATUS, "code": "1"}]}, None),
    ],
)
def test_an_active_condition_however_coded_fires_the_rule(
    knowledge: Knowledge, clinical: Any, verification: Any
) -> None:
    found = cards(knowledge, asthma(clinical, verification))
    assert set(found) == {"respiratory-disease"}
    assert "Asthma, uncomplicated" in found["respiratory-disease"]


@pytest.mark.parametrize(
    ("clinical", "verification", "more"),
    [
        (coded(SCT, "73425007", "Inactive"), None, {}),
        (coded(SCT, "413322009", "Problem resolved"), CONFIRMED, {}),
        (coded(CLINICAL, "remission"), CONFIRMED, {}),
        (ACTIVE, coded(SCT, "410516002", "Known absent"), {}),
        (ACTIVE, coded(SCT, "723510000", "Entered in error"), {}),
        (ACTIVE, coded(VERIFICATION, "refuted"), {}),
        # entered in error, and so (con-5) no clinicalStatus
        (None, coded(VERIFICATION, "entered-in-error"), {}),
        # suspected and provisional decide nothing, as FHIR's unconfirmed does
        (ACTIVE, coded(SCT, "415684004", "Suspected"), {}),
        (ACTIVE, coded(VERIFICATION, "provisional"), {}),
        # no clinicalStatus, but an abatement: it is over
        (None, CONFIRMED, {"abatementDateTime": "2024-05-01"}),
    ],
)
def test_a_condition_read_as_not_active_or_void_gives_no_card(
    knowledge: Knowledge, clinical: Any, verification: Any, more: dict[str, Any]
) -> None:
    assert cards(knowledge, asthma(clinical, verification, **more)) == {}


EPIC_ACTIVE = {
    "coding": [{"system": EPIC_STATUS, "code": "1", "display": "Active"}],
    "text": "Active",
}
UNKNOWN = coded(SCT, "261665006", "Unknown")


@pytest.mark.parametrize(
    ("clinical", "verification", "said"),
    [
        ({"text": "Chronic"}, CONFIRMED, "clinical status given as text only: 'Chronic'"),
        (EPIC_ACTIVE, None, f"clinical status in codes not read: {EPIC_STATUS}|1 ('Active')"),
        (
            coded(CLINICAL, "chronic"),
            None,
            f"clinical status in codes not read: {CLINICAL}|chronic",
        ),
        (None, CONFIRMED, "no clinical status"),
        (None, None, "no clinical status"),
        ({}, None, "clinical status empty"),
        (ACTIVE, {"text": "Confirmed by spirometry"}, "verification status given as text only"),
        (ACTIVE, UNKNOWN, f"verification status in codes not read: {SCT}|261665006"),
    ],
)
def test_a_condition_whose_status_cannot_be_read_is_named_never_taken_as_read(
    knowledge: Knowledge, clinical: Any, verification: Any, said: str
) -> None:
    found = cards(knowledge, asthma(clinical, verification))
    assert set(found) == {"record-unreadable"}
    assert f"Asthma, uncomplicated ({said}" in found["record-unreadable"]
    assert "did not use them" in found["record-unreadable"]


def test_a_readable_active_condition_still_fires_beside_an_unreadable_one(
    knowledge: Knowledge,
) -> None:
    copd = asthma(ACTIVE, CONFIRMED, id="c-copd")
    copd["code"] = coded("http://hl7.org/fhir/sid/icd-10-cm", "J44.9", "COPD")
    found = cards(knowledge, copd, asthma({"text": "active?"}))
    assert set(found) == {"respiratory-disease", "record-unreadable"}
    assert "COPD" in found["respiratory-disease"]
    assert "Asthma" not in found["respiratory-disease"]
    assert "Asthma, uncomplicated" in found["record-unreadable"]


def test_a_pregnancy_condition_of_unreadable_status_is_named_not_dropped(
    knowledge: Knowledge,
) -> None:
    pregnancy = asthma({"text": "Current"}, None, id="c-preg")
    pregnancy["code"] = coded(SCT, "77386006", "Pregnancy")
    found = cards(knowledge, pregnancy)
    assert set(found) == {"record-unreadable"}
    assert "Pregnancy (clinical status given as text only: 'Current')" in found["record-unreadable"]


def test_the_second_module_reads_statuses_the_same_way_with_no_code_of_its_own() -> None:
    both = load_knowledge(MODULE)
    cirrhosis = asthma(coded(SCT, "55561003"), coded(SCT, "410605003"), id="c-liver")
    cirrhosis["code"] = coded("http://hl7.org/fhir/sid/icd-10-cm", "K74.60", "Cirrhosis")
    tizanidine = order(
        "t",
        2,
        3,
        medication=coded("http://www.nlm.nih.gov/research/umls/rxnorm", "313412"),
        route=ORAL,
    )
    assert set(cards(both, cirrhosis, draft=tizanidine)) == {"hepatic-impairment"}
    cirrhosis["clinicalStatus"] = {"text": "Active"}
    found = cards(both, cirrhosis, draft=tizanidine)
    assert set(found) == {"record-unreadable"}
    assert "Cirrhosis (clinical status given as text only: 'Active')" in found["record-unreadable"]


# ----- status Observations: a latest value that says neither yes nor no
LOINC = "http://loinc.org"


def pregnancy_status(value: Any, when: str = "2026-11-20T09:15:00Z", **more: Any) -> dict[str, Any]:
    obs: dict[str, Any] = {
        "resourceType": "Observation",
        "id": f"preg-{when}",
        "status": "final",
        "code": coded(LOINC, "82810-3", "Pregnancy status"),
        "subject": {"reference": "Patient/p"},
        "effectiveDateTime": when,
        **more,
    }
    if value is not None:
        obs["valueCodeableConcept"] = value
    return obs


def observation_cards(knowledge: Knowledge, *observations: dict[str, Any]) -> dict[str, str]:
    answer = evaluate_hook(
        knowledge,
        "order-sign",
        context(order("b", 5, 3, route=ORAL)),
        PatientRecord(patient("1990-02-01"), observations=observations),
        today=TODAY,
    )
    return {c["source"]["topic"]["code"]: c["detail"] for c in answer["cards"]}


PREGNANT = coded(LOINC, "LA15173-0", "Pregnant")
NOT_PREGNANT = coded(LOINC, "LA26683-5", "Not pregnant")


@pytest.mark.parametrize(
    ("value", "said"),
    [
        ({"text": "Pregnant"}, "value given as text only: 'Pregnant'"),
        (coded(LOINC, "LA4489-6", "Unknown"), f"ValueSet: {LOINC}|LA4489-6 'Unknown'"),
        (None, "no value"),
        ({}, "value empty"),
    ],
)  # fmt: skip
def test_a_pregnancy_status_that_says_neither_is_named_never_read_as_not_pregnant(
    knowledge: Knowledge, value: Any, said: str
) -> None:
    found = observation_cards(knowledge, pregnancy_status(value))
    assert set(found) == {"record-unreadable"}
    assert "Pregnancy status on 2026-11-20 (" in found["record-unreadable"]
    assert f"{said})" in found["record-unreadable"]


def test_a_status_observation_with_another_kind_of_value_says_so(knowledge: Knowledge) -> None:
    found = observation_cards(knowledge, pregnancy_status(None, valueString="yes"))
    assert "Pregnancy status on 2026-11-20 (its value is a String)" in found["record-unreadable"]


def test_a_readable_latest_status_decides_and_an_older_unreadable_one_is_not_named(
    knowledge: Knowledge,
) -> None:
    older = pregnancy_status({"text": "?"}, "2026-10-01")
    assert observation_cards(knowledge, older, pregnancy_status(NOT_PREGNANT)) == {}
    assert set(observation_cards(knowledge, older, pregnancy_status(PREGNANT))) == {"pregnancy"}


def test_an_unreadable_status_beside_a_pregnant_one_of_the_same_time_is_moot(
    knowledge: Knowledge,
) -> None:
    same = [pregnancy_status(PREGNANT), pregnancy_status({"text": "?"})]
    assert set(observation_cards(knowledge, *same)) == {"pregnancy"}
    # beside a "not pregnant" of the same time it is named: that one alone does not decide
    same = [pregnancy_status(NOT_PREGNANT), pregnancy_status({"text": "?"})]
    assert set(observation_cards(knowledge, *same)) == {"record-unreadable"}

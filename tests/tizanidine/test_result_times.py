"""When a result was made, as feeds write it, decides which is the latest: times in any
offset are compared as instants, and a date without a time is of each time of its days it
may be (in any time zone), so that against a time it cannot be ordered against the rule's
`sort` decides (for kidney function, the lowest). A result that gives a bound (`<30`) or a
negative value is not a value: the kidney function is then not checked, and says so.

Each case is the example request of the renal-impairment card (tizanidine loaded beside
baclofen) with its Observations replaced by those of the case."""

from __future__ import annotations

import copy
import json
from datetime import date
from typing import Any

import pytest

from fhir_module import evaluate
from fhir_module.knowledge import Knowledge

from .conftest import ROOT

REQUEST = json.loads(
    (ROOT / "examples" / "tizanidine" / "order-sign-renal-impairment.request.json").read_text()
)
DAY = date(2026, 11, 26)
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
EGFR_UNIT = "mL/min/{1.73_m2}"


def _lab(rid: str, code: str, text: str, when: str, **value: Any) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": rid,
        "status": "final",
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": "laboratory",
                    }
                ]
            }
        ],
        "code": {"coding": [{"system": LOINC, "code": code}], "text": text},
        "subject": {"reference": "Patient/pat-1"},
        "effectiveDateTime": when,
        **value,
    }


def egfr(rid: str, value: float, when: str, **quantity: Any) -> dict[str, Any]:
    """An eGFR (CKD-EPI 2021) as a lab feed sends it, in UCUM."""
    found = {"value": value, "unit": "mL/min/1.73m2", "system": UCUM, "code": EGFR_UNIT}
    return _lab(rid, "98979-8", "eGFR", when, valueQuantity={**found, **quantity})


def clearance(rid: str, value: float, when: str, **quantity: Any) -> dict[str, Any]:
    found = {"value": value, "unit": "mL/min", "system": UCUM, "code": "mL/min", **quantity}
    return _lab(rid, "2164-2", "Creatinine clearance", when, valueQuantity=found)


def pregnancy(rid: str, pregnant: bool, when: str) -> dict[str, Any]:
    code, display = ("LA15173-0", "Pregnant") if pregnant else ("LA26683-5", "Not pregnant")
    value = {"coding": [{"system": LOINC, "code": code, "display": display}]}
    obs = _lab(rid, "82810-3", "Pregnancy status", when, valueCodeableConcept=value)
    obs["category"][0]["coding"][0]["code"] = "social-history"
    return obs


def cards(terms: Knowledge, *observations: dict[str, Any]) -> dict[str, str]:
    """The detail of each card, by its rule, for the example order and these results."""
    request = copy.deepcopy(REQUEST)
    request["prefetch"]["observations"] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(observations),
        "entry": [
            {
                "fullUrl": f"https://ehr.example.org/fhir/Observation/{o['id']}",
                "resource": o,
                "search": {"mode": "match"},
            }
            for o in observations
        ],
    }
    answer = evaluate(request, knowledge=terms, today=DAY)
    return {c["source"]["topic"]["code"]: c["detail"] for c in answer["cards"]}


def both_ways(*observations: dict[str, Any]) -> list[tuple[dict[str, Any], ...]]:
    """The results as a feed may list them: either way round (the order never decides)."""
    return [observations, observations[::-1]]


# ----- times in offsets are instants
@pytest.mark.parametrize(
    ("low_at", "high_at", "fires"),
    [
        # 20 at 09:30Z is later than 30 at 10:00+02:00 (08:00Z): the latest, 20, fires
        ("2026-11-20T09:30:00Z", "2026-11-20T10:00:00+02:00", True),
        # 30 at 10:00Z is later than 20 at 11:00+02:00 (09:00Z): 30 is the latest
        ("2026-11-20T11:00:00+02:00", "2026-11-20T10:00:00Z", False),
        # 20 at 23:30-05:00 on the 19th is 04:30Z on the 20th, after 30 at 01:00+01:00
        ("2026-11-19T23:30:00-05:00", "2026-11-20T01:00:00+01:00", True),
        # one instant in two offsets is one time: of the two, the lowest counts
        ("2026-11-20T08:00:00Z", "2026-11-20T10:00:00+02:00", True),
        ("2026-11-20T10:00:00+02:00", "2026-11-20T08:00:00Z", True),
        ("2026-11-20T08:00:00.000Z", "2026-11-20T03:00:00-05:00", True),
        # a time without an offset is read as UTC
        ("2026-11-20T09:30:00", "2026-11-20T10:00:00+02:00", True),
        ("2026-11-20T07:30:00", "2026-11-20T10:00:00+02:00", False),
    ],
)
def test_results_are_ordered_by_their_instant(
    terms: Knowledge, low_at: str, high_at: str, fires: bool
) -> None:
    for listed in both_ways(egfr("low", 20, low_at), egfr("high", 30, high_at)):
        found = cards(terms, *listed)
        assert set(found) == ({"renal-impairment"} if fires else set())
        if fires:
            assert f"eGFR 20 {EGFR_UNIT} on {low_at}," in found["renal-impairment"]


# ----- a date without a time is each time of its days it may be
@pytest.mark.parametrize(
    ("low_on", "high_at", "fires"),
    [
        # the date-only 20 may be of any hour of the 20th: it is not older than 08:00Z
        ("2026-11-20", "2026-11-20T08:00:00Z", True),
        # nor than 02:00Z on the 21st, the evening of the 20th in the Americas
        ("2026-11-20", "2026-11-21T02:00:00Z", True),
        # a whole day and more later (14 hours after the day ends in UTC) it is older
        ("2026-11-20", "2026-11-21T15:00:00Z", False),
        ("2026-11-18", "2026-11-20T08:00:00Z", False),
        # a month is each of its days: not older than a day of it, older than the next month
        ("2026-11", "2026-11-20", True),
        ("2026-10", "2026-11-20", False),
        ("2026", "2026-11-20T08:00:00Z", True),
        # two dates of different days are ordered
        ("2026-11-19", "2026-11-20", False),
    ],
)
def test_a_date_without_a_time_is_never_taken_as_older_than_a_time_it_may_be_after(
    terms: Knowledge, low_on: str, high_at: str, fires: bool
) -> None:
    for listed in both_ways(clearance("low", 20, low_on), egfr("high", 30, high_at)):
        found = cards(terms, *listed)
        assert set(found) == ({"renal-impairment"} if fires else set())
        if fires:
            assert f"Creatinine clearance 20 mL/min on {low_on}," in found["renal-impairment"]


def test_a_timed_low_result_is_never_hidden_by_a_date_only_one_of_its_day(
    terms: Knowledge,
) -> None:
    for listed in both_ways(
        egfr("low", 20, "2026-11-20T08:00:00Z"), egfr("high", 30, "2026-11-20")
    ):
        assert set(cards(terms, *listed)) == {"renal-impairment"}


def test_an_earlier_time_of_the_day_is_older_than_the_latest_even_beside_a_date_of_that_day(
    terms: Knowledge,
) -> None:
    """The date-only result is of the latest time, the 07:00Z one certainly older than 09:00Z."""
    results = (
        egfr("early", 15, "2026-11-20T07:00:00Z"),
        egfr("day", 40, "2026-11-20"),
        egfr("late", 30, "2026-11-20T09:00:00Z"),
    )
    assert cards(terms, *results) == {}


# ----- a bound or a negative value is not a value
@pytest.mark.parametrize(
    ("comparator", "shown"),
    [("<", "<30"), ("<=", "<=30"), (">", ">30"), (">=", ">=30"), ("ad", "ad 30")],
)
def test_a_result_with_a_comparator_is_named_not_read_as_its_bound(
    terms: Knowledge, comparator: str, shown: str
) -> None:
    found = cards(terms, egfr("bound", 30, "2026-11-20T08:15:00Z", comparator=comparator))
    assert set(found) == {"renal-unreadable"}
    assert f"eGFR {shown} {EGFR_UNIT} (a bound, not a value)." in found["renal-unreadable"]
    assert "older" not in found["renal-unreadable"]


@pytest.mark.parametrize(
    ("result", "said"),
    [
        (egfr("neg", -5, "2026-11-20T08:15:00Z"), f"eGFR -5 {EGFR_UNIT} (a negative value)"),
        (clearance("neg", -0.5, "2026-11-20"), "Creatinine clearance -0.5 mL/min (a negative"),
    ],
)
def test_a_negative_kidney_function_is_named_not_read(
    terms: Knowledge, result: dict[str, Any], said: str
) -> None:
    found = cards(terms, egfr("older", 60, "2026-10-01"), result)
    assert set(found) == {"renal-unreadable"}
    assert said in found["renal-unreadable"]
    # the older readable one is not called the latest: it is named as older
    assert f"the result read instead is older: eGFR 60 {EGFR_UNIT}" in found["renal-unreadable"]


def test_zero_is_a_value(terms: Knowledge) -> None:
    assert set(cards(terms, clearance("zero", 0, "2026-11-20"))) == {"renal-impairment"}


def test_a_bound_of_the_same_instant_as_a_readable_result_leaves_it_unchecked(
    terms: Knowledge,
) -> None:
    """The <30 may be below the 40 of the same instant: neither is taken as the value."""
    results = both_ways(
        egfr("plain", 40, "2026-11-20T08:00:00Z"),
        egfr("bound", 30, "2026-11-20T10:00:00+02:00", comparator="<"),
    )
    for listed in results:
        found = cards(terms, *listed)
        assert set(found) == {"renal-unreadable"}
        assert f"eGFR <30 {EGFR_UNIT}" in found["renal-unreadable"]
        assert "older" not in found["renal-unreadable"]


def test_a_later_bound_is_named_and_the_readable_one_called_older(terms: Knowledge) -> None:
    """09:30Z is after 10:00+02:00 (08:00Z): the bound is the latest result."""
    results = (
        egfr("plain", 20, "2026-11-20T10:00:00+02:00"),
        egfr("bound", 30, "2026-11-20T09:30:00Z", comparator="<"),
    )
    found = cards(terms, *results)
    assert set(found) == {"renal-impairment", "renal-unreadable"}
    assert (
        f"could not be read: eGFR <30 {EGFR_UNIT} (a bound, not a value). The check for a "
        "creatinine clearance below 25 mL/min did not use it; the result read instead is "
        f"older: eGFR 20 {EGFR_UNIT} on 2026-11-20T10:00:00+02:00." in found["renal-unreadable"]
    )


def test_an_older_bound_does_not_matter(terms: Knowledge) -> None:
    """08:30+01:00 (07:30Z) is before 08:00Z."""
    results = (
        egfr("bound", 30, "2026-11-20T08:30:00+01:00", comparator="<"),
        egfr("plain", 40, "2026-11-20T08:00:00Z"),
    )
    assert cards(terms, *results) == {}


def test_an_unreadable_date_only_result_of_the_latest_day_leaves_it_unchecked(
    terms: Knowledge,
) -> None:
    results = (
        egfr("plain", 40, "2026-11-20T08:00:00Z"),
        clearance("bound", 20, "2026-11-20", comparator="<"),
    )
    found = cards(terms, *results)
    assert set(found) == {"renal-unreadable"}
    assert "Creatinine clearance <20 mL/min (a bound, not a value)" in found["renal-unreadable"]


# ----- a pregnancy status is ordered the same way
def test_the_latest_pregnancy_status_is_the_latest_instant(terms: Knowledge) -> None:
    """Not pregnant at 09:30Z is after pregnant at 10:00+02:00 (08:00Z)."""
    for listed in both_ways(
        pregnancy("yes", True, "2026-11-20T10:00:00+02:00"),
        pregnancy("no", False, "2026-11-20T09:30:00Z"),
    ):
        assert cards(terms, *listed) == {}
    for listed in both_ways(
        pregnancy("yes", True, "2026-11-20T09:30:00Z"),
        pregnancy("no", False, "2026-11-20T10:00:00+02:00"),
    ):
        assert set(cards(terms, *listed)) == {"pregnancy-caution"}


@pytest.mark.parametrize(
    ("pregnant_at", "not_pregnant_at"),
    [
        ("2026-11-20T08:00:00Z", "2026-11-20T10:00:00+02:00"),  # one instant
        ("2026-11-20", "2026-11-20T09:15:00Z"),  # a date of the latest time's day
    ],
)
def test_statuses_of_one_time_that_disagree_make_it_hold_and_name_both(
    terms: Knowledge, pregnant_at: str, not_pregnant_at: str
) -> None:
    for listed in both_ways(
        pregnancy("yes", True, pregnant_at), pregnancy("no", False, not_pregnant_at)
    ):
        found = cards(terms, *listed)
        assert set(found) == {"pregnancy-caution"}
        assert "Pregnant" in found["pregnancy-caution"]
        assert "Not pregnant" in found["pregnancy-caution"]


def test_a_date_only_status_days_before_the_latest_is_older(terms: Knowledge) -> None:
    results = (pregnancy("yes", True, "2026-11-18"), pregnancy("no", False, "2026-11-20T09:15:00Z"))
    assert cards(terms, *results) == {}

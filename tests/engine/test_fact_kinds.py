"""The eight fact kinds of docs/facts.md, each on realistic FHIR records, through the same
declarations a Library holds (read by the loader's reader) and the same computation the
engine runs for a judged order."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import pytest

from fhir_module.dosing import DailyDose, daily_dose
from fhir_module.facts import (
    Judged,
    PatientRecord,
    RecordOrder,
    Sources,
    age_on,
    dose_summary,
    fact_values,
    guideline_view,
)
from fhir_module.knowledge import Declaration, Knowledge, Pool, named_medication
from fhir_module.knowledge._declarations import read_declarations
from fhir_module.knowledge._terminology import build_value_set

from .builders import DAY, condition, intrathecal, observation, order, patient

SD = "http://fhir-module.org/fhir/StructureDefinition/"
VS = "http://fhir-module.org/fhir/ValueSet/"
LOINC = "http://loinc.org"
SCT = "http://snomed.info/sct"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
RX = "http://www.nlm.nih.gov/research/umls/rxnorm"
LOGIC = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/library-type",
                     "code": "logic-library"}]}  # fmt: skip
ON = date(2026, 11, 26)
NO_RECORD = PatientRecord()

RENAL = {
    "resourceType": "ValueSet",
    "url": VS + "renal-function-test",
    "compose": {
        "include": [
            {
                "system": LOINC,
                "concept": [
                    {"code": "62238-1", "display": "eGFR"},
                    {"code": "2164-2", "display": "Creatinine clearance"},
                ],
            }
        ]
    },
}
INHIBITORS = {
    "resourceType": "ValueSet",
    "url": VS + "cyp1a2-inhibitors-test",
    "compose": {
        "include": [
            {
                "system": RX,
                "concept": [
                    {"code": "42355", "display": "fluvoxamine"},
                    {"code": "2551", "display": "ciprofloxacin"},
                ],
            }
        ]
    },
}
FLUVOXAMINE = {"coding": [{"system": RX, "code": "42355", "display": "fluvoxamine"}]}
CIPRO = {"coding": [{"system": RX, "code": "2551", "display": "ciprofloxacin"}]}


def ext(name: str, value: Any, kind: str = "valueString") -> dict[str, Any]:
    return {"url": SD + name, kind: value}


def output(name: str, variable: str) -> dict[str, Any]:
    return {
        "url": SD + "fact-output",
        "extension": [
            {"url": "name", "valueCode": name},
            {"url": "variable", "valueString": variable},
        ],
    }


def requirement(
    variable: str,
    kind: str,
    type_: str,
    value_set: str | None = None,
    *more: dict[str, Any],
    path: str = "code",
    date_filter: dict[str, Any] | None = None,
    sort: str | None = None,
) -> dict[str, Any]:
    found: dict[str, Any] = {
        "extension": [ext("fact-variable", variable), ext("fact-kind", kind, "valueCode"), *more],
        "type": type_,
    }
    if value_set:
        found["codeFilter"] = [{"path": path, "valueSet": value_set}]
    if date_filter:
        found["dateFilter"] = [date_filter]
    if sort:
        found["sort"] = [{"path": "value", "direction": sort}]
    return found


def declare(knowledge: Knowledge, *requirements: dict[str, Any]) -> tuple[Declaration, ...]:
    sets = dict(knowledge.value_sets)
    for extra in (RENAL, INHIBITORS):
        index, problems = build_value_set(extra, knowledge.code_systems)
        assert not problems
        sets[index.url] = index
    library = {"type": LOGIC, "dataRequirement": list(requirements)}
    return read_declarations(library, sets, knowledge.route_sets)


def run(
    knowledge: Knowledge,
    declarations: Sequence[Declaration],
    record: PatientRecord = NO_RECORD,
    judged_order: dict[str, Any] | None = None,
    requested: Sequence[dict[str, Any]] = (),
) -> dict[str, Any]:
    """The declared facts for one judged order, as the engine builds them."""
    judged_order = judged_order or order("draft-1", 10, 3)
    pool = Pool().with_resources([*record.medication_requests, *record.medications])

    def resolved(o: dict[str, Any]) -> RecordOrder:
        named = named_medication(o, pool)
        return RecordOrder(o, named, knowledge.drug_named(named))

    drafts = [judged_order, *requested]
    [drug] = knowledge.drugs
    dose = daily_dose(judged_order, knowledge)
    unit = "ug" if dose.route == "intrathecal" else "mg"
    birth = record.patient.get("birthDate") if record.patient else None
    age = age_on(birth, ON)
    total, arithmetic, assumptions = dose_summary([dose], unit)
    sources = Sources(
        knowledge,
        record,
        [resolved(o) for o in record.medication_requests],
        [resolved(o) for o in drafts],
        frozenset(f"MedicationRequest/{o['id']}" for o in drafts),
    )
    judged = Judged(
        judged_order, drug, dose.route, dose.route, unit, ON, age, dose, total, arithmetic,
        assumptions, guideline_view(drug, dose.route, age, unit),
    )  # fmt: skip
    return fact_values(declarations, sources, judged)


def status_declarations(knowledge: Knowledge) -> tuple[Declaration, ...]:
    evidence = output("evidence", "pregnancyEvidence")
    return declare(
        knowledge,
        requirement(
            "pregnant", "observation-status", "Observation", VS + "pregnancy-status-observations",
            ext("fact-value-set", VS + "pregnancy-findings", "valueCanonical"),
            ext("fact-absent-value-set", VS + "not-pregnant-findings", "valueCanonical"),
            evidence,
        ),
        requirement("pregnant", "condition-active", "Condition", VS + "pregnancy-findings",
                    evidence),
    )  # fmt: skip


PREGNANCY_STATUS = (LOINC, "82810-3")
PREGNANT = (SCT, "77386006")
NOT_PREGNANT = (SCT, "60001007")


# ----- observation-status (and its combination with condition-active)
def test_the_latest_final_status_observation_decides(knowledge: Knowledge) -> None:
    facts = status_declarations(knowledge)
    record = PatientRecord(
        observations=(
            observation(PREGNANCY_STATUS, PREGNANT, "2026-10-01"),
            observation(PREGNANCY_STATUS, NOT_PREGNANT, "2026-11-20"),
            # Void or unfinished records count for nothing, however recent.
            observation(PREGNANCY_STATUS, PREGNANT, "2026-11-24", status="entered-in-error"),
            observation(PREGNANCY_STATUS, PREGNANT, "2026-11-25", status="preliminary"),
        ),
        conditions=(condition(ICD10, "Z34.0"),),
    )
    # The latest final Observation says "not pregnant"; the active pregnancy Condition
    # says true, and a true from any declaration wins.
    assert run(knowledge, facts, record) == {
        "pregnant": True,
        "pregnancyEvidence": "Condition: Z34.0",
    }
    # Without the Condition, the latest final Observation decides: false.
    alone = PatientRecord(observations=record.observations)
    assert run(knowledge, facts, alone) == {
        "pregnant": False,
        "pregnancyEvidence": "Observation on 2026-11-20: 60001007",
    }


def test_an_old_not_pregnant_observation_does_not_hide_a_pregnancy_condition(
    knowledge: Knowledge,
) -> None:
    facts = status_declarations(knowledge)
    record = PatientRecord(
        observations=(observation(PREGNANCY_STATUS, NOT_PREGNANT, "2019-03-02"),),
        conditions=(condition(ICD10, "Z34.0"),),
    )
    assert run(knowledge, facts, record) == {
        "pregnant": True,
        "pregnancyEvidence": "Condition: Z34.0",
    }


def test_both_declarations_saying_true_give_both_evidences(knowledge: Knowledge) -> None:
    facts = status_declarations(knowledge)
    record = PatientRecord(
        observations=(observation(PREGNANCY_STATUS, PREGNANT, "2026-11-20"),),
        conditions=(condition(ICD10, "Z34.0"),),
    )
    assert run(knowledge, facts, record) == {
        "pregnant": True,
        "pregnancyEvidence": "Observation on 2026-11-20: 77386006; Condition: Z34.0",
    }


def test_a_partial_date_is_of_the_latest_time_with_a_day_it_may_be(knowledge: Knowledge) -> None:
    """ "2026-11" may be the 3rd or later: the two are of one time, and they disagree."""
    facts = status_declarations(knowledge)
    record = PatientRecord(
        observations=(
            observation(PREGNANCY_STATUS, NOT_PREGNANT, "2026-11"),
            observation(PREGNANCY_STATUS, PREGNANT, "2026-11-03"),
        )
    )
    env = run(knowledge, facts, record)
    assert (env["pregnant"], env["pregnancyEvidence"]) == (
        True,
        "Observation on 2026-11-03: 77386006; Observation on 2026-11: 60001007",
    )
    # a month before the latest day is older
    record = PatientRecord(
        observations=(
            observation(PREGNANCY_STATUS, PREGNANT, "2026-10"),
            observation(PREGNANCY_STATUS, NOT_PREGNANT, "2026-11-03"),
        )
    )
    env = run(knowledge, facts, record)
    assert (env["pregnant"], env["pregnancyEvidence"]) == (
        False,
        "Observation on 2026-11-03: 60001007",
    )


def test_the_latest_two_disagreeing_make_the_fact_hold_and_name_both(
    knowledge: Knowledge,
) -> None:
    facts = status_declarations(knowledge)
    record = PatientRecord(
        observations=(
            observation(PREGNANCY_STATUS, NOT_PREGNANT, "2026-11-20"),
            observation(PREGNANCY_STATUS, PREGNANT, "2026-11-20"),
        )
    )
    env = run(knowledge, facts, record)
    assert env["pregnant"] is True
    assert env["pregnancyEvidence"] == (
        "Observation on 2026-11-20: 77386006; Observation on 2026-11-20: 60001007"
    )


def test_an_observation_that_decides_nothing_leaves_it_to_the_next_declaration(
    knowledge: Knowledge,
) -> None:
    facts = status_declarations(knowledge)
    unknown = observation(PREGNANCY_STATUS, (SCT, "261665006"), "2026-11-25")  # "Unknown"
    record = PatientRecord(observations=(unknown,), conditions=(condition(ICD10, "O24.4"),))
    env = run(knowledge, facts, record)
    assert (env["pregnant"], env["pregnancyEvidence"]) == (True, "Condition: O24.4")
    # None decides: unknown, the empty collection (a condition on it does not fire).
    assert run(knowledge, facts, PatientRecord(observations=(unknown,))) == {
        "pregnant": [],
        "pregnancyEvidence": "",
    }


# ----- condition-active
@pytest.mark.parametrize(
    ("clinical", "verification", "counts"),
    [
        ("active", "confirmed", True),
        ("relapse", "confirmed", True),
        ("recurrence", None, True),  # no verificationStatus: common in real feeds
        ("relapse", "provisional", False),
        ("recurrence", "unconfirmed", False),
        ("active", "differential", False),
        ("active", "refuted", False),
        ("active", "entered-in-error", False),
        ("resolved", "confirmed", False),
        ("inactive", "confirmed", False),
    ],
)
def test_an_active_condition_counts_unless_refuted_or_void(
    knowledge: Knowledge, clinical: str, verification: str | None, counts: bool
) -> None:
    facts = declare(
        knowledge,
        requirement("respiratoryDisease", "condition-active", "Condition",
                    VS + "respiratory-diseases", output("evidence", "respiratoryEvidence")),
    )  # fmt: skip
    asthma = condition(ICD10, "J45.9", clinical=clinical, verification=verification or "")
    if verification is None:
        del asthma["verificationStatus"]
    env = run(knowledge, facts, PatientRecord(conditions=(asthma, condition(ICD10, "E11.9"))))
    assert env == {
        "respiratoryDisease": counts if counts else [],
        "respiratoryEvidence": "Condition: J45.9" if counts else "",
    }


# ----- observation-quantity
def egfr(value: Any, code: str | None, when: str, *, unit: str | None = None) -> dict[str, Any]:
    quantity: dict[str, Any] = {"value": value, "unit": unit or code}
    if code is not None:
        quantity.update(system="http://unitsofmeasure.org", code=code)
    return {
        "resourceType": "Observation",
        "id": f"egfr-{when}",
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": "62238-1"}], "text": "eGFR"},
        "effectiveDateTime": when,
        "valueQuantity": quantity,
    }


def renal(knowledge: Knowledge, **more: Any) -> tuple[Declaration, ...]:
    more.setdefault("sort", "ascending")
    return declare(
        knowledge,
        requirement(
            "renalFunction", "observation-quantity", "Observation", VS + "renal-function-test",
            ext("fact-unit", "mL/min", "valueCode"),
            ext("fact-unit", "mL/min/{1.73_m2}", "valueCode"),
            output("unreadable", "renalUnreadable"),
            **more,
        ),
    )  # fmt: skip


def test_the_latest_quantity_in_an_accepted_unit_is_the_value(knowledge: Knowledge) -> None:
    record = PatientRecord(
        observations=(
            egfr(48, "mL/min/{1.73_m2}", "2026-09-01"),
            egfr(22, "mL/min/{1.73_m2}", "2026-11-10"),
            {**egfr(90, "mL/min/{1.73_m2}", "2026-11-20"), "status": "entered-in-error"},
        )
    )
    env = run(knowledge, renal(knowledge), record)
    assert env["renalFunction"] == {
        "value": 22,
        "unit": "mL/min/{1.73_m2}",
        "date": "2026-11-10",
        "text": "eGFR 22 mL/min/{1.73_m2}",
    }
    assert env["renalUnreadable"] == []


def test_a_later_result_in_another_unit_is_not_read_and_is_reported(
    knowledge: Knowledge,
) -> None:
    record = PatientRecord(
        observations=(
            egfr(30.5, None, "2026-10-02", unit="mL/min"),  # no UCUM code: the unit counts
            egfr(0.35, "mL/s", "2026-11-12"),
            egfr(None, "mL/min", "2026-11-13"),
        )
    )
    env = run(knowledge, renal(knowledge), record)
    assert env["renalFunction"]["value"] == 30.5
    assert env["renalFunction"]["unit"] == "mL/min"
    assert env["renalUnreadable"] == "eGFR in mL/s; eGFR without a quantity value"


def test_no_result_in_an_accepted_unit_is_empty(knowledge: Knowledge) -> None:
    record = PatientRecord(observations=(egfr(0.35, "mL/s", "2026-11-12"),))
    env = run(knowledge, renal(knowledge), record)
    assert env == {"renalFunction": [], "renalUnreadable": "eGFR in mL/s"}


def test_a_date_filter_keeps_only_recent_observations(knowledge: Knowledge) -> None:
    window = {"path": "effective", "valueDuration": {"value": 3, "code": "mo", "unit": "months"}}
    facts = renal(knowledge, date_filter=window)
    old = egfr(20, "mL/min", "2026-08-01")  # 117 days before the order
    recent = egfr(40, "mL/min", "2026-09-01")  # 86 days before
    assert run(knowledge, facts, PatientRecord(observations=(old,)))["renalFunction"] == []
    env = run(knowledge, facts, PatientRecord(observations=(old, recent)))
    assert env["renalFunction"]["value"] == 40


# ----- other-orders
def other(id_: str, medication: dict[str, Any], status: str, authored: str) -> dict[str, Any]:
    found = order(id_, 50, 1, medication=medication, status=status, authored=authored)
    return found


def inhibitors(knowledge: Knowledge, **more: Any) -> tuple[Declaration, ...]:
    return declare(
        knowledge,
        requirement("interactingOrders", "other-orders", "MedicationRequest",
                    VS + "cyp1a2-inhibitors-test", path="medication", **more),
    )  # fmt: skip


def test_other_orders_on_record_and_in_the_same_request(knowledge: Knowledge) -> None:
    on_record = other("cipro", CIPRO, "active", "2026-11-20")
    stopped = other("cipro-old", CIPRO, "stopped", "2026-01-01")
    void = other("fluvox-void", FLUVOXAMINE, "entered-in-error", "2026-11-01")
    proposal = {**other("fluvox-proposal", FLUVOXAMINE, "active", "2026-11-01")}
    proposal["intent"] = "proposal"
    draft = other("fluvox-draft", FLUVOXAMINE, "draft", DAY)
    by_name = other("cipro-text", {"text": "Ciprofloxacin 500 mg tablets"}, "on-hold", "2026-11")
    record = PatientRecord(medication_requests=(on_record, stopped, void, proposal, by_name))
    env = run(knowledge, inhibitors(knowledge), record, requested=[draft])
    assert env["interactingOrders"] == [
        {
            "name": "ciprofloxacin",
            "code": f"{RX}|2551",
            "date": "2026-11-20",
            "text": "ciprofloxacin (active order of 2026-11-20)",
        },
        {
            "name": "Ciprofloxacin 500 mg tablets",
            "code": [],
            "date": "2026-11",
            "text": "Ciprofloxacin 500 mg tablets (on-hold order of 2026-11)",
        },
        {
            "name": "fluvoxamine",
            "code": f"{RX}|42355",
            "date": DAY,
            "text": "fluvoxamine (draft order in this request)",
        },
    ]


def test_a_medication_referenced_by_the_order_counts_by_its_ingredient(
    knowledge: Knowledge,
) -> None:
    medication = {
        "resourceType": "Medication",
        "id": "m1",
        "code": {"text": "Luvox CR"},
        "ingredient": [{"itemCodeableConcept": FLUVOXAMINE}],
    }
    referenced = other("luvox", {"text": "x"}, "active", "2026-11-02")
    del referenced["medicationCodeableConcept"]
    referenced["medicationReference"] = {"reference": "Medication/m1"}
    record = PatientRecord(medication_requests=(referenced,), medications=(medication,))
    [found] = run(knowledge, inhibitors(knowledge), record)["interactingOrders"]
    assert (found["name"], found["code"]) == ("Luvox CR", f"{RX}|42355")


def test_no_other_order_is_an_empty_list_and_a_window_keeps_recent_ones(
    knowledge: Knowledge,
) -> None:
    assert run(knowledge, inhibitors(knowledge))["interactingOrders"] == []
    window = {"path": "authoredOn", "valueDuration": {"value": 30, "code": "d"}}
    record = PatientRecord(
        medication_requests=(
            other("old", CIPRO, "active", "2026-09-01"),
            other("new", FLUVOXAMINE, "active", "2026-11-01"),
        )
    )
    found = run(knowledge, inhibitors(knowledge, date_filter=window), record)
    assert [o["name"] for o in found["interactingOrders"]] == ["fluvoxamine"]


# ----- current-orders
def current(knowledge: Knowledge) -> tuple[Declaration, ...]:
    names = ("dailyDose", "dailyDoseText", "singleDose", "text", "days", "combinedText",
             "combinedExceedsMaximum")  # fmt: skip
    return declare(
        knowledge,
        requirement("now", "current-orders", "MedicationRequest", VS + "baclofen-medications",
                    *(output(n, "now" + n[0].upper() + n[1:]) for n in names),
                    path="medication"),
    )  # fmt: skip


def test_current_orders_by_the_judged_route_with_their_dose(knowledge: Knowledge) -> None:
    record = PatientRecord(
        medication_requests=(
            order("a1", 10, 3, status="active", authored="2026-11-16"),
            order("a2", 5, 2, status="active", authored="2026-11-06"),
            order("s1", 20, 3, status="stopped", authored="2026-10-01"),
            intrathecal("it1", 200, status="active", authored="2026-11-01"),
        )
    )
    env = run(knowledge, current(knowledge), record, judged_order=order("d1", 20, 4))
    assert [o["id"] for o in env["now"]] == ["a1", "a2"]
    assert env["nowDailyDose"] == 40
    assert env["nowDailyDoseText"] == "40 mg/day"
    assert env["nowSingleDose"] == 10
    assert env["nowDays"] == 10
    assert env["nowCombinedText"] == "120 mg/day"
    assert env["nowCombinedExceedsMaximum"] is True  # the oral maximum is 100 mg/day
    assert env["nowText"].startswith("40 mg/day (")


def test_no_current_order_gives_empty_outputs(knowledge: Knowledge) -> None:
    env = run(knowledge, current(knowledge))
    assert env["now"] == []
    assert all(env[n] == [] for n in env if n != "now")


# ----- route-history
@pytest.mark.parametrize(
    ("status", "ever"),
    [("completed", True), ("stopped", True), ("cancelled", False), ("entered-in-error", False)],
)
def test_route_history_reads_every_status_but_the_void_ones(
    knowledge: Knowledge, status: str, ever: bool
) -> None:
    facts = declare(
        knowledge,
        requirement("everIt", "route-history", "MedicationRequest", VS + "baclofen-medications",
                    ext("fact-route", VS + "route-intrathecal", "valueCanonical"),
                    path="medication"),
    )  # fmt: skip
    record = PatientRecord(
        medication_requests=(
            intrathecal("it-past", 300, status=status, authored="2025-03-01"),
            order("oral-past", 10, 3, status="completed", authored="2025-01-01"),
        )
    )
    assert run(knowledge, facts, record) == {"everIt": ever}


# ----- order-dose
def test_the_order_dose_gives_single_dose_and_doses_a_day(knowledge: Knowledge) -> None:
    facts = declare(
        knowledge,
        requirement("dose", "order-dose", "MedicationRequest", VS + "baclofen-medications",
                    output("daily", "dailyDose"), output("dailyText", "doseText"),
                    output("arithmetic", "arithmetic"), output("assumptions", "assumptionsText"),
                    path="medication"),
    )  # fmt: skip
    every_6h = order("q6h", 5, 1)
    every_6h["dosageInstruction"][0]["timing"] = {"code": {"coding": [{"code": "Q6H"}]}}
    dose = daily_dose(every_6h, knowledge)
    assert isinstance(dose, DailyDose) and dose.per_day == 4
    env = run(knowledge, facts, judged_order=order("d1", 8, 3))
    assert env["dose"] == {"computed": True, "single": 8, "singleText": "8 mg", "perDay": 3}
    assert (env["dailyDose"], env["doseText"]) == (24, "24 mg/day")
    unknown = order("d2", 8, 3)
    del unknown["dosageInstruction"][0]["timing"]
    env = run(knowledge, facts, judged_order=unknown)
    assert env["dose"] == {"computed": False, "reason": "no timing"}
    assert env["doseText"] == "cannot be computed"


def test_an_intrathecal_rate_has_no_single_dose(knowledge: Knowledge) -> None:
    facts = declare(
        knowledge,
        requirement("dose", "order-dose", "MedicationRequest", VS + "baclofen-medications",
                    path="medication"),
    )  # fmt: skip
    env = run(knowledge, facts, judged_order=intrathecal("it", 400))
    assert env == {"dose": {"computed": True}}


# ----- age
@pytest.mark.parametrize(
    ("birth", "age", "text"),
    [
        ("2019-03-02", {"low": 7, "high": 7}, "7 years"),
        ("2022", {"low": 3, "high": 4}, "3 to 4 years (birth date imprecise)"),
        (None, [], []),
    ],
)
def test_age_on_the_order_date(
    knowledge: Knowledge, birth: str | None, age: Any, text: Any
) -> None:
    facts = declare(
        knowledge, requirement("age", "age", "Patient", None, output("text", "ageText"))
    )
    env = run(knowledge, facts, PatientRecord(patient(birth)))
    assert env == {"age": age, "ageText": text}


def test_each_declaration_of_a_boolean_fact_gives_its_own_outputs(knowledge: Knowledge) -> None:
    facts = declare(
        knowledge,
        requirement(
            "pregnant", "observation-status", "Observation", VS + "pregnancy-status-observations",
            ext("fact-value-set", VS + "pregnancy-findings", "valueCanonical"),
        ),
        requirement("pregnant", "condition-active", "Condition", VS + "pregnancy-findings",
                    output("evidence", "pregnancyCondition")),
    )  # fmt: skip
    observed = observation(PREGNANCY_STATUS, PREGNANT, "2026-11-20")
    env = run(knowledge, facts, PatientRecord(observations=(observed,)))
    # The Observation decides; the Condition declaration's output is there, and empty.
    assert env == {"pregnant": True, "pregnancyCondition": ""}
    env = run(knowledge, facts, PatientRecord(conditions=(condition(ICD10, "Z34.0"),)))
    assert env == {"pregnant": True, "pregnancyCondition": "Condition: Z34.0"}


@pytest.mark.parametrize(("authored", "days"), [("2026-10", 56), ("2026", 329), ("2026-11-20", 6)])
def test_a_partial_authored_date_counts_as_its_first_day(
    knowledge: Knowledge, authored: str, days: int
) -> None:
    record = PatientRecord(
        medication_requests=(order("a1", 10, 3, status="active", authored=authored),)
    )
    env = run(knowledge, current(knowledge), record, judged_order=order("d1", 10, 3))
    assert env["nowDays"] == days


@pytest.mark.parametrize(
    ("unit", "accepted"),
    [
        ("mL/min/1.73m2", "mL/min/{1.73_m2}"),
        ("mL/min/1.73 m2", "mL/min/{1.73_m2}"),
        ("ml/min/1.73m^2", "mL/min/{1.73_m2}"),
        ("ML/MIN", "mL/min"),
        ("mL/min/{1.73_m2}", "mL/min/{1.73_m2}"),
    ],
)
def test_a_unit_text_without_a_code_is_read_when_it_spells_an_accepted_unit(
    knowledge: Knowledge, unit: str, accepted: str
) -> None:
    quantity = egfr(21, None, "2026-11-20", unit=unit)
    env = run(knowledge, renal(knowledge), PatientRecord(observations=(quantity,)))
    assert env["renalFunction"]["value"] == 21
    assert env["renalFunction"]["unit"] == accepted
    assert env["renalUnreadable"] == []


@pytest.mark.parametrize("unit", ["mL/s/1.73m2", "mmol/L", "", "mL/min/1.73"])
def test_a_unit_text_that_spells_no_accepted_unit_is_unreadable(
    knowledge: Knowledge, unit: str
) -> None:
    quantity = egfr(21, None, "2026-11-20", unit=unit or None)
    if not unit:
        del quantity["valueQuantity"]["unit"]
    env = run(knowledge, renal(knowledge), PatientRecord(observations=(quantity,)))
    assert env["renalFunction"] == []
    assert env["renalUnreadable"].startswith("eGFR ")


def test_a_code_that_is_no_accepted_unit_is_not_rescued_by_its_unit_text(
    knowledge: Knowledge,
) -> None:
    quantity = egfr(21, "mL/s", "2026-11-20", unit="mL/min")
    env = run(knowledge, renal(knowledge), PatientRecord(observations=(quantity,)))
    assert (env["renalFunction"], env["renalUnreadable"]) == ([], "eGFR in mL/s")


def test_of_results_of_the_latest_date_the_declared_sort_on_value_chooses(
    knowledge: Knowledge,
) -> None:
    """A same-day pair (a point-of-care and a lab result) listed either way round."""
    pair = (egfr(40, "mL/min", "2026-11-20"), egfr(24, "mL/min", "2026-11-20"))
    for observations in (pair, pair[::-1]):
        record = PatientRecord(observations=(egfr(10, "mL/min", "2026-11-01"), *observations))
        low = run(knowledge, renal(knowledge), record)["renalFunction"]
        high = run(knowledge, renal(knowledge, sort="descending"), record)["renalFunction"]
        assert (low["value"], high["value"]) == (24, 40)


def test_the_declared_sort_chooses_between_a_time_and_a_date_only_result_of_its_day(
    knowledge: Knowledge,
) -> None:
    """The date-only 40 may be of any hour of the 20th: neither is later than the other."""
    pair = (egfr(40, "mL/min", "2026-11-20"), egfr(24, "mL/min", "2026-11-20T10:00:00+01:00"))
    for observations in (pair, pair[::-1]):
        record = PatientRecord(observations=observations)
        low = run(knowledge, renal(knowledge), record)["renalFunction"]
        high = run(knowledge, renal(knowledge, sort="descending"), record)["renalFunction"]
        assert (low["value"], low["date"]) == (24, "2026-11-20T10:00:00+01:00")
        assert (high["value"], high["date"]) == (40, "2026-11-20")


def test_of_equal_values_of_one_time_the_later_is_shown(knowledge: Knowledge) -> None:
    pair = (egfr(24, "mL/min", "2026-11-20"), egfr(24, "mL/min", "2026-11-20T10:00:00+01:00"))
    for observations in (pair, pair[::-1]):
        env = run(knowledge, renal(knowledge), PatientRecord(observations=observations))
        assert env["renalFunction"]["date"] == "2026-11-20T10:00:00+01:00"


def test_an_unreadable_result_of_the_latest_date_makes_the_fact_unreadable(
    knowledge: Knowledge,
) -> None:
    record = PatientRecord(
        observations=(egfr(24, "mL/min", "2026-11-20"), egfr(0.4, "mL/s", "2026-11-20"))
    )
    env = run(knowledge, renal(knowledge), record)
    assert env == {"renalFunction": [], "renalUnreadable": "eGFR in mL/s"}


@pytest.mark.parametrize(
    ("sort", "problem"),
    [
        (None, "needs one sort on 'value'"),
        ([{"path": "effective", "direction": "ascending"}], "needs one sort on 'value'"),
        ([{"path": "value", "direction": "lowest"}], "must be 'ascending' or 'descending'"),
    ],
)
def test_a_quantity_fact_must_say_which_result_of_a_date_counts(
    knowledge: Knowledge, sort: Any, problem: str
) -> None:
    found = requirement(
        "renalFunction", "observation-quantity", "Observation", VS + "renal-function-test",
        ext("fact-unit", "mL/min", "valueCode"),
    )  # fmt: skip
    if sort is not None:
        found["sort"] = sort
    with pytest.raises(ValueError, match=problem):
        declare(knowledge, found)

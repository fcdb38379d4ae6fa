"""Which drug an order names: a substance code belongs to one drug (two single-ingredient
products of one substance are no combination), one name or synonym belongs to one drug, and
in a text the longest name at a position is the one it says."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fhir_module import KnowledgeConflict, KnowledgeError, evaluate
from fhir_module.knowledge import Knowledge, default_files, load_knowledge

from ._derive import RXNORM, Derived, cards_by_rule, derive, order, request, write

BUILTIN = {p.name: p for p in default_files()}


def _drugs_carded(response: dict[str, Any]) -> set[str]:
    return {c["source"]["label"].split(" order safety")[0].lower() for c in response["cards"]}


def test_one_substance_code_for_two_drugs_is_refused(tmp_path: Path) -> None:
    # A module written from baclofen's that kept baclofen's RxNorm ingredient 1292 as its
    # substance: every single-ingredient product of either would seem to list both drugs.
    derived = derive(tmp_path / "zorabine", "zorabine", 2, keep_codes=[(RXNORM, "1292")])
    with pytest.raises(KnowledgeConflict) as caught:
        load_knowledge(derived.folder)
    message = str(caught.value)
    assert f"{RXNORM}|1292 is the substance of baclofen and of zorabine" in message
    assert str(derived.file("MedicationKnowledge")) in message
    assert str(BUILTIN["MedicationKnowledge-baclofen.json"]) in message


def test_a_plain_order_of_one_drug_gets_only_its_cards(tmp_path: Path) -> None:
    derived = derive(tmp_path / "zorabine", "zorabine", 2)
    knowledge = load_knowledge(derived.folder)
    plain = {"coding": [{"system": RXNORM, "code": "1292", "display": "baclofen"}]}
    response = evaluate(request(order("mr-1", plain, mg=40)), knowledge=knowledge)
    assert _drugs_carded(response) == {"baclofen"}
    assert ("max-daily-dose", "Baclofen 160 mg/day exceeds the 100 mg/day oral maximum") in (
        cards_by_rule(response)
    )


@pytest.fixture(scope="module")
def amphotericins(tmp_path_factory: pytest.TempPathFactory) -> Knowledge:
    root = tmp_path_factory.mktemp("amphotericin")
    derive(root / "plain", "amphotericin b", 6)
    derive(root / "liposomal", "amphotericin b liposomal", 7)
    return load_knowledge(root / "plain", root / "liposomal", builtin=False)


@pytest.mark.parametrize(
    "text, drugs",
    [
        ("Amphotericin B liposomal 10 mg tablet", {"amphotericin b liposomal"}),
        ("AMPHOTERICIN-B LIPOSOMAL, 10 mg tablet", {"amphotericin b liposomal"}),
        ("Amphotericin B 10 mg tablet", {"amphotericin b"}),
        (
            "amphotericin b liposomal 10 mg + amphotericin b 10 mg",
            {
                "amphotericin b liposomal",
                "amphotericin b",
            },
        ),
    ],
)
def test_the_longest_name_at_a_position_wins(
    amphotericins: Knowledge, text: str, drugs: set[str]
) -> None:
    response = evaluate(request(order("mr-1", {"text": text})), knowledge=amphotericins)
    assert _drugs_carded(response) == drugs


def _synonym(derived: Derived, synonym: str) -> Path:
    path = derived.file("MedicationKnowledge")

    def change(mk: dict[str, Any]) -> None:
        mk["synonym"] = [*mk.get("synonym", []), synonym]

    derived.edit(path, change)
    return path


def test_one_synonym_in_two_modules_is_refused(tmp_path: Path) -> None:
    a = derive(tmp_path / "zoraaine", "zoraaine", 1)
    b = derive(tmp_path / "zorabine", "zorabine", 2)
    _synonym(a, "Zora")
    _synonym(b, "ZORA")
    with pytest.raises(KnowledgeConflict) as caught:
        load_knowledge(a.folder, b.folder)
    exc = caught.value
    assert "the name 'zora' is a name of zoraaine and of zorabine" in str(exc)
    assert {exc.file, exc.other} == {
        str(a.file("MedicationKnowledge")),
        str(b.file("MedicationKnowledge")),
    }


def test_a_builtin_name_as_another_modules_synonym_is_refused(tmp_path: Path) -> None:
    a = derive(tmp_path / "zoraaine", "zoraaine", 1)
    _synonym(a, "Baclofène")
    with pytest.raises(KnowledgeConflict) as caught:
        load_knowledge(a.folder)
    assert "the name 'baclofene' is a name of baclofen and of zoraaine" in str(caught.value)
    # the built-in module names it in its medication ValueSet's designations
    assert caught.value.other == str(BUILTIN["ValueSet-baclofen-medications.json"])


SNOMED_CT = "http://snomed.info/sct"
POWDER = {"system": SNOMED_CT, "code": "385223009", "display": "Powder for solution for injection"}


def _site_forms(derived: Derived, *, named: bool) -> Path:
    """A form-other-injection of the derived module listing a powder for injection, named
    by its PlanDefinition (or not)."""
    form = json.loads(BUILTIN["ValueSet-form-oral.json"].read_text(encoding="utf-8"))
    url = "http://site.example.org/fhir/ValueSet/form-other-injection"
    form.update(id="form-other-injection", url=url, name="FormOtherInjection")
    form["title"] = "Dose forms given by injection other than intrathecal"
    concept = {"code": POWDER["code"], "display": POWDER["display"]}
    form["compose"] = {"include": [{"system": SNOMED_CT, "concept": [concept]}]}
    path = write(derived.folder, form)
    if named:

        def change(plan: dict[str, Any]) -> None:
            plan["relatedArtifact"].append(
                {"type": "depends-on", "label": "form", "resource": f"{url}|0.1.0"}
            )

        derived.edit(derived.file("PlanDefinition", "-order-safety"), change)
    return path


def test_another_modules_dose_forms_never_read_baclofen_orders(tmp_path: Path) -> None:
    derived = derive(tmp_path / "zoraaine", "zoraaine", 1)
    _site_forms(derived, named=True)
    knowledge = load_knowledge(derived.folder)
    medication = {
        "resourceType": "Medication",
        "id": "med-1",
        "code": {"coding": [{"system": RXNORM, "code": "1292", "display": "baclofen"}]},
        "form": {"coding": [dict(POWDER)]},
    }
    draft = order("mr-1", medication="Medication/med-1", mg=5, times=3)
    del draft["dosageInstruction"][0]["route"]
    alone = evaluate(request(draft, medication), knowledge=load_knowledge())
    beside = evaluate(request(draft, medication), knowledge=knowledge)
    assert cards_by_rule(beside) == cards_by_rule(alone)
    assert all(c["indicator"] != "critical" for c in beside["cards"])
    # The module's own orders of that form are read as its other-injection ones.
    zoraaine = knowledge.drugs[1]
    assert zoraaine.terms.route_for_form({"coding": [dict(POWDER)]}) == "other-injection"
    assert knowledge.drugs[0].terms.route_for_form({"coding": [dict(POWDER)]}) is None


def test_dose_forms_no_plan_definition_names_stop_loading(tmp_path: Path) -> None:
    derived = derive(tmp_path / "zoraaine", "zoraaine", 1)
    path = _site_forms(derived, named=False)
    with pytest.raises(KnowledgeError) as caught:
        load_knowledge(derived.folder)
    assert caught.value.file == path.name
    assert "no PlanDefinition names these dose forms" in str(caught.value)


def test_a_form_value_set_of_a_category_the_module_does_not_read(tmp_path: Path) -> None:
    derived = derive(tmp_path / "zoraaine", "zoraaine", 1)
    _site_forms(derived, named=True)

    def change(plan: dict[str, Any]) -> None:
        plan["relatedArtifact"] = [
            a
            for a in plan["relatedArtifact"]
            if not str(a.get("resource", "")).startswith(
                "http://fhir-module.org/fhir/ValueSet/route-other-injection"
            )
        ]

    derived.edit(derived.file("PlanDefinition", "-order-safety"), change)
    with pytest.raises(KnowledgeError, match="is not a dose form ValueSet .* of one of its route"):
        load_knowledge(derived.folder)

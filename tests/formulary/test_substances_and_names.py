"""Which drug an order names: a substance code belongs to one drug (two single-ingredient
products of one substance are no combination), one name or synonym belongs to one drug, and
in a text the longest name at a position is the one it says."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fhir_module import KnowledgeConflict, evaluate
from fhir_module.knowledge import Knowledge, default_files, load_knowledge

from ._derive import RXNORM, Derived, cards_by_rule, derive, order, request

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

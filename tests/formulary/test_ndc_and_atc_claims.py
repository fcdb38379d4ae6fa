"""Codes two drugs would both claim, however they are written: an NDC product code in a product
(MedicationKnowledge) as in a medication ValueSet, in any of its 10- or 11-digit forms; an
ATC is-a filter covering another drug's ATC code or filter. Each is refused at load naming the
two files the codes came from, unless a MedicationKnowledge declares the combination; an
order coded with a product's NDC in another form reaches the drug and the product's strength."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from fhir_module import KnowledgeConflict, evaluate
from fhir_module.knowledge import default_files, load_knowledge

from ._derive import ATC, ROOT, RXNORM, Derived, cards_by_rule, derive, order, request, write

TIZANIDINE = ROOT / "modules" / "tizanidine"
NDC = "http://hl7.org/fhir/sid/ndc"
BUILTIN = {p.name: p for p in default_files()}
MEDICATIONS = "ValueSet-tizanidine-medications.json"


def _tizanidine(folder: Path, *, unlisted: tuple[tuple[str, str], ...] = ()) -> Path:
    """A copy of the tizanidine module whose medication ValueSet leaves out the `unlisted`
    codes (system, code): a site that lists a product's codes only in its MedicationKnowledge."""
    folder.mkdir(parents=True)
    for path in TIZANIDINE.glob("*.json"):
        shutil.copy(path, folder / path.name)
    vs_path = folder / MEDICATIONS
    vs = json.loads(vs_path.read_text(encoding="utf-8"))
    for inc in vs["compose"]["include"]:
        inc["concept"] = [
            c for c in inc.get("concept") or [] if (inc["system"], c["code"]) not in unlisted
        ]
    vs_path.write_text(json.dumps(vs, indent=2), encoding="utf-8")
    return folder


def _product_ndc(path: Path, old: str, new: str) -> None:
    """The product in `path` writes its NDC `old` as `new`."""
    product = json.loads(path.read_text(encoding="utf-8"))
    coding = next(c for c in product["code"]["coding"] if c["code"] == old)
    coding["code"] = new
    path.write_text(json.dumps(product, indent=2), encoding="utf-8")


def _with_concepts(derived: Derived, system: str, *codes: str) -> Path:
    """The derived drug's medication ValueSet lists these codes of `system` as well."""
    path = derived.file("ValueSet", "-medications")

    def change(vs: dict[str, Any]) -> None:
        found = [i for i in vs["compose"]["include"] if i["system"] == system]
        if not found:
            found = [{"system": system, "concept": []}]
            vs["compose"]["include"].append(found[0])
        found[0].setdefault("concept", []).extend({"code": c} for c in codes)

    derived.edit(path, change)
    return path


def _refused(*paths: Path) -> KnowledgeConflict:
    with pytest.raises(KnowledgeConflict) as caught:
        load_knowledge(*paths)
    return caught.value


# ----- NDC product codes of products, in any form


@pytest.mark.parametrize(
    ("written", "ordered"),
    [
        ("57664-503", "57664-0503-13"),  # 5-3 product, 11-digit package with hyphens
        ("57664-503", "57664050313"),  # ... 11 digits without hyphens
        ("57664-0503-13", "57664-503-13"),  # the product writes an 11-digit package code
        ("57664050313", "57664-503"),  # 11 digits without hyphens, the order the 5-3 product
    ],
)
def test_an_order_of_a_product_ndc_in_another_form_reaches_the_drug(
    tmp_path: Path, written: str, ordered: str
) -> None:
    # The 4 mg tablet's NDC is in its MedicationKnowledge only, not in the ValueSet.
    folder = _tizanidine(tmp_path / "tizanidine", unlisted=((NDC, "57664-503"),))
    _product_ndc(folder / "MedicationKnowledge-tizanidine-4mg-tablet.json", "57664-503", written)
    knowledge = load_knowledge(folder)
    # the code alone, as a pharmacy system sends it: no name for the text search to find
    concept = {"coding": [{"system": NDC, "code": ordered}]}
    response = evaluate(request(order("mr-1", concept, tablets=4, times=3)), knowledge=knowledge)
    # 4 tablets of the product's 4 mg, three times a day
    assert ("max-daily-dose", "Tizanidine 48 mg/day exceeds the 36 mg/day maximum") in (
        cards_by_rule(response)
    )


def test_one_ndc_written_two_ways_in_two_drugs_products(tmp_path: Path) -> None:
    zoraaine = derive(tmp_path / "zoraaine", "zoraaine", 1)
    path = zoraaine.file("MedicationKnowledge", "-10mg-tablet")

    def change(product: dict[str, Any]) -> None:  # tizanidine 2 mg tablet's 57664-502
        product["code"]["coding"].append({"system": NDC, "code": "57664-0502-88"})

    zoraaine.edit(path, change)
    exc = _refused(TIZANIDINE, zoraaine.folder)
    assert (exc.file, exc.other) == (
        str(path),
        str(TIZANIDINE / "MedicationKnowledge-tizanidine-2mg-tablet.json"),
    )
    assert "the NDC product 57664-0502 is also that of tizanidine-2mg-tablet" in str(exc)


@pytest.mark.parametrize("tizanidine_first", [True, False], ids=["after", "before"])
def test_a_product_ndc_in_another_drugs_value_set_in_another_form(
    tmp_path: Path, tizanidine_first: bool
) -> None:
    # 72189-678 is the 6 mg capsule's, in its MedicationKnowledge only; the site's zoraaine
    # lists it in its ValueSet as the 11-digit package code.
    folder = _tizanidine(tmp_path / "tizanidine", unlisted=((NDC, "72189-678"),))
    zoraaine = derive(tmp_path / "zoraaine", "zoraaine", 2)
    vs = _with_concepts(zoraaine, NDC, "72189067830")
    product = folder / "MedicationKnowledge-tizanidine-6mg-capsule.json"
    if tizanidine_first:
        exc = _refused(folder, zoraaine.folder)
        assert (exc.file, exc.element, exc.other) == (
            str(vs),
            "compose.include.concept",
            str(product),
        )
    else:
        exc = _refused(zoraaine.folder, folder)
        assert (exc.file, exc.element, exc.other) == (str(product), "code.coding", str(vs))
    assert "the NDC product 72189-0678 is a medication of" in str(exc)


def test_a_product_code_in_another_drugs_value_set_names_the_product_file(
    tmp_path: Path,
) -> None:
    # tizanidine 6 MG Oral Capsule, listed by its product only
    folder = _tizanidine(tmp_path / "tizanidine", unlisted=((RXNORM, "485484"),))
    zoraaine = derive(tmp_path / "zoraaine", "zoraaine", 3)
    vs = _with_concepts(zoraaine, RXNORM, "485484")
    exc = _refused(folder, zoraaine.folder)
    assert exc.file == str(vs)
    assert exc.other == str(folder / "MedicationKnowledge-tizanidine-6mg-capsule.json")
    assert str(exc).endswith(
        f"(also in {folder / 'MedicationKnowledge-tizanidine-6mg-capsule.json'})"
    )
    assert f"{RXNORM}|485484 is a medication of tizanidine and of zoraaine" in str(exc)


# ----- ATC is-a filters


def _atc(derived: Derived, *, codes: tuple[str, ...] = (), filters: tuple[str, ...] = ()) -> Path:
    """The derived drug's medication ValueSet holds exactly these ATC codes and is-a filters."""
    path = derived.file("ValueSet", "-medications")

    def change(vs: dict[str, Any]) -> None:
        include: dict[str, Any] = {"system": ATC}
        if codes:
            include["concept"] = [{"code": c} for c in codes]
        if filters:
            include["filter"] = [{"property": "concept", "op": "is-a", "value": f} for f in filters]
        rest = [i for i in vs["compose"]["include"] if i["system"] != ATC]
        vs["compose"]["include"] = [*rest, include]

    derived.edit(path, change)
    return path


def test_an_atc_filter_covering_the_built_in_drugs_code(tmp_path: Path) -> None:
    # M03BX, "other centrally acting agents", holds baclofen's M03BX01
    zoraaine = derive(tmp_path / "zoraaine", "zoraaine", 4)
    vs = _atc(zoraaine, filters=("M03BX",))
    exc = _refused(zoraaine.folder)
    assert (exc.file, exc.element, exc.other) == (
        str(vs),
        "compose.include.filter",
        str(BUILTIN["ValueSet-baclofen-medications.json"]),
    )
    assert "the ATC is-a filter M03BX of zoraaine covers the code M03BX01 of baclofen" in str(exc)


@pytest.mark.parametrize("filter_first", [True, False], ids=["filter-first", "code-first"])
def test_an_atc_filter_covering_another_drugs_code_in_either_load_order(
    tmp_path: Path, filter_first: bool
) -> None:
    zoraaine = derive(tmp_path / "zoraaine", "zoraaine", 5)
    zorabine = derive(tmp_path / "zorabine", "zorabine", 6)
    wide = _atc(zoraaine, filters=("V99A",))
    narrow = _atc(zorabine, codes=("V99AB06",))
    if filter_first:
        exc = _refused(zoraaine.folder, zorabine.folder)
        assert (exc.file, exc.element, exc.other) == (
            str(narrow),
            "compose.include.concept",
            str(wide),
        )
    else:
        exc = _refused(zorabine.folder, zoraaine.folder)
        assert (exc.file, exc.element, exc.other) == (
            str(wide),
            "compose.include.filter",
            str(narrow),
        )
    assert "the ATC is-a filter V99A of zoraaine covers the code V99AB06 of zorabine" in str(exc)


def test_one_atc_filter_covering_another(tmp_path: Path) -> None:
    zoraaine = derive(tmp_path / "zoraaine", "zoraaine", 7)
    zorabine = derive(tmp_path / "zorabine", "zorabine", 8)
    wide = _atc(zoraaine, filters=("V99A",))
    narrow = _atc(zorabine, filters=("V99AB",))
    exc = _refused(zorabine.folder, zoraaine.folder)
    assert {exc.file, exc.other} == {str(wide), str(narrow)}
    assert "the ATC is-a filter V99A of zoraaine covers the is-a filter V99AB of zorabine" in (
        str(exc)
    )
    # the same prefix twice is refused as well
    _atc(zorabine, filters=("V99A",))
    _refused(zoraaine.folder, zorabine.folder)


def test_disjoint_atc_filters_load_and_route_each_order_to_its_drug(tmp_path: Path) -> None:
    zoraaine = derive(tmp_path / "zoraaine", "zoraaine", 9)
    zorabine = derive(tmp_path / "zorabine", "zorabine", 10)
    _atc(zoraaine, filters=("V99AA",))
    _atc(zorabine, filters=("V99AB",))
    knowledge = load_knowledge(zoraaine.folder, zorabine.folder)
    concept = {"coding": [{"system": ATC, "code": "V99AB12"}], "text": "10 mg tablet"}
    response = evaluate(request(order("mr-1", concept)), knowledge=knowledge)
    labels = {c["source"]["label"] for c in response["cards"]}
    assert labels and all(label.startswith("Zorabine") for label in labels), labels


def test_a_declared_combination_under_an_atc_filter_loads(tmp_path: Path) -> None:
    zoraaine = derive(tmp_path / "zoraaine", "zoraaine", 11)
    zorabine = derive(tmp_path / "zorabine", "zorabine", 12)
    _atc(zoraaine, filters=("V99A",))
    _atc(zorabine, codes=("V99AB52",))
    combination: dict[str, Any] = {
        "resourceType": "MedicationKnowledge",
        "id": "zoraaine-zorabine",
        "code": {"coding": [{"system": ATC, "code": "V99AB52"}], "text": "zoraaine/zorabine"},
        "status": "active",
        "ingredient": [
            {
                "itemCodeableConcept": {
                    "coding": [{"system": RXNORM, "code": d.code(RXNORM, "1292")}]
                }
            }
            for d in (zoraaine, zorabine)
        ],
    }
    write(tmp_path / "combinations", combination)
    knowledge = load_knowledge(zoraaine.folder, zorabine.folder, tmp_path / "combinations")
    assert [d.id for d in knowledge.drugs] == ["baclofen", "zoraaine", "zorabine"]
    # without the declaration, refused
    _refused(zoraaine.folder, zorabine.folder)


def _declare_combination(folder: Path, atc: str, *drugs: Derived) -> Path:
    """A MedicationKnowledge coded `atc` that lists the drugs as its ingredients."""
    return write(
        folder,
        {
            "resourceType": "MedicationKnowledge",
            "id": "combination",
            "code": {"coding": [{"system": ATC, "code": atc}], "text": "combination product"},
            "status": "active",
            "ingredient": [
                {
                    "itemCodeableConcept": {
                        "coding": [{"system": RXNORM, "code": d.code(RXNORM, "1292")}]
                    }
                }
                for d in drugs
            ],
        },
    )


@pytest.mark.parametrize("wide_first", [True, False], ids=["filter-first", "covered-first"])
@pytest.mark.parametrize(
    ("covered", "declared"),
    [
        (("code", "V99AB52"), "V99AB52"),  # the covered code
        (("code", "V99AB52"), "V99A"),  # the covering filter's code
        (("code", "V99AB52"), "V99AB"),  # a level between them
        (("filter", "V99AB"), "V99AB"),  # the covered filter's code
        (("filter", "V99AB"), "V99A"),  # the covering filter's code
    ],
)
def test_a_combination_declared_with_any_code_holding_the_overlap_loads_in_either_order(
    tmp_path: Path, wide_first: bool, covered: tuple[str, str], declared: str
) -> None:
    zoraaine = derive(tmp_path / "zoraaine", "zoraaine", 13)
    zorabine = derive(tmp_path / "zorabine", "zorabine", 14)
    _atc(zoraaine, filters=("V99A",))
    kind, code = covered
    _atc(zorabine, **({"codes": (code,)} if kind == "code" else {"filters": (code,)}))
    modules = (
        [zoraaine.folder, zorabine.folder] if wide_first else [zorabine.folder, zoraaine.folder]
    )
    _refused(*modules)  # nothing declared
    _declare_combination(tmp_path / "combinations", declared, zoraaine, zorabine)
    knowledge = load_knowledge(*modules, tmp_path / "combinations")
    # an order under the overlap is an order of both drugs, each judging it
    concept = {"coding": [{"system": ATC, "code": "V99AB52"}], "text": "10 mg tablet"}
    response = evaluate(request(order("mr-1", concept, tablets=20)), knowledge=knowledge)
    labels = {c["source"]["label"].split()[0] for c in response["cards"]}
    assert labels == {"Zoraaine", "Zorabine"}, labels


@pytest.mark.parametrize("wide_first", [True, False], ids=["filter-first", "covered-first"])
@pytest.mark.parametrize(
    ("covered", "declared"),
    [
        (("code", "V99AB52"), "V99"),  # above the covering filter: more than the overlap
        (("code", "V99AB52"), "V99AC"),  # beside it
        (("filter", "V99AB"), "V99AB52"),  # one code of an overlap that is a whole class
    ],
)
def test_a_combination_declared_with_a_code_not_holding_just_the_overlap_is_refused(
    tmp_path: Path, wide_first: bool, covered: tuple[str, str], declared: str
) -> None:
    zoraaine = derive(tmp_path / "zoraaine", "zoraaine", 15)
    zorabine = derive(tmp_path / "zorabine", "zorabine", 16)
    _atc(zoraaine, filters=("V99A",))
    kind, code = covered
    _atc(zorabine, **({"codes": (code,)} if kind == "code" else {"filters": (code,)}))
    modules = (
        [zoraaine.folder, zorabine.folder] if wide_first else [zorabine.folder, zoraaine.folder]
    )
    _declare_combination(tmp_path / "combinations", declared, zoraaine, zorabine)
    exc = _refused(*modules, tmp_path / "combinations")
    shown = "is-a filter" if kind == "filter" else "code"
    assert f"the ATC is-a filter V99A of zoraaine covers the {shown} {code} of zorabine" in (
        str(exc)
    )
    assert f"no MedicationKnowledge coded {code}, V99A or a level between lists both" in str(exc)

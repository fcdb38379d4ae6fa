"""What a formulary refuses at load, as KnowledgeConflict naming both files: one canonical in
two files, one medication code for two drugs (unless a MedicationKnowledge declares the
combination), one product code for two products, one route code in two route ValueSets of a
module; the CLI ends with exit 2 and that one line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fhir_module import KnowledgeConflict, KnowledgeError
from fhir_module.cli import main
from fhir_module.knowledge import default_files, load_knowledge

from ._derive import EXAMPLES, RXNORM, Derived, derive, write

BUILTIN = {p.name: p for p in default_files()}


def _refused(*paths: Path) -> KnowledgeConflict:
    with pytest.raises(KnowledgeConflict) as caught:
        load_knowledge(*paths)
    assert isinstance(caught.value, KnowledgeError)
    return caught.value


def _names_both(exc: KnowledgeConflict, one: Path, other: Path) -> None:
    message = str(exc)
    assert str(one) in message and str(other) in message
    assert {exc.file, exc.other} == {str(one), str(other)}


def test_one_canonical_in_two_files(tmp_path: Path) -> None:
    copy = json.loads(BUILTIN["ValueSet-route-oral.json"].read_text(encoding="utf-8"))
    copy["id"] = "route-oral-site"  # another id, the same url and version
    path = write(tmp_path, copy)
    exc = _refused(tmp_path)
    _names_both(exc, path, BUILTIN["ValueSet-route-oral.json"])
    assert "http://fhir-module.org/fhir/ValueSet/route-oral|0.1.0 is defined twice" in str(exc)


def test_two_versions_of_one_canonical(tmp_path: Path) -> None:
    # A site's edited copy of a built-in ValueSet, given a new version, beside the built-in:
    # an unversioned reference could mean either, so loading stops instead of picking one.
    copy = json.loads(BUILTIN["ValueSet-route-oral.json"].read_text(encoding="utf-8"))
    copy["id"] = "route-oral-site"
    copy["version"] = "0.2.0"
    path = write(tmp_path, copy)
    exc = _refused(tmp_path)
    _names_both(exc, path, BUILTIN["ValueSet-route-oral.json"])
    assert "versions 0.1.0 and 0.2.0" in str(exc)
    assert "load one version of a module" in str(exc)


def _with_medication(derived: Derived, code: str, display: str) -> Path:
    path = derived.file("ValueSet", "-medications")

    def change(vs: dict[str, Any]) -> None:
        rxnorm = next(i for i in vs["compose"]["include"] if i["system"] == RXNORM)
        rxnorm["concept"].append({"code": code, "display": display})

    derived.edit(path, change)
    return path


def test_one_code_in_two_drugs_medication_value_sets(tmp_path: Path) -> None:
    derived = derive(tmp_path / "zoraaine", "zoraaine", 1)
    path = _with_medication(derived, "197391", "baclofen 10 MG Oral Tablet")
    exc = _refused(derived.folder)
    _names_both(exc, path, BUILTIN["ValueSet-baclofen-medications.json"])
    assert f"{RXNORM}|197391 is a medication of baclofen and of zoraaine" in str(exc)


def test_a_medication_knowledge_listing_both_ingredients_declares_the_combination(
    tmp_path: Path,
) -> None:
    derived = derive(tmp_path / "zoraaine", "zoraaine", 2)
    _with_medication(derived, "197391", "baclofen 10 MG Oral Tablet")
    declaration: dict[str, Any] = {
        "resourceType": "MedicationKnowledge",
        "id": "baclofen-zoraaine",
        "code": {"coding": [{"system": RXNORM, "code": "197391"}]},
        "status": "active",
        "ingredient": [
            {"itemCodeableConcept": {"coding": [{"system": RXNORM, "code": "1292"}]}},
            {
                "itemCodeableConcept": {
                    "coding": [{"system": RXNORM, "code": derived.code(RXNORM, "1292")}]
                }
            },
        ],
    }
    write(tmp_path / "combinations", declaration)
    knowledge = load_knowledge(derived.folder, tmp_path / "combinations")
    assert [d.id for d in knowledge.drugs] == ["baclofen", "zoraaine"]
    # One ingredient is not a combination: still refused.
    declaration["ingredient"] = declaration["ingredient"][:1]
    write(tmp_path / "combinations", declaration)
    _refused(derived.folder, tmp_path / "combinations")


def test_one_product_code_in_two_products(tmp_path: Path) -> None:
    derived = derive(tmp_path / "zoraaine", "zoraaine", 3)
    path = derived.file("MedicationKnowledge", "-10mg-tablet")

    def change(product: dict[str, Any]) -> None:
        product["code"]["coding"][0]["code"] = "197391"  # baclofen 10 MG Oral Tablet's

    derived.edit(path, change)
    exc = _refused(derived.folder)
    _names_both(exc, path, BUILTIN["MedicationKnowledge-baclofen-10mg-tablet.json"])
    assert f"{RXNORM}|197391 is also the code of baclofen-10mg-tablet" in str(exc)


def _buccal(folder: Path, code_from: str = "ValueSet-route-oral.json") -> Path:
    """A route ValueSet route-buccal holding the codes of the shipped oral route."""
    vs = json.loads(BUILTIN[code_from].read_text(encoding="utf-8"))
    vs.update(
        id="route-buccal",
        url="http://site.example.org/fhir/ValueSet/route-buccal",
        name="RouteBuccal",
        title="Buccal route",
        description="Routes a site reads as buccal for its own module.",
    )
    return write(folder, vs)


def _routes(derived: Derived, *urls: str) -> None:
    """The derived PlanDefinition names exactly these route ValueSets (and the dose forms
    of those of its categories it keeps)."""
    categories = {url.split("|")[0].rsplit("/route-", 1)[-1] for url in urls}

    def kept(artifact: dict[str, Any]) -> bool:
        if artifact.get("label") == "form":
            return artifact["resource"].split("|")[0].rsplit("/form-", 1)[-1] in categories
        return artifact.get("label") != "route"

    def change(plan: dict[str, Any]) -> None:
        plan["relatedArtifact"] = [a for a in plan["relatedArtifact"] if kept(a)] + [
            {"type": "depends-on", "label": "route", "resource": url} for url in urls
        ]

    derived.edit(derived.file("PlanDefinition", "-order-safety"), change)


def _routes_in(path: Path, *urls: str) -> None:
    """The PlanDefinition in `path` names these route ValueSets as well."""
    plan = json.loads(path.read_text(encoding="utf-8"))
    plan["relatedArtifact"] += [
        {"type": "depends-on", "label": "route", "resource": url} for url in urls
    ]
    path.write_text(json.dumps(plan, indent=2), encoding="utf-8")


def test_two_route_value_sets_of_one_module_sharing_a_code(tmp_path: Path) -> None:
    derived = derive(tmp_path / "zoraaine", "zoraaine", 4)
    buccal = _buccal(derived.folder)
    _routes(
        derived,
        "http://fhir-module.org/fhir/ValueSet/route-oral|0.1.0",
        "http://site.example.org/fhir/ValueSet/route-buccal|0.1.0",
        "http://fhir-module.org/fhir/ValueSet/route-intrathecal|0.1.0",
    )
    exc = _refused(derived.folder)
    _names_both(exc, buccal, BUILTIN["ValueSet-route-oral.json"])
    assert "is in route buccal and in route oral" in str(exc)


def test_a_plan_definition_naming_no_route_value_set(tmp_path: Path) -> None:
    derived = derive(tmp_path / "zoraaine", "zoraaine", 5)
    _routes(derived)
    with pytest.raises(KnowledgeError, match="eca-4"):
        load_knowledge(derived.folder)


@pytest.mark.parametrize("command", ["evaluate", "package", "validate"])
def test_the_cli_exits_2_with_one_line_naming_both_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    derived = derive(tmp_path / "zoraaine", "zoraaine", 6)
    path = _with_medication(derived, "197391", "baclofen 10 MG Oral Tablet")
    knowledge = ["--knowledge", str(derived.folder)]
    args = {
        "evaluate": [str(EXAMPLES / "order-sign-max-daily-dose-oral.request.json"), *knowledge],
        "package": ["--out", str(tmp_path / "site.tgz"), *knowledge],
        "validate": [str(p) for p in sorted(derived.folder.glob("*.json"))],
    }[command]
    code = main([command, *args])
    out = capsys.readouterr()
    assert (code, out.out) == (2, "")
    assert out.err.startswith("fhir-module: knowledge conflict: ") and out.err.count("\n") == 1
    assert str(path) in out.err
    assert str(BUILTIN["ValueSet-baclofen-medications.json"]) in out.err


def test_validate_judges_a_sites_own_copy_of_the_module_without_the_built_in(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site = tmp_path / "site"
    site.mkdir()
    for path in BUILTIN.values():
        (site / path.name).write_bytes(path.read_bytes())
    files = [str(p) for p in sorted(site.glob("*.json"))]
    assert main(["validate", *files]) == 0
    assert capsys.readouterr().out.endswith("resource(s) valid\n")
    # ... but a second route ValueSet of the module sharing the oral codes is refused.
    _buccal(site)
    _routes_in(
        site / "PlanDefinition-baclofen-order-safety.json",
        "http://site.example.org/fhir/ValueSet/route-buccal|0.1.0",
    )
    code = main(["validate", *(str(p) for p in sorted(site.glob("*.json")))])
    err = capsys.readouterr().err
    assert code == 2 and "is in route" in err and str(site / "ValueSet-route-buccal.json") in err


def test_serve_refuses_the_formulary_before_listening(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    derived = derive(tmp_path / "zoraaine", "zoraaine", 7)
    path = _with_medication(derived, "197391", "baclofen 10 MG Oral Tablet")
    code = main(
        ["serve", "--port", "59999", "--db", str(tmp_path / "db.sqlite")]
        + ["--knowledge", str(derived.folder)]
    )
    # (after the one line saying the service would run in open mode)
    last = capsys.readouterr().err.splitlines()[-1]
    assert code == 2
    assert last.startswith("fhir-module: knowledge conflict: ") and str(path) in last
    assert not (tmp_path / "db.sqlite").exists()  # refused before the database was opened


def test_a_route_fact_reads_only_a_route_value_set_its_plan_definition_names(
    tmp_path: Path,
) -> None:
    derived = derive(tmp_path / "zoraaine", "zoraaine", 8)
    library = derived.file("Library", "-order-safety")
    text = library.read_text(encoding="utf-8")
    assert text.count("/ValueSet/route-intrathecal") == 1
    # its route-history fact reads route-other-injection, which the PlanDefinition leaves out
    library.write_text(text.replace("/route-intrathecal", "/route-other-injection"), "utf-8")
    _routes(
        derived,
        "http://fhir-module.org/fhir/ValueSet/route-oral|0.1.0",
        "http://fhir-module.org/fhir/ValueSet/route-intrathecal|0.1.0",
    )
    with pytest.raises(KnowledgeError, match="fact-route.*the module's PlanDefinition names"):
        load_knowledge(derived.folder)

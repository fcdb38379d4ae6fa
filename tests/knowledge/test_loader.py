"""A broken knowledge file stops loading with a message naming the file and the element."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fhir_module import KnowledgeConflict, KnowledgeError, load_knowledge
from fhir_module.knowledge import default_files

PD = "PlanDefinition-baclofen-order-safety.json"
MK = "MedicationKnowledge-baclofen.json"


@pytest.fixture()
def copy(tmp_path: Path) -> Path:
    for path in default_files():
        shutil.copy(path, tmp_path / path.name)
    return tmp_path


def edit(folder: Path, name: str, change: Callable[[dict[str, Any]], None]) -> None:
    path = folder / name
    resource = json.loads(path.read_text())
    change(resource)
    path.write_text(json.dumps(resource))


def load(folder: Path) -> None:
    load_knowledge(folder, include_default=False)


def test_the_copy_loads(copy: Path) -> None:
    load(copy)


def test_invalid_json(copy: Path) -> None:
    (copy / MK).write_text("{ not json")
    with pytest.raises(KnowledgeError, match=rf"^{MK}: \$: is not valid JSON"):
        load(copy)


def test_wrong_fhir_structure(copy: Path) -> None:
    edit(copy, MK, lambda r: r.update(status=["active"]))
    with pytest.raises(KnowledgeError) as err:
        load(copy)
    assert (err.value.file, err.value.element) == (MK, "status")


def test_dangling_product_reference(copy: Path) -> None:
    (copy / "MedicationKnowledge-baclofen-10mg-tablet.json").unlink()
    with pytest.raises(KnowledgeError, match="MedicationKnowledge/baclofen-10mg-tablet does not"):
        load(copy)


def test_unknown_rule_id(copy: Path) -> None:
    edit(copy, PD, lambda r: r["action"][0]["code"][0]["coding"][0].update(code="no-such-rule"))
    with pytest.raises(KnowledgeError) as err:
        load(copy)
    assert (err.value.file, err.value.element) == (PD, "action[0].code")
    assert "'no-such-rule' is not a code" in err.value.problem


@pytest.mark.parametrize(
    ("expression", "problem"),
    [
        ("%pregnant and (", "syntax error"),
        ("%pregnant.nosuchfunction()", "Not implemented"),
        ("%notAVariable", "reads %notAVariable, neither an engine variable nor a fact"),
    ],
)
def test_bad_fhirpath_condition(copy: Path, expression: str, problem: str) -> None:
    edit(
        copy,
        PD,
        lambda r: r["action"][0]["condition"][0]["expression"].update(expression=expression),
    )
    with pytest.raises(KnowledgeError, match=problem) as err:
        load(copy)
    assert err.value.element == "action[0]"


def test_bad_template_placeholder(copy: Path) -> None:
    edit(copy, PD, lambda r: r["action"][3].update(title="Baclofen {{%dailyDose >}}"))
    with pytest.raises(KnowledgeError, match="syntax error"):
        load(copy)


def test_unknown_unit_in_a_guideline(copy: Path) -> None:
    def change(r: dict[str, Any]) -> None:
        dosage = r["administrationGuidelines"][0]["dosage"][0]["dosage"][0]
        dosage["maxDosePerPeriod"]["numerator"].update(code="mg/kg", unit="mg/kg")

    edit(copy, MK, change)
    with pytest.raises(KnowledgeError, match="not a UCUM mass unit") as err:
        load(copy)
    assert err.value.element == "administrationGuidelines[0].dosage[0].dosage[0]"


def test_profile_violation_missing_citation(copy: Path) -> None:
    edit(
        copy,
        MK,
        lambda r: r["administrationGuidelines"][0]["dosage"][0]["dosage"][0].pop("extension"),
    )
    with pytest.raises(KnowledgeError, match="at least 1 required") as err:
        load(copy)
    assert err.value.file == MK


def test_profile_invariant_age_needs_range(copy: Path) -> None:
    edit(
        copy,
        MK,
        lambda r: r["administrationGuidelines"][1]["patientCharacteristics"][0].pop("extension"),
    )
    with pytest.raises(KnowledgeError, match="dk-5"):
        load(copy)


def test_unresolved_canonical(copy: Path) -> None:
    edit(
        copy,
        PD,
        lambda r: r["action"][0]["trigger"][0]["data"][0]["codeFilter"][0].update(
            valueSet="http://fhir-module.org/fhir/ValueSet/nowhere"
        ),
    )
    with pytest.raises(KnowledgeError, match="does not resolve in the module") as raised:
        load(copy)
    assert raised.value.element == "action[0].trigger[0].data[0].codeFilter[0].valueSet"


def test_unresolved_canonical_named_where_first_met(copy: Path) -> None:
    # one URL that resolves to nothing, twice in a file: the error names its first place
    nowhere = "http://fhir-module.org/fhir/ValueSet/nowhere"

    def change(r: dict[str, Any]) -> None:
        r["action"][1]["trigger"][0]["data"][0]["codeFilter"][0]["valueSet"] = nowhere
        r["action"][2]["trigger"][0]["data"][0]["codeFilter"][0]["valueSet"] = nowhere

    edit(copy, PD, change)
    with pytest.raises(KnowledgeError, match="nowhere does not resolve") as raised:
        load(copy)
    assert raised.value.element == "action[1].trigger[0].data[0].codeFilter[0].valueSet"


def test_value_set_filter_that_cannot_be_evaluated(copy: Path) -> None:
    def change(r: dict[str, Any]) -> None:
        r["compose"]["include"].append(
            {
                "system": "http://snomed.info/sct",
                "filter": [{"property": "concept", "op": "is-a", "value": "50043002"}],
            }
        )

    edit(copy, "ValueSet-respiratory-diseases.json", change)
    with pytest.raises(KnowledgeError, match="only is-a on ICD-10"):
        load(copy)


def test_duplicate_id(copy: Path) -> None:
    shutil.copy(copy / MK, copy / "another-copy.json")
    with pytest.raises(KnowledgeConflict, match="defined twice") as caught:
        load(copy)
    assert "another-copy.json" in str(caught.value) and MK in str(caught.value)


def _child(plan: dict[str, Any], rule: str) -> dict[str, Any]:
    action = next(a for a in plan["action"] if a["code"][0]["coding"][0]["code"] == rule)
    child: dict[str, Any] = action["action"][0]
    return child


@pytest.mark.parametrize(
    ("rule", "change", "problem"),
    [
        (
            "pregnancy",
            lambda c: c["type"]["coding"][0].update(code="create"),
            "'create' suggestions are not built by the engine",
        ),
        (
            "pregnancy",
            lambda c: c["type"]["coding"][0].update(code="fire-event"),
            "'fire-event' suggestions are not built",
        ),
        ("max-daily-dose", lambda c: c.pop("dynamicValue"), "dailyDoseLimit required"),
        (
            "max-daily-dose",
            lambda c: c["dynamicValue"][0].update(path="dailyDose"),
            "not dailyDose",
        ),
        (
            "pregnancy",
            lambda c: c.update(
                dynamicValue=[
                    {
                        "path": "status",
                        "expression": {"language": "text/fhirpath", "expression": "'cancelled'"},
                    }
                ]
            ),
            "not status",
        ),
    ],
)
def test_a_suggestion_the_engine_does_not_build_is_refused_at_load(
    copy: Path, rule: str, change: Callable[[dict[str, Any]], None], problem: str
) -> None:
    edit(copy, PD, lambda r: change(_child(r, rule)))
    with pytest.raises(KnowledgeError, match=problem) as err:
        load(copy)
    assert err.value.file == PD and err.value.element.startswith("action[")

"""A profile invariant's verdict is remembered per value of what it reads: for every shipped
invariant on every shipped resource, and on faulty copies of them, the constraint gives the
same verdict on the element and on the part of it the key is made of."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fhirpathpy.models import models

from fhir_module import load_knowledge
from fhir_module.fhirpath import compiled
from fhir_module.knowledge import Knowledge
from fhir_module.knowledge._profiles import Invariant, ProfileChecker, read_part, reads

R4 = models["r4"]
TIZANIDINE = Path(__file__).resolve().parents[2] / "modules" / "tizanidine"


@pytest.fixture(scope="module")
def shipped() -> Knowledge:
    return load_knowledge(TIZANIDINE)


def faulty(value: Any) -> Iterator[Any]:
    """Copies of a JSON element, each with one fault: a member left out, a string changed,
    a list item dropped (at most a few dozen copies)."""
    made = 0

    def walk(node: Any, path: tuple[Any, ...]) -> Iterator[tuple[tuple[Any, ...], str]]:
        if isinstance(node, dict):
            for k, v in node.items():
                yield (*path, k), "drop"
                yield from walk(v, (*path, k))
        elif isinstance(node, list):
            for i, v in enumerate(node):
                yield (*path, i), "drop"
                yield from walk(v, (*path, i))
        elif isinstance(node, str):
            yield path, "change"

    for path, fault in walk(value, ()):
        if not path:
            continue
        broken = copy.deepcopy(value)
        parent = broken
        for step in path[:-1]:
            parent = parent[step]
        if fault == "drop":
            del parent[path[-1]]
        else:
            parent[path[-1]] = parent[path[-1]][::-1] + "x"
        yield broken
        made += 1
        if made >= 60:
            return


def outcome(run: Callable[..., list[Any]], *args: Any, whole: bool) -> bool | str:
    """Whether the invariant holds (evaluated whole: unless its result is false; on an
    element: if it is true), or the error fhirpathpy raised."""
    try:
        result = run(*args)
        return result != [False] if whole else result == [True]
    except Exception as exc:  # fhirpathpy raises bare errors on malformed elements
        return type(exc).__name__


def verdicts(
    checker: ProfileChecker, resource: dict[str, Any], check: Invariant
) -> Iterator[tuple[str, Any, bool | str, bool | str]]:
    """(text, value, verdict on the value, verdict on what of it the text reads)."""
    elements = checker._elements(resource, check)
    if elements is None:
        names = reads(check.expression)
        if names is None:
            return
        whole = compiled(check.expression)
        for value in (resource, *faulty(resource)):
            yield (
                check.expression,
                value,
                outcome(whole.typed, value, R4, whole=True),
                outcome(whole.typed, read_part(value, names), R4, whole=True),
            )
        return
    names = reads(check.constraint)
    if names is None:
        return
    one = compiled(f"all({check.constraint})")
    for base, _, node in elements:
        data = node.data if hasattr(node, "data") else node
        for value in (data, *faulty(data)):
            yield (
                check.constraint,
                value,
                outcome(one.typed, value, R4, base, whole=False),
                outcome(one.typed, read_part(value, names), R4, base, whole=False),
            )


def test_every_shipped_invariant_gives_one_verdict_on_what_it_reads(shipped: Knowledge) -> None:
    checker = shipped.profile_checker
    seen = 0
    texts: set[str] = set()
    failing = 0
    for f in shipped.files:
        for check in checker.invariant_checks(f.resource):
            for text, value, full, part in verdicts(checker, f.resource, check):
                assert full == part, (f.name, text, json.dumps(value)[:300])
                seen += 1
                texts.add(text)
                failing += full is not True
    assert len(texts) >= 12  # the keyed invariants of the profiles and extensions
    assert seen > 1000
    assert failing > 50  # the faulty copies do break the invariants


@pytest.mark.parametrize(
    "text",
    [
        "a = b",  # two elements compared: every part of them counts
        "code ~ %other",
        "descendants().where(url = 'x').exists()",
        "children().count() = 2",
        "%resource.id.exists()",
        "a.toString() = 'x'",
        "(a | b).count() = 1",
        "a in b",
        "resolve().exists()",
        "a.where($index = 0).exists()",
    ],
)
def test_an_expression_that_may_read_more_than_it_names_is_keyed_whole(text: str) -> None:
    assert reads(text) is None


def test_what_an_expression_reads() -> None:
    names = reads("doseAndRate.rate.ofType(Range).all(low.code.endsWith('/d'))")
    assert names is not None
    dose = {
        "text": "10 mg",
        "doseAndRate": [
            {
                "type": {"text": "ordered"},
                "rateRange": {"low": {"value": 1, "code": "mg/d"}},
                "_rateRange": {"id": "a"},
            }
        ],
        "sequence": 1,
    }
    assert read_part(dose, names) == {
        "text": 0,
        "doseAndRate": [
            {"type": 0, "rateRange": {"low": {"value": 0, "code": "mg/d"}}, "_rateRange": {"id": 0}}
        ],
        "sequence": 0,
    }
    extension = reads("extension('variable').exists()")
    assert extension is not None and extension.members["extension"].members["url"].whole
    # a name is read where the expression navigates to it, not wherever it occurs
    rule = reads("code.coding.where(system.endsWith('rules')).exists()")
    assert rule is not None
    action = {
        "title": "Drug A above the maximum",
        "code": [{"coding": [{"system": "http://x/rules", "code": "a-max"}]}],
        "action": [{"code": [{"coding": [{"system": "http://x/rules"}]}]}],
    }
    assert read_part(action, rule) == {
        "title": 0,
        "code": [{"coding": [{"system": "http://x/rules", "code": 0}]}],
        "action": 0,
    }


def test_doses_that_differ_in_their_text_share_one_evaluation(shipped: Knowledge) -> None:
    checker = ProfileChecker(shipped.profile_checker.definitions)
    resource = next(
        f.resource
        for f in shipped.files
        if f.resource["resourceType"] == "MedicationKnowledge"
        and f.resource.get("administrationGuidelines")
    )
    assert checker.check(resource) == []
    known = len(checker._known)
    other = copy.deepcopy(resource)
    for guideline in other["administrationGuidelines"]:
        for dosage in guideline.get("dosage") or []:
            for one in dosage.get("dosage") or []:
                one["text"] = "another text"
    assert checker.check(other) == []
    assert len(checker._known) == known

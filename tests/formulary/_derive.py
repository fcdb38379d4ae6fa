"""Drug modules derived from the shipped baclofen module, as a site would write its own: new
ids, canonical URLs, names and codes; the shared resources (rule CodeSystem, route and
patient-fact ValueSets, override reasons, profiles) are named by canonical, not copied."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from fhir_module.knowledge import default_files

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
BASE = "http://fhir-module.org/fhir/"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
SNOMED = "http://snomed.info/sct"
ATC = "http://www.whocc.no/atc"
ORAL_ROUTE = {"system": SNOMED, "code": "26643006", "display": "Oral route"}

#: the files of the baclofen module that make one drug (the rest is shared)
_OWN = re.compile(r"^(MedicationKnowledge|PlanDefinition|Library|ValueSet)-baclofen[-.]")
_NAME = re.compile(r"baclof[eè]n[eo]?|baklofen", re.IGNORECASE)
_BRAND = re.compile(r"Lioresal(?: Intrathecal)?|Gablofen|Ozobax|Lyvispah|Fleqsuvy")
_IDENTIFIER = re.compile(r"^[A-Za-z0-9\-.:/|_#]+$")
#: the elements whose strings are ids or references (a multi-word name goes in as a slug)
_REFERENCES = frozenset({"id", "url", "reference", "resource", "valueSet", "valueCanonical"})

Resource = dict[str, Any]


def baclofen_files() -> dict[str, Resource]:
    """The shipped baclofen module's own files (file name -> resource)."""
    return {
        p.name: json.loads(p.read_text(encoding="utf-8"))
        for p in default_files()
        if _OWN.match(p.name)
    }


def _cased(found: str, name: str) -> str:
    if found.isupper():
        return name.upper()
    if found[:1].isupper():
        return name[:1].upper() + name[1:]
    return name


def _camel(name: str) -> str:
    return "".join(w[:1].upper() + w[1:] for w in re.split(r"[\s\-]+", name))


def new_code(system: str, n: int, k: int) -> str:
    """The k-th code of the n-th derived drug in a system, shaped like that system's codes."""
    if system == RXNORM:
        return str(990_000_000 + n * 100 + k)
    if system == SNOMED:
        return str(999_000_000_000 + n * 100 + k)
    if system == ATC:
        return f"V99A{chr(ord('A') + n // 100)}{n % 100:02d}"
    return f"FM{n:05d}{k:03d}"


class Derived:
    """One derived module: its folder, its name and how its codes map from baclofen's."""

    def __init__(self, folder: Path, name: str, codes: dict[tuple[str, str], str]) -> None:
        self.folder = folder
        self.name = name
        self.codes = codes

    @property
    def slug(self) -> str:
        return "-".join(self.name.lower().split())

    def code(self, system: str, baclofen_code: str) -> str:
        """The module's code for what baclofen codes `baclofen_code` in `system`."""
        return self.codes[(system, baclofen_code)]

    def file(self, kind: str, suffix: str = "") -> Path:
        return self.folder / f"{kind}-{self.slug}{suffix}.json"

    def edit(self, path: Path, change: Callable[[Resource], None]) -> None:
        resource = json.loads(path.read_text(encoding="utf-8"))
        change(resource)
        path.write_text(json.dumps(resource, indent=2, ensure_ascii=False), encoding="utf-8")


def derive(
    folder: Path,
    name: str,
    n: int,
    *,
    keep_codes: Iterable[tuple[str, str]] = (),
) -> Derived:
    """Write a module for drug `name` (one word or several) to `folder`: baclofen's module
    with every id, URL, name and medication code replaced (the n-th derived drug's codes),
    but the codes in `keep_codes`, which stay baclofen's."""
    folder.mkdir(parents=True, exist_ok=True)
    files = baclofen_files()
    medications = files["ValueSet-baclofen-medications.json"]
    kept = set(keep_codes)
    codes: dict[tuple[str, str], str] = {}
    for inc in medications["compose"]["include"]:
        for k, concept in enumerate(inc.get("concept") or []):
            key = (inc["system"], concept["code"])
            codes[key] = key[1] if key in kept else new_code(inc["system"], n, k)
    slug = "-".join(name.lower().split())

    def text(value: str, key: str) -> str:
        if key == "name" and _IDENTIFIER.match(value):
            return _NAME.sub(lambda m: _camel(name), value)
        if _IDENTIFIER.match(value) and (
            key in _REFERENCES or value.startswith("http") or "/" in value
        ):
            return _NAME.sub(lambda m: _cased(m.group(0), slug), value)
        value = _BRAND.sub(name, value)
        return _NAME.sub(lambda m: _cased(m.group(0), name), value)

    def walk(node: Any, key: str = "", system: str | None = None) -> Any:
        if isinstance(node, dict):
            here = node.get("system") if isinstance(node.get("system"), str) else system
            out = {k: walk(v, k, here) for k, v in node.items()}
            if isinstance(node.get("code"), str) and here and (here, node["code"]) in codes:
                out["code"] = codes[(here, node["code"])]
            return out
        if isinstance(node, list):
            return [walk(v, key, system) for v in node]
        if isinstance(node, str):
            return text(node, key)
        return node

    for file_name, resource in files.items():
        derived = walk(copy.deepcopy(resource))
        if derived["resourceType"] == "MedicationKnowledge" and "synonym" in derived:
            derived["synonym"] = [name]
        target = folder / _NAME.sub(slug, file_name)
        target.write_text(json.dumps(derived, indent=2, ensure_ascii=False), encoding="utf-8")
    return Derived(folder, name, codes)


def write(folder: Path, res: Resource) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{res['resourceType']}-{res['id']}.json"
    path.write_text(json.dumps(res, indent=2, ensure_ascii=False), encoding="utf-8")
    return path


def order(
    rid: str,
    concept: Resource | None = None,
    *,
    medication: str | None = None,
    tablets: int = 4,
    times: int = 4,
    mg: int | None = None,
) -> Resource:
    """A draft MedicationRequest as EHRs send it: `tablets` tablets (or `mg` mg) `times`
    a day by mouth, of a coded concept or a Medication reference."""
    dose: Resource = (
        {"value": mg, "unit": "mg", "system": "http://unitsofmeasure.org", "code": "mg"}
        if mg is not None
        else {
            "value": tablets,
            "unit": "tablet",
            "system": "http://unitsofmeasure.org",
            "code": "{tbl}",
        }
    )
    out: Resource = {
        "resourceType": "MedicationRequest",
        "id": rid,
        "status": "draft",
        "intent": "order",
        "subject": {"reference": "Patient/pat-1"},
        "authoredOn": "2026-11-26",
    }
    if medication is not None:
        out["medicationReference"] = {"reference": medication}
    else:
        out["medicationCodeableConcept"] = concept
    out["dosageInstruction"] = [
        {
            "text": f"{mg or tablets} {'mg' if mg else 'tablets'} {times} times a day",
            "timing": {"repeat": {"frequency": times, "period": 1, "periodUnit": "d"}},
            "route": {"coding": [dict(ORAL_ROUTE)]},
            "doseAndRate": [{"doseQuantity": dose}],
        }
    ]
    return out


def request(*resources: Resource) -> Resource:
    """An order-sign call for an adult with nothing else on record, the drafts (and any
    Medication they reference) in draftOrders."""
    return {
        "hookInstance": "5d1c2b0e-7a8f-4c3e-9b6d-2f1e0a9c8b7d",
        "hook": "order-sign",
        "context": {
            "userId": "Practitioner/prac-1",
            "patientId": "pat-1",
            "draftOrders": {
                "resourceType": "Bundle",
                "type": "collection",
                "entry": [{"resource": r} for r in resources],
            },
        },
        "prefetch": {
            "patient": {
                "resourceType": "Patient",
                "id": "pat-1",
                "gender": "male",
                "birthDate": "1971-04-12",
            },
            "observations": {"resourceType": "Bundle", "type": "searchset", "entry": []},
            "conditions": {"resourceType": "Bundle", "type": "searchset", "entry": []},
            "medications": {"resourceType": "Bundle", "type": "searchset", "entry": []},
        },
    }


def tablet(derived: Derived | None, display: str = "10 MG Oral Tablet") -> Resource:
    """The coded concept of a 10 mg tablet of the derived drug (None: baclofen's)."""
    code = "197391" if derived is None else derived.code(RXNORM, "197391")
    name = "baclofen" if derived is None else derived.name
    return {"coding": [{"system": RXNORM, "code": code, "display": f"{name} {display}"}]}


def cards_by_rule(response: Resource) -> list[tuple[str, str]]:
    return [(c["source"]["topic"]["code"], c["summary"]) for c in response["cards"]]

"""A synthetic formulary: N drug modules made from the shipped baclofen module.

Each module is a copy of baclofen's own resources (its PlanDefinition, Library,
MedicationKnowledge resources, medication ValueSet and rule CodeSystem) under a made-up
one-word drug name (``drug0001``, ``drug0002``...): every resource gets a new id and
canonical URL, and every reference to either is rewritten; every medication and product
code becomes a code of the benchmark's own code system (``FORMULARY_SYSTEM``), never a real
RxNorm, SNOMED CT, ATC or UNII code; every name of the drug (its own, its translations and
brand names) becomes the new name. No two modules share a URL, a code or a name. The shared
vocabulary (routes, dose forms, units, pregnancy and lactation findings, fact kinds,
override reasons) stays the built-in module's, which the modules load beside.

``write_formulary(folder, n)`` writes the files; ``order_request(drug)`` is the over-maximum
oral order of examples/order-sign-max-daily-dose-oral for one of those drugs, so that each
drug's maximum-dose card fires. Nothing here imports fhir_module.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "fhir_module" / "knowledge" / "data"
EXAMPLES = ROOT / "examples"
#: the benchmark's local code system for the synthetic medication and product codes
FORMULARY_SYSTEM = "http://example.org/fhir-module-benchmark/CodeSystem/formulary"
#: the module's own drug-specific files are those whose id holds this, plus its rule codes
SOURCE_DRUG = "baclofen"
SOURCE_RULES = "CodeSystem-cds-rules.json"
#: every spelling of the source drug in the module's texts: its name in several languages
#: and its brand names (longest first, so "Lioresal Intrathecal" goes before "Lioresal")
_NAMES = re.compile(
    r"lioresal intrathecal|lioresal|gablofen|ozobax|lyvispah|fleqsuvy|bac?k?lof[eè]n[eo]?",
    re.IGNORECASE,
)
#: the example order above the oral maximum, whose medication is the 10 mg tablet
ORDER_EXAMPLE = "order-sign-max-daily-dose-oral"


@dataclass(frozen=True)
class SyntheticDrug:
    """One generated module: its drug name, folder and the codes an order may use."""

    name: str
    folder: Path
    #: the source code of each product (e.g. RxNorm 197391) -> its synthetic code
    codes: dict[str, str]


def drug_name(index: int) -> str:
    """The made-up one-word name of the index-th drug (1-based)."""
    return f"drug{index:04d}"


def source_files() -> list[Path]:
    """The shipped module's files that make up the drug itself."""
    return sorted(p for p in DATA.glob("*.json") if SOURCE_DRUG in p.name or p.name == SOURCE_RULES)


def _walk(node: Any, change: Callable[[str, Any], Any], key: str = "") -> Any:
    """A copy of the JSON with every value, inner ones first, passed through `change` with
    the key it is under (items of a list: the list's key)."""
    if isinstance(node, dict):
        node = {k: _walk(v, change, k) for k, v in node.items()}
    elif isinstance(node, list):
        node = [_walk(v, change, key) for v in node]
    return change(key, node)


def _coding(node: dict[str, Any]) -> tuple[str, str]:
    """(system, code) of a Coding; empty strings for anything else."""
    system, code = node.get("system"), node.get("code")
    if isinstance(system, str) and isinstance(code, str):
        return system, code
    return "", ""


def _medication_codes(resources: Iterable[dict[str, Any]]) -> set[tuple[str, str]]:
    """(system, code) of every concept of the module's medication ValueSets."""
    found: set[tuple[str, str]] = set()
    for res in resources:
        if res["resourceType"] != "ValueSet":
            continue
        for include in (res.get("compose") or {}).get("include") or []:
            for concept in include.get("concept") or []:
                found.add((include["system"], concept["code"]))
    return found


def synthetic_module(
    index: int, sources: list[dict[str, Any]]
) -> tuple[str, dict[str, str], list[dict[str, Any]]]:
    """The index-th drug's name, code map and resources, made from the source resources."""
    name = drug_name(index)
    new_id = {}
    for res in sources:
        old = res["id"]
        new_id[(res["resourceType"], old)] = (
            old.replace(SOURCE_DRUG, name) if SOURCE_DRUG in old else f"{name}-{old}"
        )
    urls = {
        res["url"]: res["url"][: res["url"].rfind("/") + 1]
        + new_id[(res["resourceType"], res["id"])]
        for res in sources
        if res.get("url")
    }
    references = {f"{t}/{old}": f"{t}/{new}" for (t, old), new in new_id.items()}
    medication = _medication_codes(sources)
    codes = {code: f"{name}-{code}" for _, code in sorted(medication)}
    if len(codes) != len(medication):
        raise ValueError("the source module uses one code in two medication code systems")

    def text(value: str) -> str:
        base, bar, version = value.partition("|")
        if base in urls:
            return urls[base] + bar + version
        if value in references:
            return references[value]
        return _NAMES.sub(name, value)

    def change(key: str, value: Any) -> Any:
        if isinstance(value, str):
            return text(value)
        if isinstance(value, dict) and _coding(value) in medication:
            return {**value, "system": FORMULARY_SYSTEM, "code": codes[value["code"]]}
        if key == "compose" and isinstance(value, dict):
            return {**value, "include": _one_include(value.get("include") or [], medication, codes)}
        if key in ("synonym", "designation") and isinstance(value, list):
            return _unique(value)
        return value

    out = []
    for res in sources:
        copied = _walk(copy.deepcopy(res), change)
        copied["id"] = new_id[(res["resourceType"], res["id"])]
        out.append(copied)
    return name, codes, out


def _one_include(
    includes: list[dict[str, Any]], medication: set[tuple[str, str]], codes: dict[str, str]
) -> list[dict[str, Any]]:
    """A medication ValueSet's includes: its medication concepts in the local system."""
    kept = []
    local: list[dict[str, Any]] = []
    for include in includes:
        system = include.get("system")
        concepts = include.get("concept") or []
        if any((system, c.get("code")) in medication for c in concepts):
            local += [{**c, "code": codes[c["code"]]} for c in concepts]
        else:
            kept.append(include)
    return [{"system": FORMULARY_SYSTEM, "concept": local}, *kept] if local else kept


def _unique(items: list[Any]) -> list[Any]:
    """Items without repeats (names that became the same one), in their order."""
    seen: list[Any] = []
    for item in items:
        if item not in seen:
            seen.append(item)
    return seen


def write_formulary(folder: Path, count: int) -> list[SyntheticDrug]:
    """Write `count` drug modules into folder/drugNNNN/, and describe them."""
    sources = [json.loads(p.read_text(encoding="utf-8")) for p in source_files()]
    drugs = []
    for index in range(1, count + 1):
        name, codes, resources = synthetic_module(index, sources)
        target = folder / name
        target.mkdir(parents=True, exist_ok=True)
        for res in resources:
            path = target / f"{res['resourceType']}-{res['id']}.json"
            path.write_text(json.dumps(res, indent=1, ensure_ascii=False), encoding="utf-8")
        drugs.append(SyntheticDrug(name, target, codes))
    return drugs


def _order_request() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(
        (EXAMPLES / f"{ORDER_EXAMPLE}.request.json").read_text(encoding="utf-8")
    )
    return document


def synthetic_order(drug: SyntheticDrug, template: dict[str, Any]) -> dict[str, Any]:
    """A MedicationRequest of the template's, its medication codes and names the drug's."""

    def change(key: str, value: Any) -> Any:
        if isinstance(value, str):
            return _NAMES.sub(drug.name, value)
        if isinstance(value, dict) and _coding(value)[1] in drug.codes:
            return {**value, "system": FORMULARY_SYSTEM, "code": drug.codes[value["code"]]}
        return value

    order: dict[str, Any] = _walk(copy.deepcopy(template), change)
    return order


def drafts_of(request: dict[str, Any]) -> list[dict[str, Any]]:
    """The draft MedicationRequests of a CDS Hooks request."""
    return [e["resource"] for e in request["context"]["draftOrders"]["entry"]]


def order_request(drugs: list[SyntheticDrug] | SyntheticDrug | None) -> dict[str, Any]:
    """The over-maximum example request with one draft per drug given (its prefetched
    active order kept, for the first drug); None: the order's medication known to no module
    (a made-up code and name)."""
    request = _order_request()
    draft = drafts_of(request)[0]
    active = request["prefetch"]["medications"]["entry"]
    if drugs is None:
        unknown = SyntheticDrug("nodrug", Path(), {c: "none" for c in _product_codes(draft)})
        drafts = [synthetic_order(unknown, draft)]
        request["prefetch"]["medications"]["entry"] = []
    else:
        listed = drugs if isinstance(drugs, list) else [drugs]
        drafts = [synthetic_order(d, draft) for d in listed]
        for i, order in enumerate(drafts):
            order["id"] = f"{order['id']}-{i + 1}"
        for entry in active:
            entry["resource"] = synthetic_order(listed[0], entry["resource"])
    request["context"]["draftOrders"]["entry"] = [{"resource": d} for d in drafts]
    return request


def _product_codes(order: dict[str, Any]) -> list[str]:
    return [str(c["code"]) for c in order["medicationCodeableConcept"]["coding"]]

"""The data the rules need, as CDS Hooks prefetch templates (FHIR R4 search syntax).

Derived from what reads the patient's record: the engine variables of the registry (each
unit names the resource types it needs, e.g. %patient the Patient) and the fact declarations
of every loaded module (docs/facts.md), merged per resource type: one key per type some
variable or declaration reads, the Observation codes of every declared Observation
codeFilter ValueSet. A new fact is fetched by declaring it.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from weakref import WeakKeyDictionary

from ..knowledge import Declaration, Knowledge
from ._registry import REGISTRY, Registry

#: prefetch key -> the resource type its data holds
KEYS = {
    "patient": "Patient",
    "observations": "Observation",
    "conditions": "Condition",
    "medications": "MedicationRequest",
}
#: kinds whose records come from the hook's own context, never prefetched
FROM_CONTEXT = frozenset({"order-dose"})
_PATIENT = "{{context.patientId}}"


def observation_codes(declarations: tuple[Declaration, ...]) -> str | None:
    """'system|code' tokens of every declared Observation ValueSet, joined: the ValueSets in
    canonical URL order, each one's codes sorted, each token once; None when one of them holds
    a filter a search cannot carry (then every Observation of the patient is read)."""
    value_sets = {
        vs.url: vs for d in declarations if d.resource_type == "Observation" for vs in d.filters
    }
    tokens: dict[str, None] = {}
    for url in sorted(value_sets):
        if value_sets[url].filters:
            return None
        tokens.update(dict.fromkeys(sorted(f"{s}|{c}" for s, c in value_sets[url].codes)))
    return ",".join(tokens)


#: the templates of each loaded knowledge, kept while it is alive (and no longer)
_TEMPLATES: WeakKeyDictionary[Knowledge, Mapping[str, str]] = WeakKeyDictionary()


def prefetch_templates(knowledge: Knowledge) -> Mapping[str, str]:
    """The prefetch templates a service advertises in discovery (built once per knowledge)."""
    found = _TEMPLATES.get(knowledge)
    if found is None:
        found = _TEMPLATES.setdefault(knowledge, templates_for(knowledge))
    return found


def templates_for(knowledge: Knowledge, registry: Registry = REGISTRY) -> Mapping[str, str]:
    """The prefetch templates of what `registry`'s variables and `knowledge`'s fact
    declarations read."""
    declarations = tuple(d for d in knowledge.declarations if d.kind not in FROM_CONTEXT)
    types = {d.resource_type for d in declarations} | registry.reads
    templates: dict[str, str] = {}
    if "Patient" in types:
        templates["patient"] = f"Patient/{_PATIENT}"
    if "Observation" in types:
        codes = observation_codes(declarations)
        code = f"&code={codes}" if codes is not None else ""
        templates["observations"] = f"Observation?patient={_PATIENT}{code}&_sort=-date&_count=100"
    if "Condition" in types:
        # Condition ValueSets hold ICD-10 is-a filters: membership is checked locally.
        templates["conditions"] = f"Condition?patient={_PATIENT}&_count=100"
    if "MedicationRequest" in types:
        # No status parameter (route histories read stopped orders too); the Medications
        # the orders reference come with them.
        templates["medications"] = (
            f"MedicationRequest?patient={_PATIENT}&_include=MedicationRequest:medication&_count=100"
        )
    return MappingProxyType(templates)

"""The data the rules need, as CDS Hooks prefetch templates (FHIR R4 search syntax).

The observation codes come from the knowledge's status-observation ValueSets,
so a site that adds a code to a ValueSet gets it prefetched too.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from types import MappingProxyType

from ..knowledge import Knowledge

#: prefetch key -> the resource type its data holds
KEYS = {
    "patient": "Patient",
    "observations": "Observation",
    "conditions": "Condition",
    "medications": "MedicationRequest",
}
STATUS_OBSERVATIONS = ("pregnancy-status-observations", "breastfeeding-status-observations")


def observation_codes(knowledge: Knowledge) -> list[str]:
    """'system|code' tokens of every status observation the facts read."""
    tokens: list[str] = []
    for url, vs in sorted(knowledge.value_sets.items()):
        if url.rsplit("/", 1)[-1] in STATUS_OBSERVATIONS:
            tokens += sorted(f"{system}|{code}" for system, code in vs.codes)
    return tokens


@lru_cache(maxsize=8)
def prefetch_templates(knowledge: Knowledge) -> Mapping[str, str]:
    """The prefetch templates a service advertises in discovery (built once per knowledge)."""
    pid = "{{context.patientId}}"
    codes = ",".join(observation_codes(knowledge))
    return MappingProxyType(
        {
            "patient": f"Patient/{pid}",
            "observations": f"Observation?patient={pid}&code={codes}&_sort=-date&_count=100",
            "conditions": f"Condition?patient={pid}&_count=100",
            # The Medications the orders reference come with them.
            "medications": f"MedicationRequest?patient={pid}"
            "&_include=MedicationRequest:medication&_count=100",
        }
    )

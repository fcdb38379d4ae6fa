"""The CDS services the knowledge offers: one per hook its PlanDefinitions trigger on."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType
from typing import Any

from ..facts import prefetch_templates
from ..knowledge import Knowledge

USAGE = (
    "Reads the patient's birth date, pregnancy and breastfeeding observations, conditions "
    "and medication requests: send them as prefetch, or send fhirServer and "
    "fhirAuthorization so the service can read what prefetch lacks. Without either, "
    "the service answers 412."
)


@dataclass(frozen=True)
class Service:
    """One CDS service: the discovery entry and the hook it answers."""

    id: str
    hook: str
    title: str
    description: str
    prefetch: Mapping[str, str]

    def discovery(self) -> dict[str, Any]:
        """This service's entry in the discovery response."""
        return {
            "hook": self.hook,
            "title": self.title,
            "description": self.description,
            "id": self.id,
            "prefetch": dict(self.prefetch),
            "usageRequirements": USAGE,
        }


@lru_cache(maxsize=8)
def services(knowledge: Knowledge) -> Mapping[str, Service]:
    """The services by id, e.g. 'baclofen-order-select', in hook order (built once)."""
    templates = prefetch_templates(knowledge)
    found: dict[str, Service] = {}
    for hook in sorted(knowledge.hooks()):
        drugs = [d for d in knowledge.drugs if any(hook in r.hooks for r in d.rules)]
        plans = [
            knowledge.by_url[d.plan_url].resource for d in drugs if d.plan_url in knowledge.by_url
        ]
        sid = "-".join(sorted(d.id for d in drugs)) + f"-{hook}"
        title = "; ".join(d.plan_title for d in drugs) + f" ({hook})"
        text = " ".join(str(p.get("description", "")).strip() for p in plans).strip()
        description = f"Answers the {hook} hook. {text}".strip()
        found[sid] = Service(sid, hook, title, description, templates)
    return MappingProxyType(found)


def service_for_hook(knowledge: Knowledge, hook: str) -> str | None:
    """The id of the service that answers `hook`, if the knowledge has one."""
    return next((s.id for s in services(knowledge).values() if s.hook == hook), None)

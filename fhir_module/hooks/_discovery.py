"""The CDS services the knowledge offers: one per hook its PlanDefinitions trigger on.

Each service's id is stable whatever drug modules are loaded (`medication-safety-<hook>`
unless the config names another), so that adding a drug module does not change the URL
every EHR registered.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any
from weakref import WeakKeyDictionary

from ..errors import ConfigError
from ..facts import prefetch_templates
from ..knowledge import Knowledge

#: the drug names a description lists before it counts the rest
MAX_NAMED_DRUGS = 5
#: the id a service gets unless one is configured for its hook
ID_PREFIX = "medication-safety-"
#: a service id goes in the URL path (/cds-services/{id}): a slug of lower-case letters and
#: digits, with single '-', '_' or '.' between them, at most 64 characters
SERVICE_ID = re.compile(r"[a-z0-9]+(?:[-_.][a-z0-9]+)*")
MAX_SERVICE_ID_CHARS = 64
#: what each hook's service judges, for its description
_SCOPE = {
    "order-select": "the newly selected draft orders",
    "order-sign": "every draft order about to be signed",
}


def default_service_id(hook: str) -> str:
    """The id of the service for `hook` when none is configured."""
    return ID_PREFIX + hook


def check_service_id(value: object, where: str = "service id") -> str:
    """`value` if it is a safe service id; ConfigError (one line, `where` first) otherwise."""
    if not isinstance(value, str):
        raise ConfigError(f"{where}: must be a string", where)
    if len(value) > MAX_SERVICE_ID_CHARS or SERVICE_ID.fullmatch(value) is None:
        raise ConfigError(
            f"{where}: {value[:MAX_SERVICE_ID_CHARS]!r} is not a safe service id (lower-case "
            f"letters and digits, single '-', '_' or '.' between them, at most "
            f"{MAX_SERVICE_ID_CHARS} characters): it goes in the URL path",
            where,
        )
    return value


def check_service_ids(ids: Mapping[str, str], hooks: frozenset[str] | None = None) -> None:
    """ConfigError unless every id is safe, names a hook (of `hooks`, when given) and no two
    hooks share one."""
    seen: dict[str, str] = {}
    for hook, sid in ids.items():
        where = f"service_ids.{hook}"
        if hooks is not None and hook not in hooks:
            raise ConfigError(f"{where}: not a hook this service answers", where)
        check_service_id(sid, where)
        if sid in seen:
            raise ConfigError(f"{where}: {sid!r} is already the {seen[sid]} service's id", where)
        seen[sid] = hook


@dataclass(frozen=True)
class Service:
    """One CDS service: the discovery entry and the hook it answers."""

    id: str
    hook: str
    title: str
    description: str
    prefetch: Mapping[str, str]
    usage: str

    def discovery(self) -> dict[str, Any]:
        """This service's entry in the discovery response."""
        return {
            "hook": self.hook,
            "title": self.title,
            "description": self.description,
            "id": self.id,
            "prefetch": dict(self.prefetch),
            "usageRequirements": self.usage,
        }


def usage(templates: Mapping[str, str]) -> str:
    """The usageRequirements text: the resource types the prefetch templates read (those the
    loaded modules declare), and what the service needs to be sent."""
    types = list(dict.fromkeys(re.split(r"[/?]", t, maxsplit=1)[0] for t in templates.values()))
    if not types:
        return "Reads nothing of the patient's record: only the draft orders in the context."
    listed = ", ".join(types[:-1]) + f" and {types[-1]}" if len(types) > 1 else types[0]
    return (
        f"Reads the {listed} resources its prefetch templates name (what the loaded modules' "
        "rules read): send them as prefetch, or send fhirServer and fhirAuthorization so the "
        "service can read what prefetch lacks. Without either, the service answers 412."
    )


def drug_list(names: list[str]) -> str:
    """The drug names for a description: every one, or the first few and how many more."""
    if len(names) <= MAX_NAMED_DRUGS:
        return ", ".join(names)
    return ", ".join(names[:MAX_NAMED_DRUGS]) + f" and {len(names) - MAX_NAMED_DRUGS} more"


def services(knowledge: Knowledge, ids: Mapping[str, str] | None = None) -> Mapping[str, Service]:
    """The services by id, one per hook of the knowledge, in hook order (built once).

    `ids` maps a hook to its service's id (e.g. {"order-sign": "med-safety-sign"}); a hook
    it leaves out gets `default_service_id(hook)`. ConfigError for an id that is not safe
    in a URL, or one id given to two hooks.
    """
    key = tuple(sorted((ids or {}).items()))
    built = _SERVICES.get(knowledge)
    if built is None:
        built = _SERVICES.setdefault(knowledge, {})
    found = built.get(key)
    if found is None:
        found = built.setdefault(key, _services(knowledge, key))
    return found


#: the catalogues of each loaded knowledge by their ids, kept while it is alive (no longer)
_SERVICES: WeakKeyDictionary[Knowledge, dict[tuple[tuple[str, str], ...], Mapping[str, Service]]]
_SERVICES = WeakKeyDictionary()


def _services(knowledge: Knowledge, ids: tuple[tuple[str, str], ...]) -> Mapping[str, Service]:
    hooks = sorted(knowledge.hooks())
    chosen = {hook: default_service_id(hook) for hook in hooks} | dict(ids)
    check_service_ids(chosen)
    templates = prefetch_templates(knowledge)
    found: dict[str, Service] = {}
    for hook in hooks:
        drugs = sorted(
            (d for d in knowledge.drugs if any(hook in r.hooks for r in d.rules)),
            key=lambda d: d.name.casefold(),
        )
        count = f"{len(drugs)} drug module" + ("" if len(drugs) == 1 else "s")
        names = drug_list([d.name for d in drugs])
        scope = _SCOPE.get(hook, "the draft orders")
        description = (
            f"Answers the {hook} hook: checks {scope} against the medication-safety rules "
            f"of the {count} loaded ({names})."
        )
        sid = chosen[hook]
        found[sid] = Service(
            sid, hook, f"Medication safety ({hook})", description, templates, usage(templates)
        )
    return MappingProxyType(found)


def service_for_hook(
    knowledge: Knowledge, hook: str, catalogue: Mapping[str, Service] | None = None
) -> str | None:
    """The id of the service that answers `hook` (in `catalogue`, default the knowledge's
    services), if there is one."""
    found = services(knowledge) if catalogue is None else catalogue
    return next((s.id for s in found.values() if s.hook == hook), None)

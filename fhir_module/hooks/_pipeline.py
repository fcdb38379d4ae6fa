"""One hook call from request body to CDS Hooks response, shared by the HTTP service and the CLI."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

import requests

from ..cards import card, card_order
from ..engine import (
    bundle_resources,
    draft_drug_orders,
    drug_orders,
    evaluate_orders,
    medication_pool,
    own_drug_orders,
    selected,
    unresolved_medications,
)
from ..facts import PatientRecord
from ..knowledge import Drug, Knowledge, Matches
from ._data import ServerPolicy, patient_record, read_medications
from ._discovery import Service, service_for_hook, services
from ._limits import HookLimits, Limits, check_dose_work, check_hook_sizes
from ._models import HookCall, parse_json, validate_hook_call
from ._outcome import RequestProblem, UnknownService


def evaluate_hook(
    knowledge: Knowledge,
    hook: str,
    context: Mapping[str, Any],
    record: PatientRecord,
    *,
    today: date | None = None,
    prefetch: Any = None,
) -> dict[str, Any]:
    """The CDS Hooks response for a validated hook context and the patient's record.

    order-sign judges every draft order of a known drug; order-select judges the
    selected ones (the other drafts are judged when selected, or at order-sign). The orders'
    references resolve in draftOrders, the `prefetch` Bundles and the record's Medications,
    as `drug_orders` resolves them.
    """
    return _judged(knowledge, hook, context, record, today=today, prefetch=prefetch)[0]


def _judged(
    knowledge: Knowledge,
    hook: str,
    context: Mapping[str, Any],
    record: PatientRecord,
    *,
    today: date | None,
    prefetch: Any,
    matches: Matches | None = None,
) -> tuple[dict[str, Any], dict[str, Drug]]:
    """The response, and the drug whose PlanDefinition gave each card (by card uuid)."""
    matches = matches or knowledge.matches()
    pool = medication_pool(context, prefetch, record.medications)
    drafts = draft_drug_orders(knowledge, context, pool, matches)
    scope = selected(drafts, context.get("selections")) if hook == "order-select" else drafts
    if not scope:
        return {"cards": []}, {}
    requested = [
        r
        for r in bundle_resources(context.get("draftOrders"))
        if r.get("resourceType") == "MedicationRequest"
    ]
    findings = evaluate_orders(
        knowledge, hook, scope, drafts, record, today or date.today(), pool, requested, matches
    )
    shown = [(card(f), f.drug) for f in sorted(findings, key=card_order)]
    return {"cards": [c for c, _ in shown]}, {str(c["uuid"]): drug for c, drug in shown}


@dataclass(frozen=True)
class HookResult:
    """The validated call, the service that answered it and its response, and the drug
    whose PlanDefinition gave each card (by card uuid), for the audit."""

    service: Service
    call: HookCall
    response: dict[str, Any]
    drugs: Mapping[str, Drug] = field(default_factory=dict)


def run_hook(
    knowledge: Knowledge,
    service_id: str | None,
    body: Any,
    *,
    settings: HookLimits | None = None,
    session: requests.Session | None = None,
    today: date | None = None,
    catalogue: Mapping[str, Service] | None = None,
    allowed: ServerPolicy | None = None,
) -> HookResult:
    """Parse, check sizes, find the service, validate, gather the patient's data, run the
    engine; see `handle_hook`. A call without drug orders of this module is answered before
    anything is read from the EHR.

    `allowed` decides which fhirServer URLs may be read (None: any); a refused one
    is treated as no FHIR access. Bundles over `settings.max_entries` raise TooLarge.
    """
    settings = settings or Limits()
    catalogue = services(knowledge) if catalogue is None else catalogue
    body = parse_json(body)
    check_hook_sizes(body, settings.max_entries)
    if service_id is None:
        hook = body.get("hook") if isinstance(body, dict) else None
        service_id = service_for_hook(knowledge, hook, catalogue) if isinstance(hook, str) else None
        if service_id is None:
            raise RequestProblem("hook: no service of this module answers it", "hook", "invalid")
    service = catalogue.get(service_id)
    if service is None:
        raise UnknownService()
    call = validate_hook_call(body, service.hook)
    # Each order is matched to its drugs once in this call, however often it is read.
    matches = knowledge.matches()
    drafts = tuple(drug_orders(knowledge, call.context, call.prefetch, matches=matches))
    # Drafts naming a Medication the call does not carry: the fhirServer may have it.
    reads = (
        tuple(unresolved_medications(knowledge, call.context, call.prefetch, matches))
        if call.fhir_server is not None
        else ()
    )
    if not drafts and not reads:
        # Nothing for this module to judge: answer at once, read nothing from the EHR.
        return HookResult(service, call, {"cards": []})
    # Before anything is read from the EHR; again with the patient's orders below.
    check_dose_work(drafts, settings.max_dosages, settings.max_dose_entries)
    read: tuple[dict[str, Any], ...] = ()
    if reads:
        read = tuple(read_medications(call, settings, reads, session, allowed))
        drafts = tuple(drug_orders(knowledge, call.context, call.prefetch, read, matches))
        if not drafts:
            return HookResult(service, call, {"cards": []})
        check_dose_work(drafts, settings.max_dosages, settings.max_dose_entries)
    record = patient_record(knowledge, call, settings, session, allowed)
    if read:
        # The engine resolves the drafts' references in the record's Medications.
        record = replace(record, medications=(*record.medications, *read))
    # The patient's own orders are dosed too (active doses, duplicate therapy): counted as
    # the engine resolves them, with the call's Medications.
    own = [r for r in record.medication_requests if isinstance(r, Mapping)]
    pool = medication_pool(call.context, call.prefetch, record.medications)
    check_dose_work(
        (
            *drafts,
            *{
                id(d.order): d.order
                for d in own_drug_orders(knowledge, own, record.medications, pool, matches)
            }.values(),
        ),
        settings.max_dosages,
        settings.max_dose_entries,
    )
    response, drugs = _judged(
        knowledge,
        service.hook,
        call.context,
        record,
        today=today,
        prefetch=call.prefetch,
        matches=matches,
    )
    return HookResult(service, call, response, drugs)


def handle_hook(
    knowledge: Knowledge,
    service_id: str | None,
    body: Any,
    *,
    settings: HookLimits | None = None,
    session: requests.Session | None = None,
    today: date | None = None,
    service_ids: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The CDS Hooks response for a request body (bytes, text or parsed JSON).

    `service_id` None picks the service by the request's `hook`; `service_ids` maps a hook
    to its service's id where it is not `medication-safety-<hook>` (see `services`);
    `settings` (default `Limits()`, or the server's `Settings`) give the FHIR time-out and
    page cap; `session` is the requests Session for FHIR reads (one per call if None). Raises
    InvalidRequest (bad body, unknown service: UnknownService) or DataUnavailable
    (data neither prefetched nor fetchable); writes no audit record.
    """
    catalogue = services(knowledge, service_ids)
    return run_hook(
        knowledge,
        service_id,
        body,
        settings=settings,
        session=session,
        today=today,
        catalogue=catalogue,
    ).response

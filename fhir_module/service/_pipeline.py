"""One hook call from request body to CDS Hooks response, shared by the HTTP service and the CLI."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

import requests

from ..engine import drug_orders, evaluate_hook
from ..engine._orders import medication_pool, own_drug_orders, unresolved_medications
from ..knowledge import Knowledge
from ._data import ServerPolicy, patient_record, read_medications, reads_fhir
from ._discovery import Service, service_for_hook, services
from ._limits import check_dose_work, check_hook_sizes
from ._models import HookCall, parse_json, validate_hook_call
from ._outcome import RequestProblem, UnknownService
from ._settings import Settings


@dataclass(frozen=True)
class HookResult:
    """The validated call, the service that answered it and its response."""

    service: Service
    call: HookCall
    response: dict[str, Any]


@dataclass(frozen=True)
class PreparedCall:
    """A validated call with drug orders to judge, before its patient data is gathered."""

    service: Service
    call: HookCall
    reads_fhir: bool  # whether gathering the record reads from the fhirServer
    drafts: tuple[Mapping[str, Any], ...] = ()  # the draft orders of this module's drugs
    #: `Medication/{id}` references of other drafts, to be read from the fhirServer
    medication_reads: tuple[str, ...] = ()


def run_hook(
    knowledge: Knowledge,
    service_id: str | None,
    body: Any,
    *,
    settings: Settings | None = None,
    session: requests.Session | None = None,
    today: date | None = None,
    catalogue: Mapping[str, Service] | None = None,
    allowed: ServerPolicy | None = None,
) -> HookResult:
    """Validate, gather the patient's data, run the engine; see `handle_hook`.

    `allowed` decides which fhirServer URLs may be read (None: any); a refused one
    is treated as no FHIR access. Bundles over `settings.max_entries` raise TooLarge.
    """
    settings = settings or Settings()
    prepared = prepare_hook(knowledge, service_id, body, settings=settings, catalogue=catalogue)
    if isinstance(prepared, HookResult):
        return prepared
    return finish_hook(knowledge, prepared, settings=settings, session=session, today=today,
                       allowed=allowed)


def prepare_hook(
    knowledge: Knowledge,
    service_id: str | None,
    body: Any,
    *,
    settings: Settings,
    catalogue: Mapping[str, Service] | None = None,
) -> HookResult | PreparedCall:
    """The first half of `run_hook`, which reads nothing from the EHR: parse, check sizes,
    find the service, validate. A call without drug orders of this module is answered here."""
    catalogue = services(knowledge) if catalogue is None else catalogue
    body = parse_json(body)
    check_hook_sizes(body, settings.max_entries)
    if service_id is None:
        hook = body.get("hook") if isinstance(body, dict) else None
        service_id = service_for_hook(knowledge, hook) if isinstance(hook, str) else None
        if service_id is None:
            raise RequestProblem("hook: no service of this module answers it", "hook", "invalid")
    service = catalogue.get(service_id)
    if service is None:
        raise UnknownService()
    call = validate_hook_call(body, service.hook)
    drafts = drug_orders(knowledge, call.context, call.prefetch)
    # Drafts naming a Medication the call does not carry: the fhirServer may have it.
    reads = (
        tuple(unresolved_medications(knowledge, call.context, call.prefetch))
        if call.fhir_server is not None
        else ()
    )
    if not drafts and not reads:
        # Nothing for this module to judge: answer at once, read nothing from the EHR.
        return HookResult(service, call, {"cards": []})
    # Before anything is read from the EHR; again with the patient's orders in finish_hook.
    check_dose_work(drafts, settings.max_dosages, settings.max_dose_entries)
    return PreparedCall(
        service, call, bool(reads) or reads_fhir(knowledge, call), tuple(drafts), reads
    )


def finish_hook(
    knowledge: Knowledge,
    prepared: PreparedCall,
    *,
    settings: Settings,
    session: requests.Session | None = None,
    today: date | None = None,
    allowed: ServerPolicy | None = None,
) -> HookResult:
    """The second half of `run_hook`: gather the patient's record (reading the fhirServer
    only if `prepared.reads_fhir`) and run the engine."""
    service, call = prepared.service, prepared.call
    drafts = prepared.drafts
    read: tuple[dict[str, Any], ...] = ()
    if prepared.medication_reads:
        read = tuple(
            read_medications(call, settings, prepared.medication_reads, session, allowed)
        )
        drafts = tuple(drug_orders(knowledge, call.context, call.prefetch, read))
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
        (*drafts,
         *(d.order for d in own_drug_orders(knowledge, own, record.medications, pool))),
        settings.max_dosages,
        settings.max_dose_entries,
    )
    return HookResult(
        service,
        call,
        evaluate_hook(
            knowledge, service.hook, call.context, record, today=today, prefetch=call.prefetch
        ),
    )


def handle_hook(
    knowledge: Knowledge,
    service_id: str | None,
    body: Any,
    *,
    settings: Settings | None = None,
    session: requests.Session | None = None,
    today: date | None = None,
) -> dict[str, Any]:
    """The CDS Hooks response for a request body (bytes, text or parsed JSON).

    `service_id` None picks the service by the request's `hook`; `settings` (default
    `Settings()`) give the FHIR time-out and page cap; `session` is the requests
    Session for FHIR reads (one per call if None). Raises
    InvalidRequest (bad body, unknown service: UnknownService) or DataUnavailable
    (data neither prefetched nor fetchable); writes no audit record.
    """
    return run_hook(
        knowledge, service_id, body, settings=settings, session=session, today=today
    ).response

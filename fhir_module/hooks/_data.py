"""The patient's record for a hook call: from prefetch where the client sent it, else fetched.

CDS Hooks 2.0.1: a prefetch key that is present is the data (`null` means the
client has none); a key whose value is an OperationOutcome means the client
failed to fetch it, so the service fetches it itself; an absent key is fetched
from `fhirServer`. Data that cannot be had raises FetchFailed (HTTP 412).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import quote

import requests

from ..errors import FhirModuleError
from ..facts import KEYS, PatientRecord, is_live, prefetch_templates
from ..knowledge import Knowledge
from ._fhir import FhirClient, bundle_resources, next_link
from ._limits import HookLimits
from ._models import HookCall
from ._outcome import FetchFailed, RequestProblem, is_operation_outcome
from ._session import outbound_session
from ._urls import BaseUrl, UrlError, parse_base_url

log = logging.getLogger("fhir_module.service")

#: decides whether the service may read from a request's fhirServer (None: from any)
ServerPolicy = Callable[[BaseUrl], bool]

_TOKEN = re.compile(r"\{\{\s*([^{}]+?)\s*\}\}")
#: CDS Hooks user tokens: the id part of context.userId when it names that resource type
_USER_TOKENS = {
    "userPractitionerId": "Practitioner",
    "userPractitionerRoleId": "PractitionerRole",
    "userPatientId": "Patient",
    "userRelatedPersonId": "RelatedPerson",
}


def fill_template(template: str, context: Mapping[str, Any]) -> str | None:
    """The relative FHIR URL of a prefetch template for this context; None if a token is unknown."""
    missing = False

    def value(match: re.Match[str]) -> str:
        nonlocal missing
        name = match.group(1)
        found: Any = None
        if name.startswith("context."):
            found = context.get(name.removeprefix("context."))
        elif name in _USER_TOKENS:
            kind, _, rid = str(context.get("userId", "")).partition("/")
            found = rid if kind == _USER_TOKENS[name] and rid else None
        if isinstance(found, bool) or not isinstance(found, str | int | float):
            missing = True
            return ""
        # Quoted whole: an id is one path segment or one parameter value, never more.
        return quote(str(found), safe="")

    url = _TOKEN.sub(value, template)
    return None if missing else url


class _Sources:
    """The prefetched values and, made when first needed, the FHIR client."""

    def __init__(
        self,
        call: HookCall,
        settings: HookLimits,
        session: requests.Session | None,
        allowed: ServerPolicy | None,
    ):
        self.call = call
        self.settings = settings
        self.session = session
        self.allowed = allowed
        self._client: FhirClient | None = None
        self._owned: requests.Session | None = None
        #: Medications the pages read carry (`_include`d), which the orders may reference
        self.medications: list[dict[str, Any]] = []

    def client(self, key: str) -> FhirClient:
        if self.call.fhir_server is None:
            raise FetchFailed(key, "not prefetched, and the request gives no fhirServer")
        try:
            # Judged and then used in exactly this reading: the parts the requests are built of.
            base = parse_base_url(self.call.fhir_server)
        except UrlError:
            raise FetchFailed(key, "not prefetched, and fhirServer is not a plain URL") from None
        if self.allowed is not None and not self.allowed(base):
            # Never contacted: as if the request had no FHIR access at all.
            log.warning("fhirServer not read: it is not one the caller may name")
            raise FetchFailed(key, "not prefetched, and the service may not read this fhirServer")
        if self._client is None:
            if self.session is None:
                self.session = self._owned = outbound_session()
            self._client = FhirClient(
                base,
                self.session,
                self.call.access_token,
                self.settings.fhir_timeout,
                self.settings.max_pages,
                self.settings.fhir_answer_bytes,
                self.settings.max_entries,
            )
        return self._client

    def close(self) -> None:
        if self._owned is not None:
            self._owned.close()


def _prefetched(sources: _Sources, key: str, kind: str, value: Any) -> list[dict[str, Any]]:
    if value is None:
        return []
    if value.get("resourceType") == kind:
        return [value]
    if value.get("resourceType") != "Bundle":
        raise RequestProblem(
            f"prefetch.{key}: must be a {kind} or a Bundle", f"prefetch.{key}", "invalid"
        )
    found = bundle_resources(value, kind)
    sources.medications += bundle_resources(value, "Medication")
    if next_link(value) is not None:
        # CDS clients may paginate prefetch; the rest of the pages are on the FHIR server.
        for page in sources.client(key).more_pages(key, value, pages_read=1):
            found += bundle_resources(page, kind)
            sources.medications += bundle_resources(page, "Medication")
    return found


def _fetched(sources: _Sources, key: str, kind: str, template: str) -> list[dict[str, Any]]:
    client = sources.client(key)
    relative = fill_template(template, sources.call.context)
    if relative is None:
        raise FetchFailed(key, "its template names a context field the request lacks")
    if "?" not in relative:
        resource = client.read(key, relative)
        if resource is None:
            return []
        if resource.get("resourceType") != kind:
            raise FetchFailed(key, f"the FHIR server did not answer with a {kind}")
        return [resource]
    found: list[dict[str, Any]] = []
    for page in client.search(key, relative):
        found += bundle_resources(page, kind)
        sources.medications += bundle_resources(page, "Medication")
    return found


#: what reads of referenced Medications are named by in errors and logs
MEDICATION_KEY = "medicationReference"


def read_medications(
    call: HookCall,
    settings: HookLimits,
    references: Iterable[str],
    session: requests.Session | None = None,
    allowed: ServerPolicy | None = None,
) -> list[dict[str, Any]]:
    """The Medications of these `Medication/{id}` references, read from the call's
    fhirServer with the client the prefetch reads use (allowlist, token only under the base,
    byte cap, time limit), at most `max_pages` of them within one `fhir_timeout` in all. The
    call does not fail for one that cannot be had: without a
    fhirServer, with one the service may not read, or at the first read that fails, the
    rest are left unread (their orders are not known to be of the drug); an id the server
    does not have, or an answer that is not a Medication, is left out."""
    # At most `max_pages` reads, all within one `fhir_timeout`: the drafts of one call
    # cannot make it read on for minutes, one id after another.
    references = list(references)[: settings.max_pages]
    if not references or call.fhir_server is None:
        return []
    sources = _Sources(call, settings, session, allowed)
    found: list[dict[str, Any]] = []
    deadline = time.monotonic() + settings.fhir_timeout
    try:
        for reference in references:
            if time.monotonic() >= deadline:
                log.warning("referenced Medications not all read: the time limit was reached")
                break
            resource = sources.client(MEDICATION_KEY).read(MEDICATION_KEY, reference)
            if resource is not None and resource.get("resourceType") == "Medication":
                found.append(resource)
    except FhirModuleError as exc:  # FetchFailed, FhirServerError: says why, holds no data
        log.warning("referenced Medications not read: %s", exc)
    finally:
        sources.close()
    return found


#: a relative reference to a Medication by id (what a FHIR server resolves)
_MEDICATION_ID = re.compile(r"Medication/([A-Za-z0-9\-.]{1,64})(?:/_history/[A-Za-z0-9\-.]{1,64})?")


def _unresolved(orders: Iterable[Any], medications: Iterable[Any]) -> list[str]:
    """`Medication/{id}` references of the orders that no Medication at hand is; each once.
    Those of live (active, on-hold) orders come first, so that a bounded number of reads is
    spent on the orders an interaction is judged with before completed or stopped ones;
    otherwise in the orders' order."""
    have = {
        m.get("id") for m in medications if isinstance(m, Mapping) and isinstance(m.get("id"), str)
    }
    found: dict[str, None] = {}
    for order in sorted(orders, key=lambda order: not is_live(order)):
        ref = order.get("medicationReference") if isinstance(order, Mapping) else None
        reference = ref.get("reference") if isinstance(ref, Mapping) else None
        match = _MEDICATION_ID.fullmatch(reference) if isinstance(reference, str) else None
        if match and match.group(1) not in have:
            found.setdefault(f"Medication/{match.group(1)}", None)
    return list(found)


def _usable(prefetch: Mapping[str, Any], key: str) -> bool:
    """Whether a prefetch key holds the data (None included), rather than being absent or
    an OperationOutcome saying the client could not fetch it."""
    return key in prefetch and not is_operation_outcome(prefetch[key])


def patient_record(
    knowledge: Knowledge,
    call: HookCall,
    settings: HookLimits,
    session: requests.Session | None = None,
    allowed: ServerPolicy | None = None,
) -> PatientRecord:
    """The PatientRecord the engine needs, from prefetch and, for what it lacks, the FHIR server
    (only if `allowed` says yes to the request's fhirServer)."""
    sources = _Sources(call, settings, session, allowed)
    prefetch = call.prefetch or {}
    data: dict[str, list[dict[str, Any]]] = {}
    try:
        for key, template in prefetch_templates(knowledge).items():
            kind = KEYS[key]
            if _usable(prefetch, key):
                data[key] = _prefetched(sources, key, kind, prefetch[key])
            else:
                data[key] = _fetched(sources, key, kind, template)
    finally:
        sources.close()
    patients = data.get("patient", [])
    # Medications any prefetched Bundle carries are what the orders' references may name.
    medications = [
        m
        for value in prefetch.values()
        if isinstance(value, dict) and value.get("resourceType") == "Bundle"
        for m in bundle_resources(value, "Medication")
    ] + sources.medications
    # Orders on record naming a Medication the call does not carry: the fhirServer may have
    # it (an interacting drug is as much one on record as in a draft).
    missing = _unresolved(data.get("medications", ()), medications)
    if missing:
        medications += read_medications(call, settings, missing, session, allowed)
    return PatientRecord(
        patient=patients[0] if patients else None,
        observations=tuple(data.get("observations", ())),
        conditions=tuple(data.get("conditions", ())),
        medication_requests=tuple(data.get("medications", ())),
        medications=tuple(medications),
    )

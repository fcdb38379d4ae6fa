"""The importable API: a CDS Hooks request or a plain Bundle in, a CDS Hooks response out."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date
from functools import lru_cache
from typing import Any

from ._bundle import bundle_as_hook
from .errors import InvalidRequest
from .hooks import HookLimits, Limits, check_bundle, evaluate_hook, handle_hook
from .knowledge import Knowledge, load_knowledge


@lru_cache(maxsize=1)
def default_knowledge() -> Knowledge:
    """The module's own knowledge, loaded once per process."""
    return load_knowledge()


def _parse(document: Mapping[str, Any] | str | bytes) -> Any:
    if isinstance(document, str | bytes):
        try:
            return json.loads(document)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InvalidRequest(
                f"not valid JSON ({exc.msg if hasattr(exc, 'msg') else exc})"
            ) from None
        except RecursionError:
            raise InvalidRequest("not readable JSON: arrays or objects nested too deep") from None
        except ValueError:  # json.loads reads integers of at most sys.get_int_max_str_digits()
            raise InvalidRequest("not valid JSON (a number too long to read)") from None
    return document


def evaluate_bundle(
    bundle: Mapping[str, Any] | str | bytes,
    *,
    knowledge: Knowledge | None = None,
    today: date | None = None,
    limits: HookLimits | None = None,
) -> dict[str, Any]:
    """Judge a plain FHIR R4 Bundle as order-sign would; returns the CDS Hooks response.

    The Bundle holds the MedicationRequests to judge (status 'draft'), and the
    Patient, Observations, Conditions and other MedicationRequests of the patient. It
    meets the limits of a hook call (`limits`, by default the service's defaults): more
    entries or dose work is refused with TooLarge (an InvalidRequest).
    """
    document = _parse(bundle)
    if not isinstance(document, Mapping) or document.get("resourceType") != "Bundle":
        raise InvalidRequest("expected a FHIR Bundle", "resourceType")
    if not isinstance(document.get("entry", []), list):
        raise InvalidRequest("Bundle.entry must be an array", "Bundle.entry")
    knowledge = knowledge or default_knowledge()
    check_bundle(knowledge, document, limits or Limits())
    context, record = bundle_as_hook(document)
    return evaluate_hook(knowledge, "order-sign", context, record, today=today)


def evaluate(
    request: Mapping[str, Any] | str | bytes,
    *,
    service: str | None = None,
    knowledge: Knowledge | None = None,
    today: date | None = None,
    service_ids: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Answer a CDS Hooks request (prefetched data only, or its FHIR server) as the service would.

    `service` is a service id from discovery (e.g. 'medication-safety-order-sign'); by
    default the one for the request's hook. `service_ids` maps a hook to its service's id
    as a config file's [service_ids] table does. Raises InvalidRequest for a malformed
    request or an unknown service, ConfigError for an id not safe in a URL, and
    DataUnavailable when data a rule needs is neither prefetched nor fetchable.
    """
    return handle_hook(
        knowledge or default_knowledge(),
        service,
        _parse(request),
        today=today,
        service_ids=service_ids,
    )

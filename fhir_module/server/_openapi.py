"""The service's OpenAPI description: the CDS Hooks 2.0.1 bodies, the answers and their types.

The handlers read raw bodies (their own validation gives the CDS Hooks error
answers), so FastAPI cannot infer the request schemas: they are generated here from
the pydantic models that validate the bodies (hooks.CdsHookRequest, the per-hook
contexts, hooks.CdsFeedback), so the document cannot drift from the checks. Each route's
answers come from errors.ANSWERS: the exceptions its handler raises (a short list per route
below) and the Guard's, each status with its issue's OperationOutcome; only the bodies of the
200s and the OperationOutcome, which no model validates, are described by hand.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from ..errors import (
    BodyTimeout,
    DataUnavailable,
    FhirModuleError,
    FhirServerError,
    InvalidRequest,
    ReplayCacheFull,
    StoreUnavailable,
    TooLarge,
    TooMuchFeedback,
    Unauthorized,
    UnknownService,
    WrongHost,
    answer_for,
)
from ..hooks import CONTEXTS, CdsFeedback, CdsHookRequest, Service
from ._settings import Settings

FHIR_JSON = "application/fhir+json"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


_OUTCOME = {"content": {FHIR_JSON: {"schema": _ref("OperationOutcome")}}}

#: what the Guard answers on every route behind it, before any handler runs: a bare 401, 503
#: when the replay cache cannot record a token id, and the body's cap (413) and time (408);
#: 421 to a non-loopback Host in open mode
GUARD_RAISES: tuple[type[FhirModuleError], ...] = (
    Unauthorized,
    ReplayCacheFull,
    StoreUnavailable,
    WrongHost,
    BodyTimeout,
    TooLarge,
)
#: answered with no body at all (nothing in it tells a caller which check failed)
BARE: tuple[type[FhirModuleError], ...] = (Unauthorized, ReplayCacheFull)
#: what each route's handler raises besides the Guard's
DISCOVERY_RAISES: tuple[type[FhirModuleError], ...] = ()
HOOK_RAISES: tuple[type[FhirModuleError], ...] = (
    InvalidRequest,
    UnknownService,
    DataUnavailable,
    FhirServerError,
    TooLarge,
)
FEEDBACK_RAISES: tuple[type[FhirModuleError], ...] = (
    InvalidRequest,
    UnknownService,
    TooLarge,
    TooMuchFeedback,
    StoreUnavailable,
)


def _summary(cls: type[BaseException]) -> str:
    """The first sentence of the class's docstring, without its HTTP status."""
    text = " ".join((cls.__doc__ or cls.__name__).split())
    first = text.split(". ")[0].split("; ")[0].rstrip(".")
    return re.sub(r"\s*\((?:HTTP )?\d{3}\)", "", first)


def responses(
    ok: dict[str, Any], raises: Iterable[type[FhirModuleError]]
) -> dict[int | str, dict[str, Any]]:
    """A route's OpenAPI responses: `ok` for 200, and for each status of `raises` (and of
    the Guard's) its row of errors.ANSWERS: a FHIR OperationOutcome (none for a bare
    answer), a Retry-After header where the row asks the caller to wait."""
    by_status: dict[int, list[type[FhirModuleError]]] = {}
    for cls in (*raises, *GUARD_RAISES):
        found = by_status.setdefault(answer_for(_instance(cls)).status, [])
        if cls not in found:
            found.append(cls)
    documented: dict[int | str, dict[str, Any]] = {200: ok}
    for status in sorted(by_status):
        classes = by_status[status]
        entry: dict[str, Any] = {"description": "; ".join(_summary(c) for c in classes)}
        if all(issubclass(c, BARE) for c in classes):
            entry["description"] += " (a bare answer, no body)"
        else:
            entry.update(_OUTCOME)
        waits = {a for c in classes if (a := answer_for(_instance(c)).retry_after) is not None}
        if waits:
            entry["headers"] = {
                "Retry-After": {
                    "description": f"seconds to wait before sending it again ({max(waits)})",
                    "schema": {"type": "integer"},
                }
            }
        documented[status] = entry
    return documented


def _instance(cls: type[FhirModuleError]) -> BaseException:
    # answer_for reads only the class; an instance made without running __init__ will do
    return cls.__new__(cls)


HOOK_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": _ref("CdsHookRequest")}},
    }
}
FEEDBACK_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": _ref("CdsFeedback")}},
    }
}
DISCOVERY_RESPONSES = responses({"description": "The CDS services"}, DISCOVERY_RAISES)
HOOK_RESPONSES = responses(
    {
        "description": "The cards",
        "content": {"application/json": {"schema": _ref("CdsResponse")}},
    },
    HOOK_RAISES,
)
FEEDBACK_RESPONSES = responses({"description": "The feedback is stored"}, FEEDBACK_RAISES)


def _schemas(max_entries: int) -> dict[str, Any]:
    models: list[tuple[type[BaseModel], JsonSchemaMode]] = [
        (CdsHookRequest, "validation"),
        (CdsFeedback, "validation"),
        *((context, "validation") for context in CONTEXTS.values()),
    ]
    _, generated = models_json_schema(models, ref_template="#/components/schemas/{model}")
    schemas: dict[str, Any] = generated["$defs"]
    # The request model takes any context; the hook's own model checks it.
    schemas["CdsHookRequest"]["properties"]["context"] = {
        "anyOf": [_ref(context.__name__) for context in CONTEXTS.values()]
    }
    # The entry caps are settings, not part of the models.
    schemas["CdsFeedback"]["properties"]["feedback"]["maxItems"] = max_entries
    schemas["OperationOutcome"] = {
        "type": "object",
        "required": ["resourceType", "issue"],
        "properties": {
            "resourceType": {"const": "OperationOutcome"},
            "issue": {"type": "array"},
        },
    }
    schemas["CdsResponse"] = {
        "type": "object",
        "required": ["cards"],
        "properties": {"cards": {"type": "array", "items": {"type": "object"}}},
    }
    return schemas


def install_openapi(app: FastAPI, catalogue: Mapping[str, Service], settings: Settings) -> None:
    """Make `app.openapi()` describe the CDS Hooks bodies and the services' ids."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                description="CDS Hooks 2.0.1 service (discovery, order-select, order-sign, "
                "feedback)",
                routes=app.routes,
            )
            schemas = document.setdefault("components", {}).setdefault("schemas", {})
            for unused in ("HTTPValidationError", "ValidationError"):
                schemas.pop(unused, None)
            schemas.update(_schemas(settings.max_entries))
            for path in document["paths"].values():
                for operation in path.values():
                    # FastAPI's own 422 for a parameter it validates: the handlers read raw
                    # bodies and answer their errors by the table, so it is never sent
                    operation.get("responses", {}).pop("422", None)
                    for parameter in operation.get("parameters", []):
                        if parameter.get("name") == "service_id":
                            parameter["schema"] = {"type": "string", "enum": sorted(catalogue)}
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

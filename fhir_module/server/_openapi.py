"""The service's OpenAPI description: the CDS Hooks 2.0.1 bodies, the answers and their types.

The handlers read raw bodies (their own validation gives the CDS Hooks error
answers), so FastAPI cannot infer the request schemas: they are generated here from
the pydantic models that validate the bodies (hooks.CdsHookRequest, the per-hook
contexts, hooks.CdsFeedback), so the document cannot drift from the checks. Only the
answers, which no model validates, are described by hand.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from ..hooks import CONTEXTS, CdsFeedback, CdsHookRequest, Service
from ._settings import Settings

FHIR_JSON = "application/fhir+json"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


_OUTCOME = {"content": {FHIR_JSON: {"schema": _ref("OperationOutcome")}}}
_UNAUTHORIZED = {"description": "No valid CDS Hooks JWT (a bare answer, no body)"}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, **_OUTCOME}


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
DISCOVERY_RESPONSES: dict[int | str, dict[str, Any]] = {401: _UNAUTHORIZED}
HOOK_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The cards",
        "content": {"application/json": {"schema": _ref("CdsResponse")}},
    },
    400: _error("A malformed request; the OperationOutcome names the field"),
    401: _UNAUTHORIZED,
    404: _error("No CDS service has this id"),
    412: _error("Data the rules need is neither prefetched nor readable"),
    413: _error("More than the service takes on (bytes, nesting or entries)"),
}
FEEDBACK_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "The feedback is stored"},
    400: _error("A malformed feedback body; the OperationOutcome names the field"),
    401: _UNAUTHORIZED,
    404: _error("No CDS service has this id"),
    413: _error("More than the service takes on"),
}


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
            document.setdefault("components", {}).setdefault("schemas", {}).update(
                _schemas(settings.max_entries)
            )
            for path in document["paths"].values():
                for operation in path.values():
                    for parameter in operation.get("parameters", []):
                        if parameter.get("name") == "service_id":
                            parameter["schema"] = {"type": "string", "enum": sorted(catalogue)}
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

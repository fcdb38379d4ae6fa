"""The service's OpenAPI description: the CDS Hooks 2.0.1 bodies, the answers and their types.

The handlers read raw bodies (their own validation gives the CDS Hooks error
answers), so FastAPI cannot infer the request schemas; they are written here,
from the specification, and merged into FastAPI's generated document.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from ..hooks import Service
from ._settings import Settings

FHIR_JSON = "application/fhir+json"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


_TEXT = {"type": "string", "pattern": r"\S"}
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
    resource = {
        "type": "object",
        "required": ["resourceType"],
        "properties": {"resourceType": _TEXT},
    }
    coding = {
        "type": "object",
        "required": ["system", "code"],
        "properties": {"system": _TEXT, "code": _TEXT, "display": {"type": "string"}},
    }
    return {
        "FhirResource": resource,
        "OperationOutcome": {
            "type": "object",
            "required": ["resourceType", "issue"],
            "properties": {
                "resourceType": {"const": "OperationOutcome"},
                "issue": {"type": "array"},
            },
        },
        "FhirAuthorization": {
            "type": "object",
            "required": ["access_token", "token_type", "expires_in", "scope", "subject"],
            "properties": {
                "access_token": _TEXT,
                "token_type": {"type": "string", "enum": ["Bearer"]},
                "expires_in": {"type": "integer"},
                "scope": _TEXT,
                "subject": _TEXT,
                "patient": _TEXT,
            },
        },
        "DraftOrders": {
            "type": "object",
            "required": ["resourceType"],
            "properties": {
                "resourceType": {"const": "Bundle"},
                "type": {"type": "string"},
                "entry": {
                    "type": "array",
                    "maxItems": max_entries,
                    "items": {"type": "object", "properties": {"resource": _ref("FhirResource")}},
                },
            },
        },
        "HookContext": {
            "type": "object",
            "required": ["userId", "patientId"],
            "description": "order-select and order-sign also require draftOrders; "
            "order-select requires selections",
            "properties": {
                "userId": _TEXT,
                "patientId": _TEXT,
                "encounterId": _TEXT,
                "draftOrders": _ref("DraftOrders"),
                "selections": {"type": "array", "items": _TEXT},
            },
        },
        "CdsHookRequest": {
            "type": "object",
            "required": ["hook", "hookInstance", "context"],
            "properties": {
                "hook": {"type": "string", "enum": ["order-select", "order-sign"]},
                "hookInstance": _TEXT,
                "fhirServer": {"type": "string", "format": "uri"},
                "fhirAuthorization": _ref("FhirAuthorization"),
                "context": _ref("HookContext"),
                "prefetch": {
                    "type": "object",
                    "additionalProperties": {"anyOf": [_ref("FhirResource"), {"type": "null"}]},
                },
                "extension": {"type": "object"},
            },
        },
        "CdsResponse": {
            "type": "object",
            "required": ["cards"],
            "properties": {"cards": {"type": "array", "items": {"type": "object"}}},
        },
        "CdsFeedback": {
            "type": "object",
            "required": ["feedback"],
            "properties": {
                "feedback": {
                    "type": "array",
                    "maxItems": max_entries,
                    "items": {
                        "type": "object",
                        "required": ["card", "outcome", "outcomeTimestamp"],
                        "properties": {
                            "card": _TEXT,
                            "outcome": {"type": "string", "enum": ["accepted", "overridden"]},
                            "acceptedSuggestions": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "required": ["id"],
                                    "properties": {"id": _TEXT},
                                },
                            },
                            "overrideReason": {
                                "type": "object",
                                "properties": {
                                    "reason": coding,
                                    "userComment": {"type": "string"},
                                },
                            },
                            "outcomeTimestamp": {"type": "string", "format": "date-time"},
                        },
                    },
                }
            },
        },
    }


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

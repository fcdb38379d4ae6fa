"""The OpenAPI document's request schemas are the validating models' own: no copy to drift."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from fhir_module.hooks import CONTEXTS, CdsFeedback, CdsHookRequest, Feedback, FhirAuthorization
from fhir_module.server import Settings, create_app


@pytest.fixture(scope="module")
def schemas(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder: Path = tmp_path_factory.mktemp("openapi")
    app = create_app(Settings(db_path=folder / "schema.sqlite3", max_entries=321))
    document = app.openapi()
    app.state.store.close()
    found: dict[str, Any] = document["components"]["schemas"]
    return found


@pytest.mark.parametrize(
    "model", [CdsHookRequest, CdsFeedback, FhirAuthorization, Feedback, *CONTEXTS.values()]
)
def test_each_body_schema_has_the_models_fields_and_required_fields(
    schemas: dict[str, Any], model: Any
) -> None:
    schema = schemas[model.__name__]
    assert set(schema["properties"]) == set(model.model_fields)
    required = {name for name, field in model.model_fields.items() if field.is_required()}
    assert set(schema.get("required", [])) == required


@pytest.mark.parametrize(
    ("token_type", "accepted"),
    [("Bearer", True), ("bearer", True), ("BEARER", True), ("Basic", False)],
)
def test_the_token_type_schema_says_what_the_model_accepts(
    schemas: dict[str, Any], token_type: str, accepted: bool
) -> None:
    pattern = schemas["FhirAuthorization"]["properties"]["token_type"]["pattern"]
    assert bool(re.search(pattern, token_type)) is accepted
    authorization = {
        "access_token": "t",
        "token_type": token_type,
        "expires_in": 60,
        "scope": "patient/*.read",
        "subject": "s",
    }
    try:
        FhirAuthorization.model_validate(authorization)
        valid = True
    except ValueError:
        valid = False
    assert valid is accepted


def test_the_entry_cap_is_the_settings(schemas: dict[str, Any]) -> None:
    assert schemas["CdsFeedback"]["properties"]["feedback"]["maxItems"] == 321


def test_every_hooks_context_is_described(schemas: dict[str, Any]) -> None:
    context = schemas["CdsHookRequest"]["properties"]["context"]
    refs = {item["$ref"].rsplit("/", 1)[1] for item in context["anyOf"]}
    assert refs == {model.__name__ for model in CONTEXTS.values()}

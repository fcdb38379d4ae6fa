"""schemathesis against the service's own OpenAPI document, in process: never a 5xx.

Cases fit the schema (positive) or break it (negative). They go through the
tests' client, which signs each with a fresh JWT, so authentication, the
fhirServer allowlist and the limits are all in the path. No network: any FHIR
read the fuzzer provokes meets an empty `responses` mock.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
import responses
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from fhir_module.knowledge import Knowledge
from fhir_module.server import Settings, create_app

from .conftest import TestClient

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
POSITIVE, NEGATIVE = GenerationMode.POSITIVE, GenerationMode.NEGATIVE
#: (method, path, generation mode, examples); discovery takes no input to break
OPERATIONS = [
    ("GET", "/cds-services", POSITIVE, 5),
    ("POST", "/cds-services/{service_id}", POSITIVE, 80),
    ("POST", "/cds-services/{service_id}", NEGATIVE, 80),
    ("POST", "/cds-services/{service_id}/feedback", POSITIVE, 40),
    ("POST", "/cds-services/{service_id}/feedback", NEGATIVE, 40),
]


def _schema() -> Any:
    # The document depends on no runtime state but max_entries; build it from a throwaway app.
    with tempfile.TemporaryDirectory() as folder:
        app = create_app(Settings(db_path=Path(folder) / "schema.sqlite3"))
        document = app.openapi()
        app.state.store.close()
    return schemathesis.openapi.from_dict(document)


SCHEMA = _schema()


def _check(client: TestClient, case: Any) -> None:
    """Send a generated case through the test client; schemathesis judges the answer."""
    request = case.as_transport_kwargs(base_url=str(client.base_url))
    request.pop("cookies", None)  # none are generated; httpx wants them on the client
    if isinstance(request.get("data"), bytes | str):
        request["content"] = request.pop("data")
    with responses.RequestsMock(assert_all_requests_are_fired=False):
        response = client.request(**request)
    case.validate_response(response, checks=CHECKS)


def test_the_schema_describes_the_bodies() -> None:
    raw = SCHEMA.raw_schema
    hook = raw["paths"]["/cds-services/{service_id}"]["post"]
    body = hook["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/CdsHookRequest"}
    assert {"hook", "hookInstance", "context"} <= set(
        raw["components"]["schemas"]["CdsHookRequest"]["required"]
    )
    (service_id,) = hook["parameters"]
    assert service_id["schema"]["enum"] == [
        "medication-safety-order-select",
        "medication-safety-order-sign",
    ]
    assert {"200", "400", "401", "404", "412", "413"} <= set(hook["responses"])


def test_the_schema_is_served(client: TestClient) -> None:
    assert client.get("/openapi.json").json()["paths"].keys() == SCHEMA.raw_schema["paths"].keys()
    assert TestClient(client.app, sign=False).get("/openapi.json").status_code == 401


@pytest.mark.parametrize("method, path, mode, examples", OPERATIONS)
def test_no_generated_request_gets_a_server_error(
    client: TestClient, method: str, path: str, mode: GenerationMode, examples: int
) -> None:
    operation = SCHEMA[path][method]

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        _check(client, case)

    run()


def test_open_mode_survives_the_fuzzer_too(open_settings: Settings, knowledge: Knowledge) -> None:
    operation = SCHEMA["/cds-services/{service_id}"]["POST"]
    with TestClient(create_app(open_settings, knowledge)) as client:

        @settings(
            max_examples=40, deadline=None, database=None, suppress_health_check=list(HealthCheck)
        )
        @given(case=operation.as_strategy())
        def run(case: Any) -> None:
            _check(client, case)

        run()

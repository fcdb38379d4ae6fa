"""The OpenAPI document's answers are errors.ANSWERS' rows for what each route can raise:
every status the service sends on a route is listed, and none it never sends (FastAPI's 422)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fhir_module.errors import (
    ANSWERS,
    BodyTimeout,
    DataUnavailable,
    InvalidRequest,
    StoreUnavailable,
    TooLarge,
    TooMuchFeedback,
    Unauthorized,
    UnknownService,
    WrongHost,
    answer_for,
)
from fhir_module.server import Settings, create_app

GUARD = {Unauthorized, StoreUnavailable, WrongHost, BodyTimeout, TooLarge}


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder: Path = tmp_path_factory.mktemp("openapi")
    app = create_app(Settings(db_path=folder / "answers.sqlite3"))
    found: dict[str, Any] = app.openapi()
    app.state.store.close()
    return found


def _statuses(*classes: type[BaseException]) -> set[str]:
    return {str(ANSWERS[c].status) for c in classes} | {"200"}


@pytest.mark.parametrize(
    ("path", "method", "raises"),
    [
        ("/cds-services", "get", GUARD),
        (
            "/cds-services/{service_id}",
            "post",
            GUARD | {InvalidRequest, UnknownService, DataUnavailable},
        ),
        (
            "/cds-services/{service_id}/feedback",
            "post",
            GUARD | {InvalidRequest, UnknownService, TooMuchFeedback},
        ),
    ],
)
def test_each_route_lists_the_statuses_of_the_table(
    document: dict[str, Any], path: str, method: str, raises: set[type[BaseException]]
) -> None:
    answers = document["paths"][path][method]["responses"]
    assert set(answers) == _statuses(*raises)
    for status, answer in answers.items():
        if status in ("200", str(ANSWERS[Unauthorized].status)):
            continue
        schema = answer["content"]["application/fhir+json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/OperationOutcome"}
    assert "content" not in answers[str(ANSWERS[Unauthorized].status)]  # a bare 401


def test_the_503_says_when_to_send_again(document: dict[str, Any]) -> None:
    wait = answer_for(StoreUnavailable("x")).retry_after
    answer = document["paths"]["/cds-services/{service_id}/feedback"]["post"]["responses"]["503"]
    assert str(wait) in answer["headers"]["Retry-After"]["description"]


def test_no_route_lists_a_422(document: dict[str, Any]) -> None:
    for path in document["paths"].values():
        for operation in path.values():
            assert "422" not in operation["responses"]
    assert "HTTPValidationError" not in document["components"]["schemas"]

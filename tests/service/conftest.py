"""Fixtures of the service tests: settings on a temporary database, the app's test client."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from fhir_module.knowledge import Knowledge
from fhir_module.service import Settings, create_app

with warnings.catch_warnings():
    # Starlette asks for httpx2 over httpx for its test client; the test extras pin httpx.
    warnings.filterwarnings("ignore", message=".*httpx2.*")
    from fastapi.testclient import TestClient


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(db_path=tmp_path / "service.sqlite3", fhir_timeout=2.0, max_pages=3)


@pytest.fixture
def client(settings: Settings, knowledge: Knowledge) -> Iterator[TestClient]:
    with TestClient(create_app(settings, knowledge)) as test_client:
        yield test_client

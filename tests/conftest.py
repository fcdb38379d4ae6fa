"""Shared fixtures: the module's knowledge, loaded once per test session."""

from __future__ import annotations

import pytest

from fhir_module.knowledge import Knowledge, load_knowledge


@pytest.fixture(scope="session")
def knowledge() -> Knowledge:
    return load_knowledge()

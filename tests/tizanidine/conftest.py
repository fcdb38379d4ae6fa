"""The tizanidine module's resources (modules/tizanidine), loaded beside baclofen."""

from __future__ import annotations

from pathlib import Path

import pytest

from fhir_module.knowledge import Knowledge, load_knowledge

ROOT = Path(__file__).resolve().parents[2]
MODULE = ROOT / "modules" / "tizanidine"


@pytest.fixture(scope="session")
def terms() -> Knowledge:
    """The module as shipped, beside the built-in baclofen module."""
    return load_knowledge(MODULE)

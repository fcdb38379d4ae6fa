"""The tizanidine module's resources (modules/tizanidine), loaded beside baclofen."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from fhir_module.knowledge import Knowledge, load_knowledge

ROOT = Path(__file__).resolve().parents[2]
MODULE = ROOT / "modules" / "tizanidine"
#: the second_drug test's PlanDefinition: one rule, reading no patient fact
ONE_RULE_PLAN = (
    ROOT / "tests" / "second_drug" / "knowledge" / "PlanDefinition-tizanidine-order-safety.json"
)


@pytest.fixture(scope="session")
def terms(tmp_path_factory: pytest.TempPathFactory) -> Knowledge:
    """The module's MedicationKnowledge, products and ValueSets as shipped, under a
    one-rule PlanDefinition: what the terminology and the dose figures read."""
    folder = tmp_path_factory.mktemp("tizanidine-terms")
    for path in MODULE.glob("*.json"):
        if not path.name.startswith(("PlanDefinition-", "Library-")):
            shutil.copy(path, folder / path.name)
    shutil.copy(ONE_RULE_PLAN, folder / ONE_RULE_PLAN.name)
    return load_knowledge(folder)

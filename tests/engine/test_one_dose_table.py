"""One hook call computes each order's daily dose once: the engine and the fact kinds read
the call's one table (the drafts judged, and the same drafts as the kinds see them)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

import fhir_module.engine._call as call
import fhir_module.facts._kinds as kinds
from fhir_module import evaluate

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
#: the order-sign examples with an order of a known drug (one without has no dose to compute)
REQUESTS = [
    p for p in sorted(EXAMPLES.glob("order-sign-*.request.json")) if "no-baclofen" not in p.name
]


@pytest.mark.parametrize("path", REQUESTS, ids=lambda p: p.name.removesuffix(".request.json"))
def test_each_order_is_dosed_once_per_call(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    counted: Counter[tuple[str, str]] = Counter()
    real = kinds.daily_dose

    def counting(order: Any, knowledge: Any, medication: Any = None) -> Any:
        counted[(json.dumps(order, sort_keys=True), json.dumps(medication, sort_keys=True))] += 1
        return real(order, knowledge, medication)

    for module in (kinds, call):  # wherever a dose may be computed from
        if hasattr(module, "daily_dose"):
            monkeypatch.setattr(module, "daily_dose", counting)
    response = evaluate(path.read_text())
    assert "cards" in response
    assert counted, "no dose computed"
    twice = [key for key, n in counted.items() if n > 1]
    assert twice == []

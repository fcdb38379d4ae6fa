"""Cost of one daily-dose computation next to the cost of parsing the order's JSON.

Run by hand: ``python benchmarks/bench_dose.py``. Prints figures, asserts nothing.
The goal is a ratio at or below 1: reading the dose costs no more than parsing.
"""

from __future__ import annotations

import gc
import json
import time
import timeit
from typing import Any

from fhir_module.dosing import clear_memo, daily_dose
from fhir_module.knowledge import load_knowledge

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
SNOMED = "http://snomed.info/sct"

# A typical EHR draft order: a coded tablet product, two tablets three times a day by mouth.
ORDER_TEXT = json.dumps(
    {
        "resourceType": "MedicationRequest",
        "id": "draft-baclofen-1",
        "status": "draft",
        "intent": "order",
        "medicationCodeableConcept": {
            "coding": [
                {"system": RXNORM, "code": "197391", "display": "baclofen 10 MG Oral Tablet"}
            ],
            "text": "baclofen 10 MG Oral Tablet",
        },
        "subject": {"reference": "Patient/example"},
        "authoredOn": "2024-05-01",
        "dosageInstruction": [
            {
                "sequence": 1,
                "text": "2 tablets by mouth three times a day",
                "timing": {"repeat": {"frequency": 3, "period": 1, "periodUnit": "d"}},
                "route": {
                    "coding": [{"system": SNOMED, "code": "26643006", "display": "Oral route"}]
                },
                "doseAndRate": [
                    {
                        "type": {
                            "coding": [
                                {
                                    "system": "http://terminology.hl7.org/CodeSystem/dose-rate-type",
                                    "code": "ordered",
                                }
                            ]
                        },
                        "doseQuantity": {
                            "value": 2,
                            "unit": "tablet",
                            "system": "http://unitsofmeasure.org",
                            "code": "{tbl}",
                        },
                    }
                ],
            }
        ],
    }
)


def _best_per_call(statements: dict[str, Any], number: int, rounds: int = 9) -> dict[str, float]:
    """Best time per call of each statement, the rounds interleaved so that a busy moment
    on the machine weighs on both alike."""
    best = dict.fromkeys(statements, float("inf"))
    for _ in range(rounds):
        for name, statement in statements.items():
            best[name] = min(best[name], timeit.timeit(statement, number=number) / number)
    return best


def _orders_with_doses(first: int, count: int) -> list[str]:
    """``count`` copies of the order's JSON text, each with its own dose value."""
    template = json.loads(ORDER_TEXT)
    quantity = template["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"]
    texts = []
    for i in range(first, first + count):
        quantity["value"] = round(1 + i / 10_000, 4)
        texts.append(json.dumps(template))
    return texts


def _parse_then_dose(
    knowledge: Any, fresh: bool, count: int = 1_000, rounds: int = 9
) -> tuple[float, float]:
    """(parse, dose) seconds per order when each order is parsed from text and then computed,
    as a service does; the dose's cost is that run less the parsing alone.

    ``fresh``: every round brings doses never seen before, and the dose arithmetic's memo
    (``dosing.clear_memo``) is emptied before it, so nothing remembered from earlier rounds
    is reused. Otherwise the same ``count`` distinct doses come back each round. The
    collector is paused while timing, as ``timeit`` does.
    """
    loads = json.loads
    best_parse = best_both = float("inf")
    texts = _orders_with_doses(0, count)
    for text in texts:
        daily_dose(loads(text), knowledge)
    gc.disable()
    try:
        for round_ in range(rounds):
            if fresh:
                texts = _orders_with_doses((round_ + 1) * count, count)
                clear_memo()
            start = time.perf_counter()
            for text in texts:
                loads(text)
            parse = time.perf_counter() - start
            start = time.perf_counter()
            for text in texts:
                daily_dose(loads(text), knowledge)
            both = time.perf_counter() - start
            best_parse, best_both = min(best_parse, parse), min(best_both, both)
    finally:
        gc.enable()
    return best_parse / count, (best_both - best_parse) / count


def _print(title: str, parse: float, dose: float) -> None:
    print(f"\n{title}")
    print(f"  {'json.loads:':12s} {parse * 1e6:8.2f} us per order")
    print(f"  {'daily_dose:':12s} {dose * 1e6:8.2f} us per order")
    print(f"  ratio daily_dose / json.loads: {dose / parse:.2f}")


def main() -> None:
    """Time both in three settings, best of several interleaved rounds, and print the ratios."""
    order = json.loads(ORDER_TEXT)
    knowledge = load_knowledge()  # the module's real, indexed knowledge
    result = daily_dose(order, knowledge)
    print(f"order JSON: {len(ORDER_TEXT)} characters")
    print(f"result: {result}")
    best = _best_per_call(
        {
            "json.loads": lambda: json.loads(ORDER_TEXT),
            "daily_dose": lambda: daily_dose(order, knowledge),
        },
        number=20_000,
    )
    _print("1. this order, again and again:", best["json.loads"], best["daily_dose"])
    _print(
        "2. parsed from text each time, 1,000 different doses met before:",
        *_parse_then_dose(knowledge, fresh=False),
    )
    _print(
        "3. parsed from text each time, every dose never met before:",
        *_parse_then_dose(knowledge, fresh=True),
    )


if __name__ == "__main__":
    main()

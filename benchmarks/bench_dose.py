"""Cost of one daily-dose computation next to the cost of parsing the order's JSON.

Run by hand: ``python benchmarks/bench_dose.py``. Prints figures, asserts nothing.
The goal is a ratio at or below 1: reading the dose costs no more than parsing.
"""

from __future__ import annotations

import json
import timeit
from typing import Any

from fhir_module.dosing import daily_dose
from fhir_module.knowledge import load_knowledge

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
SNOMED = "http://snomed.info/sct"

# A typical EHR draft order: a coded tablet product, two tablets three times a day by mouth.
ORDER_TEXT = json.dumps({
    "resourceType": "MedicationRequest",
    "id": "draft-baclofen-1",
    "status": "draft",
    "intent": "order",
    "medicationCodeableConcept": {
        "coding": [{"system": RXNORM, "code": "197391",
                    "display": "baclofen 10 MG Oral Tablet"}],
        "text": "baclofen 10 MG Oral Tablet",
    },
    "subject": {"reference": "Patient/example"},
    "authoredOn": "2024-05-01",
    "dosageInstruction": [{
        "sequence": 1,
        "text": "2 tablets by mouth three times a day",
        "timing": {"repeat": {"frequency": 3, "period": 1, "periodUnit": "d"}},
        "route": {"coding": [{"system": SNOMED, "code": "26643006", "display": "Oral route"}]},
        "doseAndRate": [{
            "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/dose-rate-type",
                                 "code": "ordered"}]},
            "doseQuantity": {"value": 2, "unit": "tablet", "system": "http://unitsofmeasure.org",
                             "code": "{tbl}"},
        }],
    }],
})




def _best_per_call(statements: dict[str, Any], number: int, rounds: int = 9) -> dict[str, float]:
    """Best time per call of each statement, the rounds interleaved so that a busy moment
    on the machine weighs on both alike."""
    best = dict.fromkeys(statements, float("inf"))
    for _ in range(rounds):
        for name, statement in statements.items():
            best[name] = min(best[name], timeit.timeit(statement, number=number) / number)
    return best


def main() -> None:
    """Time both, best of several repeats, and print them with their ratio."""
    order = json.loads(ORDER_TEXT)
    knowledge = load_knowledge()  # the module's real, indexed knowledge
    result = daily_dose(order, knowledge)
    best = _best_per_call({"json.loads": lambda: json.loads(ORDER_TEXT),
                           "daily_dose": lambda: daily_dose(order, knowledge)}, number=20_000)
    print(f"order JSON: {len(ORDER_TEXT)} characters")
    print(f"result: {result}")
    for name, seconds in best.items():
        print(f"{name + ':':12s} {seconds * 1e6:8.2f} us per call")
    print(f"ratio daily_dose / json.loads: {best['daily_dose'] / best['json.loads']:.2f}")


if __name__ == "__main__":
    main()

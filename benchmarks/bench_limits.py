"""The cost of one hook call at the service's limits: CPU, time and memory.

Run by hand: ``python benchmarks/bench_limits.py``. Prints figures, asserts nothing.
Each request is as large as the default Settings let one be (5 MiB body, 1000 entries,
1000 dosage instructions, 2000 dose and timing entries) in one way that costs work;
each runs in a process of its own (the knowledge loaded, one small call made first), as
the service's pipeline runs it: the body parsed and validated, the record read from the
prefetch, the engine, the cards, the response written as JSON. The figures are its CPU
time, its wall time, and how far it raised the process's peak resident memory.

The goal: each well under 1 s and under 100 MiB. The last rows are requests beyond the
limits, refused with 413 before the work: the cost of saying no.
"""

from __future__ import annotations

import argparse
import copy
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _harness import EXAMPLE_DAY, drafts_of, example, machine, with_drafts

from fhir_module._api import default_knowledge
from fhir_module.hooks._limits import dose_work
from fhir_module.hooks._pipeline import run_hook
from fhir_module.server import Settings

LIMITS = Settings()
GOAL_SECONDS, GOAL_MIB = 1.0, 100.0


def _base() -> dict[str, Any]:
    return example("order-sign-max-daily-dose-oral")


def _active_work() -> tuple[int, int]:
    """The dose work of the patient's own orders in the base request's prefetch."""
    bundle = _base()["prefetch"].get("medications") or {}
    return dose_work(e.get("resource") for e in bundle.get("entry", []))


def _order() -> dict[str, Any]:
    return copy.deepcopy(drafts_of(_base())[0])


def _with_entries(dosage: dict[str, Any], extra: int) -> dict[str, Any]:
    """The dosage with `extra` timeOfDay entries (one more dose and timing entry each)."""
    out = copy.deepcopy(dosage)
    repeat = out.setdefault("timing", {}).setdefault("repeat", {})
    repeat["timeOfDay"] = [f"{8 + i % 12:02d}:00:00" for i in range(extra)]
    return out


def many_orders() -> dict[str, Any]:
    """As many draft orders as allowed, one route (one group judged together: one card
    whose suggestion changes every order), the dose and timing entries used up."""
    dosages, entries = _active_work()
    count = min(LIMITS.max_entries, LIMITS.max_dosages - dosages)
    order = _order()
    per = max(0, (LIMITS.max_dose_entries - entries - dose_work([order] * count)[1]) // count)
    order["dosageInstruction"] = [_with_entries(order["dosageInstruction"][0], per)]
    return with_drafts(_base(), [order] * count)


def many_dosages() -> dict[str, Any]:
    """One draft order with every dosage instruction allowed, in sequence."""
    order = _order()
    first = order["dosageInstruction"][0]
    dosages, entries = _active_work()
    count = min(
        LIMITS.max_dosages - dosages, (LIMITS.max_dose_entries - entries) // dose_work([order])[1]
    )
    order["dosageInstruction"] = [{**copy.deepcopy(first), "sequence": i + 1} for i in range(count)]
    return with_drafts(_base(), [order])


def drafts_and_active() -> dict[str, Any]:
    """Half the dosage instructions in drafts, half in the patient's active orders
    (duplicate therapy: the active doses are listed on every draft's card)."""
    half = LIMITS.max_dosages // 2
    request = with_drafts(_base(), [_order()] * half)
    active = []
    for i in range(half):
        past = _order()
        past.update(id=f"active-{i + 1}", status="active", authoredOn="2026-10-01")
        active.append({"resource": past})
    request["prefetch"]["medications"] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": active,
    }
    return request


def full_body() -> dict[str, Any]:
    """One order and the prefetch Bundles full (entries up to the limit), the body padded
    with Observation notes to just under the byte limit."""
    request = with_drafts(_base(), [_order()])
    count = LIMITS.max_entries
    room = LIMITS.max_body_bytes - len(json.dumps(request)) - 200 * count
    pad = "x" * (room // count)
    request["prefetch"]["observations"] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [
            {
                "resource": {
                    "resourceType": "Observation",
                    "id": f"obs-{i}",
                    "status": "final",
                    "code": {"text": "note"},
                    "note": [{"text": pad}],
                }
            }
            for i in range(count)
        ],
    }
    return request


def long_texts() -> dict[str, Any]:
    """One order whose medication and route texts fill the body."""
    order = _order()
    room = (LIMITS.max_body_bytes - len(json.dumps(_base())) - 1000) // 2
    order["medicationCodeableConcept"] = {"text": "baclofen 10 MG Oral Tablet " + "x" * room}
    order["dosageInstruction"][0]["route"] = {"text": "by mouth " + "y" * room}
    return with_drafts(_base(), [order])


def over_the_limits() -> dict[str, Any]:
    """1000 draft orders of 30 dosage instructions each, within the byte limit: refused."""
    dosage = {
        "doseAndRate": [{"doseQuantity": {"value": 10, "unit": "mg"}}],
        "timing": {"code": {"text": "TID"}},
    }
    order = {
        "resourceType": "MedicationRequest",
        "status": "draft",
        "intent": "order",
        "medicationCodeableConcept": {"text": "baclofen"},
        "dosageInstruction": [{**dosage, "sequence": i + 1} for i in range(30)],
    }
    return with_drafts(_base(), [order] * 1000)


CASES: dict[str, Callable[[], dict[str, Any]]] = {
    "many-orders": many_orders,
    "many-dosages": many_dosages,
    "drafts-and-active": drafts_and_active,
    "full-body": full_body,
    "long-texts": long_texts,
    "over-the-limits": over_the_limits,
}


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_case(name: str, path: Path) -> dict[str, Any]:
    """One case in this process, its body read from `path`: its cost, as a dict."""
    from datetime import date

    from fhir_module.errors import FhirModuleError

    knowledge = default_knowledge()
    today = date.fromisoformat(EXAMPLE_DAY)
    run_hook(knowledge, None, json.dumps(_base()).encode(), settings=LIMITS, today=today)
    before = _peak_mib()
    body = path.read_bytes()  # as the service holds the body it received
    cpu, wall = time.process_time(), time.perf_counter()
    try:
        response = run_hook(knowledge, None, body, settings=LIMITS, today=today).response
        status, out = 200, json.dumps(response).encode()
        cards = len(response["cards"])
    except FhirModuleError as exc:
        status, out, cards = (413 if "more than" in str(exc) else 400), str(exc).encode(), 0
    return {
        "case": name,
        "bytes": len(body),
        "status": status,
        "cards": cards,
        "response_bytes": len(out),
        "cpu": time.process_time() - cpu,
        "wall": time.perf_counter() - wall,
        "mib": _peak_mib() - before,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", choices=sorted(CASES), help=argparse.SUPPRESS)
    parser.add_argument("--body", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        print(json.dumps(run_case(args.case, args.body)))
        return
    print(machine())
    print(
        f"limits: body {LIMITS.max_body_bytes} bytes, {LIMITS.max_entries} entries, "
        f"{LIMITS.max_dosages} dosage instructions, {LIMITS.max_dose_entries} dose and "
        f"timing entries"
    )
    with tempfile.TemporaryDirectory() as folder:
        for name, build in CASES.items():
            body = Path(folder) / f"{name}.json"
            body.write_text(json.dumps(build()))
            child = subprocess.run(
                [sys.executable, __file__, "--case", name, "--body", str(body)],
                capture_output=True,
                text=True,
                check=True,
            )
            _print(json.loads(child.stdout.strip().splitlines()[-1]))


def _print(row: dict[str, Any]) -> None:
    verdict = "met" if row["wall"] < GOAL_SECONDS and row["mib"] < GOAL_MIB else "missed"
    print(
        f"{row['case']:18s} {row['bytes']:>8d} bytes -> {row['status']} "
        f"({row['cards']} cards, {row['response_bytes']} bytes): "
        f"cpu {row['cpu']:6.3f} s, wall {row['wall']:6.3f} s, "
        f"peak memory +{row['mib']:6.1f} MiB   goal < 1 s, < 100 MiB: {verdict}"
    )


if __name__ == "__main__":
    main()

"""In-process cost of a hook call: one draft baclofen order against fifty.

Run by hand: ``python benchmarks/bench_engine.py [--runs N]``. Prints figures, asserts nothing.
Each call is the public ``fhir_module.evaluate(request)``: validation, the prefetched
record, the engine and the cards, without HTTP and without the audit. The requests are
examples/order-sign-max-daily-dose-oral (an order above the oral maximum, with an active
order of the patient's) and the same request with 50 draft orders:

- "50 same": its order 50 times (one group of 50 orders judged together: one card whose
  suggestion scales all 50);
- "50 mixed": the drafts of every order-sign example in turn (oral, intrathecal,
  injection, unverifiable doses...), for the same patient.

The goal: 50 orders cost at most 20 times one order.
"""

from __future__ import annotations

import argparse
import gc
import json
import time
from collections.abc import Callable
from datetime import date
from typing import Any

from _harness import (
    EXAMPLE_DAY,
    drafts_of,
    example,
    example_requests,
    machine,
    ms,
    percentile,
    repeated,
    with_drafts,
)

from fhir_module import evaluate
from fhir_module._api import default_knowledge

GOAL = 20.0


def timed(calls: dict[str, Callable[[], Any]], runs: int) -> dict[str, list[float]]:
    """Seconds per call of each, `runs` times, interleaved so that a busy moment on the
    machine weighs on all alike; a few unmeasured warm-up calls first."""
    for call in calls.values():
        for _ in range(3):
            call()
    samples: dict[str, list[float]] = {name: [] for name in calls}
    gc.collect()
    for _ in range(runs):
        for name, call in calls.items():
            start = time.perf_counter()
            call()
            samples[name].append(time.perf_counter() - start)
    return samples


def requests_to_time() -> dict[str, dict[str, Any]]:
    one = example("order-sign-max-daily-dose-oral")
    mixed = [
        d
        for name, r in example_requests().items()
        if r["hook"] == "order-sign" and "no-baclofen" not in name
        for d in drafts_of(r)
    ]
    return {
        "1 order": one,
        "50 same": repeated(one, 50),
        "50 mixed": with_drafts(one, [mixed[i % len(mixed)] for i in range(50)]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200, help="calls per request (default 200)")
    args = parser.parse_args()
    today = date.fromisoformat(EXAMPLE_DAY)
    default_knowledge()  # loaded once per process, as the service does
    print(machine())
    bodies = {name: json.dumps(request) for name, request in requests_to_time().items()}
    samples = timed(
        {name: (lambda body=body: evaluate(body, today=today)) for name, body in bodies.items()},
        args.runs,
    )
    results: dict[str, tuple[float, float]] = {}
    for name, body in bodies.items():
        response = evaluate(body, today=today)
        p50, p99 = percentile(samples[name], 50), percentile(samples[name], 99)
        results[name] = (p50, p99)
        actions = sum(
            len(s["actions"]) for c in response["cards"] for s in c.get("suggestions", [])
        )
        print(
            f"{name:9s} p50 {ms(p50)}  p99 {ms(p99)}   ({len(body)} bytes, "
            f"{len(response['cards'])} cards, {actions} suggested actions, {args.runs} runs)"
        )
    base = results["1 order"][0]
    for name in ("50 same", "50 mixed"):
        ratio = results[name][0] / base
        verdict = "met" if ratio <= GOAL else "missed"
        print(f"ratio {name} / 1 order (p50): {ratio:6.1f}   goal <= {GOAL:.0f}: {verdict}")


if __name__ == "__main__":
    main()

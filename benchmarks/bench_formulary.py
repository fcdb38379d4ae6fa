"""A formulary of N drugs: knowledge load time and memory, and hook calls, as N grows.

Run by hand: ``python benchmarks/bench_formulary.py [--sizes 1,10,100,1000] [--runs 200]``.
Prints figures, asserts nothing. For each N, a fresh Python process writes N synthetic drug
modules made from the shipped baclofen module (benchmarks/_formulary.py: new ids, URLs,
codes of a local code system, names drug0001...) into a temporary folder, loads them beside
the built-in knowledge with ``load_knowledge`` and prints:

- load time, total and per module, and the growth of resident memory (VmRSS), total and
  per module;
- per-call p50/p99 of the public ``fhir_module.evaluate`` (no HTTP, no audit) for the
  example order above the oral maximum, made an order of: the first-loaded drug, the
  last-loaded drug, ten different drugs (ten drafts), and no loaded drug; with the cards
  each answer holds, so that a broken generator shows;
- the ratio of each p50 to the smallest N's; for the ten drugs, to the smallest N of ten
  drugs or more (below ten the ten drafts repeat drugs: fewer cards, less work).

Then the start-up to the first answered hook call with the built-in knowledge: a fresh
``python -c`` that imports fhir_module, loads the knowledge and answers one request.
"""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from _formulary import ORDER_EXAMPLE, order_request, write_formulary
from _harness import EXAMPLE_DAY, EXAMPLES, machine, ms, percentile

CASES = ("first drug", "last drug", "ten drugs", "no drug")


def rss_kib() -> int:
    """This process's resident memory (VmRSS), KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


def timed(calls: dict[str, Callable[[], Any]], runs: int) -> dict[str, list[float]]:
    """Seconds per call of each, interleaved; a few unmeasured warm-up calls first."""
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


def one_size(size: int, runs: int) -> dict[str, Any]:
    """Figures for one formulary size, measured in this process."""
    from fhir_module import evaluate
    from fhir_module.knowledge import load_knowledge

    with tempfile.TemporaryDirectory(prefix="formulary-") as tmp:
        drugs = write_formulary(Path(tmp), size)
        gc.collect()
        before = rss_kib()
        start = time.perf_counter()
        knowledge = load_knowledge(*(d.folder for d in drugs))
        seconds = time.perf_counter() - start
        gc.collect()
        grown = rss_kib() - before
    today = date.fromisoformat(EXAMPLE_DAY)
    step = max(1, size // 10)
    bodies = {
        "first drug": order_request(drugs[0]),
        "last drug": order_request(drugs[-1]),
        "ten drugs": order_request([drugs[(i * step) % size] for i in range(10)]),
        "no drug": order_request(None),
    }
    texts = {name: json.dumps(body) for name, body in bodies.items()}
    samples = timed(
        {
            name: (lambda text=text: evaluate(text, knowledge=knowledge, today=today))
            for name, text in texts.items()
        },
        runs,
    )
    cards = {
        name: [c["summary"] for c in evaluate(text, knowledge=knowledge, today=today)["cards"]]
        for name, text in texts.items()
    }
    return {
        "size": size,
        "drugs": len(knowledge.drugs),
        "seconds": seconds,
        "rss_kib": grown,
        "calls": {
            name: [percentile(samples[name], 50), percentile(samples[name], 99)] for name in texts
        },
        "cards": {name: len(found) for name, found in cards.items()},
        "maximum_cards": {
            name: sum("maximum" in s for s in found) for name, found in cards.items()
        },
    }


STARTUP = """
import json, time
start = time.perf_counter()
from datetime import date
from fhir_module import evaluate
imported = time.perf_counter()
body = open({path!r}, encoding="utf-8").read()
response = evaluate(body, today=date.fromisoformat({day!r}))
done = time.perf_counter()
print(json.dumps([imported - start, done - start, len(response["cards"])]))
"""


def startup() -> tuple[float, float, float, int]:
    """(import, import + load + first answer, the whole process) seconds and the cards."""
    code = STARTUP.format(path=str(EXAMPLES / f"{ORDER_EXAMPLE}.request.json"), day=EXAMPLE_DAY)
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout
    wall = time.perf_counter() - start
    imported, answered, cards = json.loads(out)
    return imported, answered, wall, cards


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        default="1,10,100,1000",
        help="formulary sizes, comma-separated (1,10,100,1000)",
    )
    parser.add_argument("--runs", type=int, default=200, help="calls per request (default 200)")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # a child process's size
    args = parser.parse_args()
    if args.one is not None:
        print(json.dumps(one_size(args.one, args.runs)))
        return
    try:
        sizes = [int(s) for s in args.sizes.split(",")]
    except ValueError:
        parser.error("--sizes: comma-separated whole numbers, e.g. 1,100,1000")
    if not sizes or min(sizes) < 1:
        parser.error("--sizes: each size at least 1")
    print(machine())
    results = []
    for size in sizes:
        out = subprocess.run(
            [sys.executable, __file__, "--one", str(size), "--runs", str(args.runs)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        result = json.loads(out)
        results.append(result)
        print(
            f"N = {size:5d}: load {result['seconds']:8.2f} s "
            f"({1000 * result['seconds'] / size:7.2f} ms a module), RSS +{result['rss_kib']} KiB "
            f"({result['rss_kib'] / size:7.1f} KiB a module); {result['drugs']} drugs loaded"
        )
        for name in CASES:
            p50, p99 = result["calls"][name]
            print(
                f"    {name:10s} p50 {ms(p50)}  p99 {ms(p99)}   cards {result['cards'][name]}"
                f" (maximum dose: {result['maximum_cards'][name]})"
            )
    base = results[0]
    for result in results[1:]:
        extra = result["size"] - base["size"]
        print(
            f"each module beyond N = {base['size']} (N = {result['size']}): "
            f"{1000 * (result['seconds'] - base['seconds']) / extra:.2f} ms, "
            f"{(result['rss_kib'] - base['rss_kib']) / extra:.1f} KiB"
        )
    tens = [r for r in results if r["size"] >= 10]
    ten_base = tens[0] if tens else None
    print(
        f"p50 ratio to N = {base['size']}"
        + (f" (ten drugs: to N = {ten_base['size']})" if ten_base is not None else "")
        + ":"
    )
    for result in results[1:]:
        ratios = []
        for name in CASES:
            against = ten_base if name == "ten drugs" else base
            if against is None or result["size"] <= against["size"]:
                ratios.append(f"{name}      -")
                continue
            ratios.append(f"{name} {result['calls'][name][0] / against['calls'][name][0]:6.2f}x")
        print(f"    N = {result['size']:5d}: {'  '.join(ratios)}")
    imported, answered, wall, cards = startup()
    print(
        f"start-up, built-in knowledge: import {imported:.2f} s, first answered hook call "
        f"{answered:.2f} s after start ({cards} cards); the whole process {wall:.2f} s"
    )


if __name__ == "__main__":
    main()

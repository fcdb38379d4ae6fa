"""What the largest request the store takes costs, over HTTP on loopback.

Run by hand: ``python benchmarks/bench_store_limits.py [--runs 20] [--db PATH|URL]``.
Prints figures, asserts nothing. Starts ``fhir-module serve`` (open mode, 127.0.0.1, a
free port; a temporary SQLite file, or the PostgreSQL database --db names, which must
be on this machine) and times, one request at a time:

- feedback of one small item, for comparison;
- feedback at the limits: FHIR_MODULE_MAX_ENTRIES items (1000), every stored string at its
  bound (256-character card and reason ids, 1024-character system, display and comment);
- the same body again: every item already stored, so nothing new is written;
- a hook call whose hookInstance is at its bound, and one over it (400, nothing stored).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests
from _harness import SIGN_SERVICE, Server, example, machine, ms, percentile

from fhir_module.hooks._models import MAX_ID_CHARS, MAX_STORED_TEXT_CHARS
from fhir_module.server._settings import DEFAULT_MAX_ENTRIES


def item(i: int, *, big: bool) -> dict[str, Any]:
    card = f"{i:08d}-{uuid.uuid4()}"
    if not big:
        return {"card": card, "outcome": "overridden", "outcomeTimestamp": "2024-05-01T10:00:00Z"}
    text = "x" * MAX_STORED_TEXT_CHARS
    return {
        "card": card.ljust(MAX_ID_CHARS, "c"),
        "outcome": "overridden",
        "outcomeTimestamp": "2024-05-01T10:00:00Z",
        "overrideReason": {
            "reason": {
                "system": ("http://example.org/" + text)[:MAX_STORED_TEXT_CHARS],
                "code": "r" * MAX_ID_CHARS,
                "display": text,
            },
            "userComment": text,
        },
    }


def timed(runs: int, send: Callable[[], requests.Response], status: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        response = send()
        times.append(time.perf_counter() - started)
        if response.status_code != status:
            raise SystemExit(f"expected {status}, got {response.status_code}")
    return times


def line(name: str, times: list[float], extra: str = "") -> None:
    print(f"{name:44s} p50 {ms(percentile(times, 50))}  p99 {ms(percentile(times, 99))}{extra}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--db", help="a SQLite file or a PostgreSQL URL on this machine")
    args = parser.parse_args()
    print(machine())
    with tempfile.TemporaryDirectory(prefix="fhir-module-limits-") as tmp:
        db: Path | str = args.db or Path(tmp) / "limits.sqlite3"
        if str(db).startswith("postgres"):
            os.environ.setdefault("FHIR_MODULE_AUDIT_KEY", secrets.token_hex(32))
        with Server(db, log=Path(tmp) / "serve.log") as server, requests.Session() as http:
            feedback = f"{server.base}/cds-services/{SIGN_SERVICE}/feedback"
            hook = f"{server.base}/cds-services/{SIGN_SERVICE}"

            def post(url: str, body: Any) -> requests.Response:
                return http.post(url, json=body, timeout=120)

            small = timed(
                args.runs, lambda: post(feedback, {"feedback": [item(0, big=False)]}), 200
            )
            line("feedback, 1 small item", small)
            bodies = [
                {"feedback": [item(i, big=True) for i in range(DEFAULT_MAX_ENTRIES)]}
                for _ in range(args.runs)
            ]
            size = len(json.dumps(bodies[0]))
            queue = list(bodies)
            full = timed(args.runs, lambda: post(feedback, queue.pop()), 200)
            per_item = ms(percentile(full, 50) / DEFAULT_MAX_ENTRIES).strip()
            line(
                f"feedback, {DEFAULT_MAX_ENTRIES} items at every bound",
                full,
                f"  ({size / 1024 / 1024:.1f} MiB, {per_item} per item)",
            )
            again = timed(args.runs, lambda: post(feedback, bodies[0]), 200)
            line("  the same body again (all stored before)", again)
            request = example("order-sign-max-daily-dose-oral")

            def call(instance: str) -> requests.Response:
                return post(hook, {**request, "hookInstance": instance})

            line(
                "hook call, hookInstance at its bound",
                timed(args.runs, lambda: call("h" * MAX_ID_CHARS), 200),
            )
            line(
                "hook call, hookInstance over it (400)",
                timed(args.runs, lambda: call("h" * (MAX_ID_CHARS + 1)), 400),
            )


if __name__ == "__main__":
    main()

"""fhir-module evaluate: print the CDS Hooks response to a request file (or a plain Bundle)."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path

from .._errors import DataUnavailable, FhirServerError, InvalidRequest
from ._common import fail


def add(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="print the CDS Hooks response to a request (or a FHIR Bundle)",
        description=__doc__,
    )
    parser.add_argument(
        "request",
        type=Path,
        metavar="REQUEST.json",
        help="a CDS Hooks request, or a FHIR R4 Bundle judged as order-sign",
    )
    parser.add_argument("--service", help="service id (default: the one for the request's hook)")
    parser.add_argument(
        "--date",
        type=date.fromisoformat,
        metavar="YYYY-MM-DD",
        help="the day of the request (default: today); ages use it when an order has no authoredOn",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from .._api import evaluate, evaluate_bundle

    try:
        text = args.request.read_bytes()
    except OSError as exc:
        return fail(f"cannot read {args.request}: {exc.strerror}")
    try:
        document = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return fail(f"{args.request} is not valid JSON")
    try:
        if isinstance(document, dict) and document.get("resourceType") == "Bundle":
            response = evaluate_bundle(document, today=args.date)
        else:
            response = evaluate(document, service=args.service, today=args.date)
    except InvalidRequest as exc:
        where = f" (at {exc.expression})" if exc.expression else ""
        return fail(f"invalid request: {exc}{where}")
    except (DataUnavailable, FhirServerError) as exc:
        return fail(f"data unavailable: {exc}")
    json.dump(response, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
    return 0

"""fhir-module push: send the knowledge Bundle to a FHIR server."""

from __future__ import annotations

import argparse

from .._errors import FhirServerError
from ._common import fail, knowledge_or_fail


def add(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "push", help="send the knowledge Bundle to a FHIR server", description=__doc__
    )
    parser.add_argument(
        "--fhir-server", required=True, metavar="URL", help="the FHIR server's base URL"
    )
    parser.add_argument("--token", help="a bearer token for the server (never printed)")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds (default 30)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from .._bundle import transaction_bundle
    from .._push import outcome_lines, push_bundle

    if not args.fhir_server.startswith(("http://", "https://")):
        return fail("--fhir-server must be an http:// or https:// URL")
    bundle = transaction_bundle(knowledge_or_fail())
    try:
        results = push_bundle(bundle, args.fhir_server, args.token, timeout=args.timeout)
    except FhirServerError as exc:
        fail(str(exc), 1)
        for line in outcome_lines(exc.outcome):
            print(f"  {line}")
        return 1
    for entry, result in zip(bundle["entry"], results, strict=False):
        verb = {"201": "created", "200": "updated"}.get(result.status[:3], result.status or "?")
        print(f"{verb}: {entry['request']['url']}")
    print(f"{len(results)} of {len(bundle['entry'])} resources accepted by {args.fhir_server}")
    return 0

"""fhir-module push: send the knowledge Bundle to a FHIR server."""

from __future__ import annotations

import argparse
from urllib.parse import urlsplit

from ..errors import FhirServerError
from ._common import fail, knowledge_or_fail


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("must be a number of seconds") from None
    if not 0 < value < 86400:
        raise argparse.ArgumentTypeError("must be more than 0 and less than a day")
    return value


def add(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "push", help="send the knowledge Bundle to a FHIR server", description=__doc__
    )
    parser.add_argument(
        "--fhir-server", required=True, metavar="URL", help="the FHIR server's base URL"
    )
    parser.add_argument("--token", help="a bearer token for the server (never printed)")
    parser.add_argument(
        "--timeout",
        type=_seconds,
        default=30.0,
        help="seconds for the whole exchange (default 30)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from .. import EntriesFailed, display_url, outcome_lines, push_bundle, transaction_bundle

    if not args.fhir_server.startswith(("http://", "https://")):
        return fail("--fhir-server must be an http:// or https:// URL")
    if "@" in urlsplit(args.fhir_server).netloc:
        # requests would send them as Basic credentials in place of the bearer token.
        return fail("--fhir-server must not hold a user name or password: give --token")
    server = display_url(args.fhir_server)
    bundle = transaction_bundle(knowledge_or_fail())
    sent = [entry["request"]["url"] for entry in bundle["entry"]]
    try:
        results = push_bundle(bundle, args.fhir_server, args.token, timeout=args.timeout)
    except EntriesFailed as exc:
        fail(str(exc), 1)
        for url, result in zip(sent, exc.results, strict=False):
            if not result.ok:
                print(f"failed: {url}: {result.status or 'no status'}")
                for line in outcome_lines(result.outcome):
                    print(f"  {line}")
        return 1
    except FhirServerError as exc:
        fail(str(exc), 1)
        for line in outcome_lines(exc.outcome):
            print(f"  {line}")
        return 1
    for url, result in zip(sent, results, strict=True):
        verb = {"201": "created", "200": "updated"}.get(result.status[:3], result.status)
        print(f"{verb}: {url}")
    print(f"{len(results)} of {len(sent)} resources accepted by {server}")
    return 0

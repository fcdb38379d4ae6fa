"""fhir-module export: the knowledge and profiles as a FHIR R4 transaction Bundle."""

from __future__ import annotations

import argparse
import json
import sys

from ._common import fail, knowledge_or_fail


def add(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "export", help="write the knowledge as a transaction Bundle", description=__doc__
    )
    parser.add_argument("--out", metavar="FILE", help="write to FILE instead of standard output")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from .. import transaction_bundle

    text = json.dumps(transaction_bundle(knowledge_or_fail()), indent=2, ensure_ascii=False) + "\n"
    if not args.out:
        sys.stdout.write(text)
        return 0
    try:
        with open(args.out, "w", encoding="utf-8") as out:
            out.write(text)
    except OSError as exc:
        return fail(f"cannot write {args.out}: {exc.strerror}")
    print(f"wrote {args.out}", file=sys.stderr)
    return 0

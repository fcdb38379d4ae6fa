"""fhir-module validate: check resources against FHIR R4 and the module's profiles."""

from __future__ import annotations

import argparse
from pathlib import Path

from ._common import fail


def add(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "validate", help="check resources against R4 and the profiles", description=__doc__
    )
    parser.add_argument(
        "files",
        nargs="*",
        type=Path,
        metavar="FILE",
        help="resources or Bundles (default: the module's own knowledge)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from .. import validate_files

    missing = [str(p) for p in args.files if not p.is_file()]
    if missing:
        return fail(f"no such file: {missing[0]}")
    count, problems = validate_files(list(args.files))
    for line in problems:
        print(line)
    if problems:
        print(f"{len(problems)} problem(s) in {count} resource(s)")
        return 1
    print(f"{count} resource(s) valid")
    return 0

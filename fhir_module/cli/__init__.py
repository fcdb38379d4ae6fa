"""The `fhir-module` command line: one module per sub-command.

Each command module has `add(subparsers)` which registers its parser and sets
`run(args) -> int` as the handler. Exit codes: 0 success, 1 a problem found or
a server error, 2 bad input (one line on stderr, never a stack trace).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib import import_module

COMMANDS = ("evaluate", "serve", "export", "package", "push", "validate", "feedback_report")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="fhir-module", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name in COMMANDS:
        import_module(f"{__name__}._{name}").add(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    from ._common import Exit

    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except Exit as done:
        return int(done.code or 0)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


def console() -> None:
    """Console-script entry point."""
    sys.exit(main())

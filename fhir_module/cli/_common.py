"""Helpers the command modules share: one-line failures, loading the knowledge."""

from __future__ import annotations

import sys
from typing import NoReturn

from ..errors import KnowledgeError
from ..knowledge import Knowledge, load_knowledge


class Exit(SystemExit):
    """Ends a command with a code after its one line has been written."""


def fail(message: str, code: int = 2) -> int:
    """Write one line to stderr and return the exit code."""
    print(f"fhir-module: {message}", file=sys.stderr)
    return code


def die(message: str, code: int = 2) -> NoReturn:
    fail(message, code)
    raise Exit(code)


def knowledge_or_fail() -> Knowledge:
    """The module's knowledge; a broken knowledge file ends the command with one line."""
    try:
        return load_knowledge()
    except KnowledgeError as exc:
        die(f"broken knowledge: {exc}", 1)

"""Helpers the command modules share: one-line failures, loading the knowledge."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from ..errors import ConfigError, KnowledgeConflict, KnowledgeError
from ..knowledge import Knowledge, load_knowledge

if TYPE_CHECKING:
    from ..hooks import LocalSettings
    from ..server import Settings

#: the service's settings (serve) or those of a hook call without it (evaluate)
_Settings = TypeVar("_Settings", "Settings", "LocalSettings")


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
    except KnowledgeConflict as exc:
        die(conflict_line(exc))
    except KnowledgeError as exc:
        die(f"broken knowledge: {exc}", 1)


def conflict_line(exc: KnowledgeConflict) -> str:
    """The one line a refused formulary ends a command with (exit 2): both files named."""
    return f"knowledge conflict: {exc}"


def add_knowledge_options(parser: argparse.ArgumentParser) -> None:
    """--knowledge PATH (repeatable) and --no-builtin-knowledge."""
    parser.add_argument(
        "--knowledge",
        metavar="PATH",
        type=Path,
        action="append",
        help="more knowledge: a folder of FHIR R4 JSON resources, one resource file or a FHIR "
        "package (.tgz, as `fhir-module package` writes); repeatable; replaces "
        "FHIR_MODULE_KNOWLEDGE",
    )
    parser.add_argument(
        "--no-builtin-knowledge",
        action="store_true",
        default=None,
        help="leave out the module's own baclofen knowledge (e.g. when --knowledge brings an "
        "edited copy of it); needs --knowledge",
    )


def with_knowledge_options(settings: _Settings, args: argparse.Namespace) -> _Settings:
    """The settings with the command line's --knowledge and --no-builtin-knowledge on top."""
    chosen: dict[str, Any] = {}
    # a Namespace made without these options (not by the parser) changes nothing
    if getattr(args, "knowledge", None):
        chosen["knowledge_paths"] = tuple(args.knowledge)
    if getattr(args, "no_builtin_knowledge", None):
        chosen["builtin_knowledge"] = False
    return dataclasses.replace(settings, **chosen) if chosen else settings


def settings_knowledge_or_fail(settings: Settings | LocalSettings) -> Knowledge:
    """The knowledge the settings name; a missing path or none at all ends the command with
    one line (exit 2), a broken knowledge file with one line naming it (exit 1), two files
    that claim the same thing (KnowledgeConflict) with one line naming both (exit 2)."""
    try:
        return settings.load_knowledge()
    except ConfigError as exc:
        die(str(exc))
    except KnowledgeConflict as exc:
        die(conflict_line(exc))
    except KnowledgeError as exc:
        die(f"broken knowledge: {exc}", 1)

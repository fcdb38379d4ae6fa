"""fhir-module validate: check resources against FHIR R4 and the module's profiles, and that
knowledge files do not conflict with each other or with the built-in module."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import KnowledgeConflict, KnowledgeError
from ._common import conflict_line, fail


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
    conflict = _conflict(list(args.files))
    if conflict is not None:
        return fail(conflict_line(conflict))
    print(f"{count} resource(s) valid")
    return 0


def _conflict(paths: list[Path]) -> KnowledgeConflict | None:
    """The conflict the files make as a formulary: loaded beside the built-in module, or, when
    they bring their own copy of a built-in resource (as for --no-builtin-knowledge), alone.
    Files that do not make a loadable module (one resource on its own, a Bundle) are not
    cross-checked here."""
    from ..knowledge import default_files, load_knowledge

    builtin = {p.resolve() for p in default_files()}
    given = [p for p in paths if p.resolve() not in builtin]
    if not given:
        return None
    for with_builtin in (True, False):
        try:
            load_knowledge(*given, builtin=with_builtin)
        except KnowledgeConflict as exc:
            if with_builtin and exc.element in ("id", "url"):
                continue  # its own copy of a built-in resource: judged without the built-in
            return exc
        except KnowledgeError:
            return None
        return None
    return None

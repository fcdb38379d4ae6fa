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
        metavar="PATH",
        help="resources or Bundles, folders of them (read with their subfolders, as "
        "--knowledge reads them) or FHIR packages (.tgz) (default: the module's own knowledge)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from .. import validate_files
    from ..knowledge import folder_files

    for path in args.files:
        if not path.exists():
            return fail(f"no such file or folder: {path}")
        if path.is_dir() and not folder_files(path):
            return fail(f"no FHIR JSON resources (*.json) in or below the folder {path}")
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

"""fhir-module package: the knowledge as a FHIR NPM package (.tgz), profiles with snapshots."""

from __future__ import annotations

import argparse
import sys
import tarfile
from pathlib import Path

from ..errors import KnowledgeConflict, KnowledgeError
from ._common import add_knowledge_options, conflict_line, fail, with_knowledge_options


def add(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "package", help="write the knowledge as a FHIR NPM package", description=__doc__
    )
    parser.add_argument(
        "--out", metavar="FILE.tgz", help="where to write it (default: NAME-VERSION.tgz)"
    )
    add_knowledge_options(parser)
    parser.add_argument("--name", help="package name (default: org.fhir-module.<drug ids>)")
    parser.add_argument(
        "--definitions",
        metavar="PATH",
        type=Path,
        nargs="+",
        help="R4 base definitions (FHIR packages or Bundles) to generate the snapshots from "
        "(default: the snapshots stored with the module's profiles)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..errors import ConfigError
    from ..package import (
        Definitions,
        PackageError,
        SnapshotError,
        package_contents,
        package_files,
        write_tgz,
    )
    from ..server import Settings

    try:
        settings = with_knowledge_options(Settings.from_env(), args)
    except ConfigError as exc:
        return fail(f"bad setting: {exc}")
    for path in args.definitions or []:
        if not path.exists():
            return fail(f"no such file or folder: {path}")
    try:
        knowledge = settings.load_knowledge()
    except ConfigError as exc:
        return fail(str(exc))
    except KnowledgeConflict as exc:
        return fail(conflict_line(exc))
    except KnowledgeError as exc:
        return fail(f"broken knowledge: {exc}", 1)
    definitions = None
    if args.definitions:
        definitions = Definitions()
        try:
            for path in args.definitions:
                definitions.read(path)
        except (OSError, ValueError, tarfile.TarError, EOFError) as exc:
            return fail(f"cannot read the definitions {path}: {exc}")
    try:
        manifest, resources = package_contents(knowledge, name=args.name, definitions=definitions)
        data = write_tgz(package_files(manifest, resources))
    except (PackageError, SnapshotError) as exc:
        return fail(str(exc))
    out = Path(args.out or f"{manifest['name']}-{manifest['version']}.tgz")
    try:
        out.write_bytes(data)
    except OSError as exc:
        return fail(f"cannot write {out}: {exc.strerror}")
    print(f"wrote {out} ({manifest['name']}#{manifest['version']})", file=sys.stderr)
    return 0

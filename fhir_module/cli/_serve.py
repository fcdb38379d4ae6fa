"""fhir-module serve: run the CDS Hooks service (discovery at /cds-services) with uvicorn."""

from __future__ import annotations

import argparse
import dataclasses
import os
import sqlite3
from pathlib import Path

from .._errors import InvalidRequest
from ..service import Settings, Store
from ._common import fail, knowledge_or_fail

FACTORY = "fhir_module.service:app_from_env"


def add(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="serve CDS Hooks at /cds-services",
        description=__doc__,
        epilog="Unset options come from FHIR_MODULE_HOST, _PORT, _DB, _FHIR_TIMEOUT, "
        "_MAX_PAGES, _AUDIT_KEY and _CORS_ORIGINS, else the defaults.",
    )
    parser.add_argument("--host", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to listen on (default: 8080)")
    parser.add_argument(
        "--db",
        type=Path,
        metavar="PATH",
        help="SQLite file for the audit and feedback (default: ./fhir-module.sqlite3)",
    )
    parser.add_argument(
        "--workers", type=int, default=1, metavar="N", help="worker processes (default: 1)"
    )
    parser.set_defaults(run=run)


def settings_for(args: argparse.Namespace) -> Settings:
    """The environment's settings with the command line's options on top."""
    settings = Settings.from_env()
    given = {"host": args.host, "port": args.port, "db_path": args.db}
    return dataclasses.replace(settings, **{k: v for k, v in given.items() if v is not None})


def run(args: argparse.Namespace) -> int:
    import uvicorn

    if args.workers < 1:
        return fail("--workers must be at least 1")
    try:
        settings = settings_for(args)
    except InvalidRequest as exc:
        return fail(str(exc))
    try:
        # Open once here: a bad path fails in one line, and the audit key is made only once
        # even when several workers start together.
        Store(settings.db_path, settings.audit_key).close()
    except (sqlite3.Error, OSError) as exc:
        return fail(f"cannot use the database {settings.db_path}: {exc}")
    if args.workers > 1:
        # Workers are new processes: they rebuild the settings from the environment.
        os.environ.update(settings.to_env())
        uvicorn.run(
            FACTORY, factory=True, host=settings.host, port=settings.port, workers=args.workers
        )
        return 0
    from ..service import create_app

    uvicorn.run(create_app(settings, knowledge_or_fail()), host=settings.host, port=settings.port)
    return 0

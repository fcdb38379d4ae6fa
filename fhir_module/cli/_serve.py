"""fhir-module serve: run the CDS Hooks service (discovery at /cds-services) with uvicorn.

With --config, only the CDS clients the file trusts may call (a signed JWT on
every call). Without it the service is open, so it listens on loopback only.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sqlite3
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, StoreUnavailable
from ..hooks import is_loopback_host
from ._common import (
    add_knowledge_options,
    fail,
    settings_knowledge_or_fail,
    with_knowledge_options,
)

if TYPE_CHECKING:
    from ..server import Settings

FACTORY = "fhir_module.server:app_from_env"


def add(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="serve CDS Hooks at /cds-services",
        description=__doc__,
        epilog="Unset options come from FHIR_MODULE_HOST, _PORT, _DB, _CONFIG, _FHIR_TIMEOUT, "
        "_MAX_PAGES, _AUDIT_KEY, _AUDIT_KEY_FILE, _CORS_ORIGINS, _MAX_BODY_BYTES, _MAX_FHIR_BYTES, "
        "_MAX_ENTRIES, _FORWARDED_ALLOW_IPS, _HEADER_TIMEOUT, _IDLE_TIMEOUT, _MAX_CONNECTIONS, "
        "_REPLAY_QUOTA, _STORE_COMMENTS, _RETENTION_DAYS, _FEEDBACK_PER_MINUTE, _KNOWLEDGE "
        "(paths separated by the system's path separator) and _NO_BUILTIN_KNOWLEDGE, else the "
        "defaults.",
    )
    parser.add_argument("--host", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to listen on (default: 8080)")
    parser.add_argument(
        "--db",
        metavar="PATH|URL",
        help="where the audit, feedback and replay cache are kept: a SQLite file (default: "
        "./fhir-module.sqlite3) or a PostgreSQL URL (postgresql://user@host/dbname), "
        "which several replicas may share",
    )
    parser.add_argument(
        "--config",
        type=Path,
        metavar="FILE.toml",
        help="trusted CDS clients (issuer, JWKS, FHIR servers); without it the service is "
        "open and listens on loopback only",
    )
    parser.add_argument(
        "--workers", type=int, default=1, metavar="N", help="worker processes (default: 1)"
    )
    add_knowledge_options(parser)
    parser.set_defaults(run=run)


def settings_for(args: argparse.Namespace) -> Settings:
    """The environment's settings with the command line's options on top."""
    from ..server import Settings, is_postgres_url

    settings = Settings.from_env()
    given = {"host": args.host, "port": args.port, "config_path": args.config}
    chosen: dict[str, Any] = {k: v for k, v in given.items() if v is not None}
    if args.db is not None:
        # --db wins over FHIR_MODULE_DB, whichever kind of database either names.
        if is_postgres_url(args.db):
            chosen["db_url"] = args.db
        else:
            chosen["db_path"], chosen["db_url"] = Path(args.db), None
    return with_knowledge_options(dataclasses.replace(settings, **chosen), args)


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from ..server import NoDelayH11Protocol, Store, configure_connections, describe_database

    if args.workers < 1:
        return fail("--workers must be at least 1")
    try:
        settings = settings_for(args)
    except ConfigError as exc:
        return fail(str(exc))
    if settings.config_path is not None:
        try:
            from ..server import check_config  # PyJWT: only for a service with trusted clients

            check_config(settings.config_path)
        except ConfigError as exc:
            return fail(f"bad config: {exc}")
    elif not is_loopback_host(settings.host):
        return fail(
            f"refusing to listen on {settings.host} without trusted clients: "
            "give --config FILE.toml, or listen on 127.0.0.1"
        )
    else:
        print(
            "fhir-module: open mode (no --config): callers are not authenticated, so the "
            f"service listens on {settings.host} only and reads only loopback FHIR servers",
            file=sys.stderr,
        )
    # Loaded (and checked) here, before anything listens: the service never starts with
    # part of its knowledge, and a bad path or a broken file is one line.
    knowledge = settings_knowledge_or_fail(settings)
    where = describe_database(settings.database)
    try:
        # Open once here: a bad path fails in one line, and the audit key is made only once
        # even when several workers start together.
        Store(settings.database, settings.audit_key, key_file=settings.audit_key_file).close()
    except (sqlite3.Error, OSError) as exc:
        return fail(f"cannot use the database {where}: {exc}")
    except StoreUnavailable as exc:
        return fail(f"cannot use the database {where}: {exc.cause}")
    cap = configure_connections(settings)
    if cap < settings.max_connections:
        print(
            f"fhir-module: at most {cap} open connections per worker "
            f"(the open file limit does not allow {settings.max_connections})",
            file=sys.stderr,
        )
    network: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "http": NoDelayH11Protocol,
        "timeout_keep_alive": settings.idle_timeout,
        # X-Forwarded-For and -Proto are believed only from the proxies the deployer names.
        "proxy_headers": bool(settings.forwarded_allow_ips),
        "forwarded_allow_ips": list(settings.forwarded_allow_ips) or None,
    }
    if args.workers > 1:
        # Workers are new processes: they rebuild the settings from the environment, and
        # load the same knowledge from it (FHIR_MODULE_KNOWLEDGE, absolute paths).
        os.environ.update(settings.to_env())
        uvicorn.run(FACTORY, factory=True, workers=args.workers, **network)
        return 0
    from ..server import create_app

    uvicorn.run(create_app(settings, knowledge), **network)
    return 0

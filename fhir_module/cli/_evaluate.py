"""fhir-module evaluate: print the CDS Hooks response to a request file (or a plain Bundle)."""

from __future__ import annotations

import argparse
import json
import os
import stat
import sys
from datetime import date
from pathlib import Path
from typing import Any

from ..errors import DataUnavailable, FhirServerError, InvalidRequest
from ._common import (
    add_knowledge_options,
    fail,
    settings_knowledge_or_fail,
    with_knowledge_options,
)


def add(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="print the CDS Hooks response to a request (or a FHIR Bundle)",
        description=__doc__,
    )
    parser.add_argument(
        "request",
        type=Path,
        metavar="REQUEST.json",
        help="a CDS Hooks request, or a FHIR R4 Bundle judged as order-sign",
    )
    parser.add_argument(
        "--service",
        metavar="ID",
        help="service id, e.g. medication-safety-order-sign (default: the one for the "
        "request's hook)",
    )
    parser.add_argument(
        "--config",
        type=Path,
        metavar="FILE.toml",
        help="the service's config file, for the service ids its [service_ids] table names "
        "(default: FHIR_MODULE_CONFIG)",
    )
    parser.add_argument(
        "--date",
        type=date.fromisoformat,
        metavar="YYYY-MM-DD",
        help="the day of the request (default: today); ages use it when an order has no authoredOn",
    )
    add_knowledge_options(parser)
    parser.set_defaults(run=run)


class _Unreadable(InvalidRequest):
    """The request file cannot be taken: one line says why."""


def read_request(path: Path, limit: int) -> bytes:
    """The bytes of a regular file of at most `limit` bytes; _Unreadable otherwise.

    A FIFO, a device or a directory is refused before it is read (a FIFO without a
    writer would wait for ever, /dev/zero never ends); O_NONBLOCK keeps the open itself
    from waiting on a FIFO swapped in after the check.
    """
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise _Unreadable(f"{path} is not a regular file")
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except OSError as exc:
        raise _Unreadable(f"cannot read {path}: {exc.strerror}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise _Unreadable(f"{path} is not a regular file")
        if info.st_size > limit:
            raise _Unreadable(f"{path} is larger than {limit} bytes (FHIR_MODULE_MAX_BODY_BYTES)")
        with os.fdopen(fd, "rb", closefd=False) as file:
            data = file.read(limit + 1)  # the file may have grown since
    except OSError as exc:
        raise _Unreadable(f"cannot read {path}: {exc.strerror}") from None
    finally:
        os.close(fd)
    if len(data) > limit:
        raise _Unreadable(f"{path} is larger than {limit} bytes (FHIR_MODULE_MAX_BODY_BYTES)")
    return data


def parse_request(path: Path, data: bytes) -> Any:
    """The JSON document in `data`, nested no deeper than the service takes; _Unreadable
    with one line for anything else (never a RecursionError or a traceback)."""
    from ..hooks import DEFAULT_MAX_DEPTH, check_depth

    try:
        document = json.loads(data, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise _Unreadable(
            f"{path} is not valid JSON (line {exc.lineno}, column {exc.colno})"
        ) from None
    except UnicodeDecodeError:
        raise _Unreadable(f"{path} is not valid JSON (not UTF-8)") from None
    except RecursionError:
        raise _Unreadable(f"{path}: nested deeper than {DEFAULT_MAX_DEPTH} levels") from None
    except ValueError:
        # json.loads reads integers of at most sys.get_int_max_str_digits() digits
        raise _Unreadable(f"{path} is not valid JSON (a number too long to read)") from None
    try:
        check_depth(document)
    except InvalidRequest:
        raise _Unreadable(f"{path}: nested deeper than {DEFAULT_MAX_DEPTH} levels") from None
    return document


def _no_constant(name: str) -> Any:
    raise json.JSONDecodeError(f"{name} is not JSON", name, 0)


def run(args: argparse.Namespace) -> int:
    from .. import default_knowledge, evaluate_bundle
    from ..errors import ConfigError, TooLarge
    from ..hooks import LocalSettings, handle_hook, load_config

    try:
        settings = with_knowledge_options(LocalSettings.from_env(), args)
    except ConfigError as exc:
        return fail(f"bad setting: {exc}")
    config_path = getattr(args, "config", None) or settings.config_path
    try:
        service_ids = load_config(config_path).service_ids if config_path else None
    except ConfigError as exc:
        return fail(f"bad config: {exc}")
    try:
        document = parse_request(args.request, read_request(args.request, settings.max_body_bytes))
    except _Unreadable as exc:
        return fail(str(exc))
    if settings.knowledge_paths or not settings.builtin_knowledge:
        knowledge = settings_knowledge_or_fail(settings)
    else:
        knowledge = default_knowledge()
    try:
        if isinstance(document, dict) and document.get("resourceType") == "Bundle":
            response = evaluate_bundle(
                document, knowledge=knowledge, today=args.date, limits=settings
            )
        else:
            response = handle_hook(
                knowledge,
                args.service,
                document,
                settings=settings,
                today=args.date,
                service_ids=service_ids,
            )
    except TooLarge as exc:
        return fail(f"too large: {exc}")
    except InvalidRequest as exc:
        where = f" (at {exc.expression})" if exc.expression else ""
        return fail(f"invalid request: {exc}{where}")
    except (DataUnavailable, FhirServerError) as exc:
        return fail(f"data unavailable: {exc}")
    json.dump(response, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
    return 0

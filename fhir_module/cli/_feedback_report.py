"""fhir-module feedback-report: per drug and rule, cards shown, accepted, overridden, and why.

The drug is the PlanDefinition whose rule gave the cards, as `canonical-url|version`;
cards audited before the drug was recorded show "(unknown)".
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, TextIO

from ..errors import ConfigError, ReportError
from ._common import fail

if TYPE_CHECKING:
    from ..server import RuleReport

COLUMNS = ("drug", "rule", "shown", "accepted", "overridden")
#: the drug column of rows whose drug was not recorded (cards audited before it was)
UNKNOWN_DRUG = "(unknown)"


def add(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "feedback-report",
        help="per drug and rule: cards shown, accepted, overridden, override reasons",
        description=__doc__,
    )
    parser.add_argument(
        "--db",
        metavar="PATH|URL",
        help="the service's SQLite file or PostgreSQL URL (default: FHIR_MODULE_DB, else "
        "./fhir-module.sqlite3)",
    )
    parser.set_defaults(run=run)


def write_table(rows: Sequence[RuleReport], out: TextIO) -> None:
    """The report as a plain text table, one row per drug and rule; override reasons
    indented under their rule."""
    drugs = [r.drug or UNKNOWN_DRUG for r in rows]
    left = max([len(COLUMNS[0])] + [len(d) for d in drugs])
    width = max(
        [len(COLUMNS[1])]
        + [len(r.rule_id) for r in rows]
        + [len(reason) + 4 for r in rows for reason, _ in r.reasons]
    )
    out.write(
        f"{COLUMNS[0]:<{left}}  {COLUMNS[1]:<{width}}  {COLUMNS[2]:>6}  {COLUMNS[3]:>8}  "
        f"{COLUMNS[4]:>10}\n"
    )
    for drug, r in zip(drugs, rows, strict=True):
        out.write(
            f"{drug:<{left}}  {r.rule_id:<{width}}  {r.shown:>6}  {r.accepted:>8}  "
            f"{r.overridden:>10}\n"
        )
        for reason, count in r.reasons:
            out.write(f"{'':<{left}}      {reason:<{width - 4}}  {'':>6}  {'':>8}  {count:>10}\n")
    if not rows:
        out.write("(no cards shown and no feedback yet)\n")


def run(args: argparse.Namespace) -> int:
    from ..server import Settings, describe_database, feedback_report

    try:
        target = args.db or Settings.from_env().database
    except ConfigError as exc:
        return fail(str(exc))
    where = describe_database(target)
    try:
        rows = feedback_report(target)
    except (sqlite3.Error, ReportError) as exc:
        return fail(f"cannot read the database {where}: {exc}")
    write_table(rows, sys.stdout)
    return 0

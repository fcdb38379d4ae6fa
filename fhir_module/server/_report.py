"""Per-drug and per-rule feedback figures from the service's database, read without
writing to it. A drug is its PlanDefinition (canonical URL and version): drug modules
share rule codes (max-daily-dose), so a rule's figures are always a drug's.

Feedback the service cannot tie to what it showed (a card it never issued, a suggestion
the card did not carry, a reason it did not offer) is reported in rows of its own,
labelled in parentheses, never in a rule's figures."""

from __future__ import annotations

import sqlite3
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.request import pathname2url

from ..errors import ReportError
from ._store import is_postgres_url

UNKNOWN_CARD = "(unknown card)"
NO_REASON = "(no reason given)"
#: the rows of feedback kept apart from the rules' figures (feedback.apart), by why
APART = {
    "unknown-card": UNKNOWN_CARD,
    "unknown-suggestion": "(suggestion not on the card)",
    "reason-not-offered": "(reason not offered by the card)",
}


@dataclass(frozen=True)
class RuleReport:
    """How one rule's cards fared: shown (audit), accepted, overridden and why."""

    rule_id: str
    shown: int
    accepted: int
    overridden: int
    reasons: tuple[tuple[str, int], ...]
    #: a row of feedback kept apart (`rule_id` says why), not a rule's figures
    apart: bool = False
    #: the PlanDefinition whose rule it is: canonical URL and version ('': not recorded)
    plan_url: str = ""
    plan_version: str = ""

    @property
    def drug(self) -> str:
        """The PlanDefinition as a canonical reference, `url|version`; '' when unknown."""
        if not self.plan_url:
            return ""
        return f"{self.plan_url}|{self.plan_version}" if self.plan_version else self.plan_url


_SHOWN = (
    "SELECT plan_url, plan_version, COALESCE(rule_id, ''), COUNT(*) FROM card_shown"
    " GROUP BY 1, 2, 3"
)
_FEEDBACK = (
    "SELECT f.apart, COALESCE(c.rule_id, ''), f.outcome, f.reason_code,"
    " f.reason_display, f.plan_url, f.plan_version FROM feedback f LEFT JOIN card_shown c"
    " ON c.card_uuid = f.card_uuid"
)
#: a row's key: plan URL, plan version, rule id (or the label of feedback kept apart)
Key = tuple[str, str, str]


def feedback_report(target: Path | str) -> list[RuleReport]:
    """The report, one row per drug and rule id (by drug, then rule), from a SQLite file or
    a PostgreSQL URL (every replica's rows); raises sqlite3.Error or ReportError when it
    cannot be read."""
    if is_postgres_url(target):
        from ._pg import read_rows

        try:
            shown_rows, rows = read_rows(str(target), [(_SHOWN, ()), (_FEEDBACK, ())])
        except Exception as exc:  # noqa: BLE001 - any driver error is one line, no trace
            raise ReportError(type(exc).__name__) from None
        return _report(_counts(shown_rows), rows)
    db_path = Path(target)
    if not db_path.is_file():
        raise sqlite3.OperationalError("no such database file")
    uri = f"file:{pathname2url(str(db_path.resolve()))}?mode=ro"
    conn = sqlite3.connect(uri, uri=True)
    try:
        try:
            shown = _counts(conn.execute(_SHOWN).fetchall())
            rows = conn.execute(_FEEDBACK).fetchall()
        except sqlite3.OperationalError as exc:
            if "no such column" not in str(exc):
                raise
            raise sqlite3.OperationalError(
                "written by an older version: start the service on it once to migrate it"
            ) from None
    finally:
        conn.close()
    return _report(shown, rows)


def _counts(rows: list[Any]) -> dict[Key, int]:
    return {(str(url or ""), str(version or ""), rule): count for url, version, rule, count in rows}


def _report(shown: dict[Key, int], rows: list[Any]) -> list[RuleReport]:
    outcomes: dict[Key, Counter[str]] = defaultdict(Counter)
    reasons: dict[Key, Counter[str]] = defaultdict(Counter)
    for apart, card_rule, outcome, code, display, url, version in rows:
        # Feedback on a card never issued, or naming what its card did not offer, is
        # counted apart so that it cannot move a rule's figures.
        rule = APART.get(apart, UNKNOWN_CARD) if apart else card_rule
        key = (str(url or ""), str(version or ""), rule)
        outcomes[key][outcome] += 1
        if outcome == "overridden":
            reasons[key][display or code or NO_REASON] += 1
    return [
        RuleReport(
            key[2],
            shown.get(key, 0),
            outcomes[key]["accepted"],
            outcomes[key]["overridden"],
            tuple(sorted(reasons[key].items(), key=lambda kv: (-kv[1], kv[0]))),
            apart=key[2] in APART.values(),
            plan_url=key[0],
            plan_version=key[1],
        )
        for key in sorted(set(shown) | set(outcomes))
    ]

"""Patient facts on a date: age range, pregnancy, breastfeeding, respiratory disease.

Which codes mean what comes from the knowledge's ValueSets (by id); this module
knows only FHIR's own semantics: statuses, the latest final Observation wins,
entered-in-error and refuted records count for nothing.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from ..knowledge import Knowledge, ValueSetIndex, codings
from ._record import PatientRecord

FINAL = frozenset({"final", "amended", "corrected"})
ACTIVE_CLINICAL = frozenset({"active", "recurrence", "relapse"})
VOID_VERIFICATION = frozenset({"refuted", "entered-in-error"})
_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?")


@dataclass(frozen=True)
class AgeRange:
    """Completed years on a date; low < high when the birth date is partial."""

    low: int
    high: int
    imprecise: bool

    def text(self) -> str:
        years = f"{self.low} years" if self.low == self.high else f"{self.low} to {self.high} years"
        return f"{years} (birth date imprecise)" if self.imprecise else years


@dataclass(frozen=True)
class Finding:
    """A yes/no fact with the records that show it, in words."""

    present: bool
    evidence: str


@dataclass(frozen=True)
class PatientFacts:
    pregnant: Finding
    breastfeeding: Finding
    respiratory: Finding


def parse_date(value: Any) -> tuple[int, int | None, int | None] | None:
    """(year, month, day) of a FHIR date or dateTime, month/day None when partial."""
    if not isinstance(value, str):
        return None
    match = _DATE.match(value)
    if not match:
        return None
    year, month, day = (int(g) if g else None for g in match.groups())
    try:
        date(year or 1, month or 1, day or 1)
    except ValueError:
        return None
    return year, month, day  # type: ignore[return-value]


def _completed_years(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def age_on(birth_date: Any, on: date) -> AgeRange | None:
    """The patient's age range in completed years on a date; None without a usable birth date."""
    parsed = parse_date(birth_date)
    if parsed is None:
        return None
    year, month, day = parsed
    if day is not None and month is not None:
        earliest = latest = date(year, month, day)
    elif month is not None:
        earliest = date(year, month, 1)
        latest = date(year, month, calendar.monthrange(year, month)[1])
    else:
        earliest, latest = date(year, 1, 1), date(year, 12, 31)
    if earliest > on:
        return None
    low = max(0, _completed_years(latest, on)) if latest <= on else 0
    return AgeRange(low, _completed_years(earliest, on), earliest != latest)


def order_date(order: Mapping[str, Any], today: date) -> date:
    """The order's authoredOn date, else today."""
    parsed = parse_date(order.get("authoredOn"))
    if parsed and parsed[1] and parsed[2]:
        return date(parsed[0], parsed[1], parsed[2])
    return today


def _vs(knowledge: Knowledge, id_: str) -> ValueSetIndex | None:
    return next(
        (vs for url, vs in knowledge.value_sets.items() if url.rsplit("/", 1)[-1] == id_), None
    )


def _label(concept: Any) -> str:
    if isinstance(concept, Mapping) and isinstance(concept.get("text"), str):
        return str(concept["text"])
    for c in codings(concept):
        if isinstance(c.get("display"), str):
            return str(c["display"])
        return f"{c.get('system')}|{c.get('code')}"
    return "coded finding"


def _observation_finding(
    record: PatientRecord,
    status: ValueSetIndex | None,
    yes: ValueSetIndex | None,
    no: ValueSetIndex | None,
) -> Finding | None:
    """The latest final status observation; None when there is none."""
    latest: tuple[str, Mapping[str, Any]] | None = None
    for obs in record.observations:
        if not isinstance(obs, Mapping) or str(obs.get("status")) not in FINAL:
            continue
        if status is None or not status.has_concept(obs.get("code")):
            continue
        period = obs.get("effectivePeriod")
        start = period.get("start") if isinstance(period, Mapping) else None
        when = obs.get("effectiveDateTime") or start or obs.get("issued") or ""
        if not isinstance(when, str):
            when = ""
        if latest is None or when > latest[0]:
            latest = (when, obs)
    if latest is None:
        return None
    value = latest[1].get("valueCodeableConcept")
    on = f" on {latest[0][:10]}" if latest[0] else ""
    if yes is not None and yes.has_concept(value):
        return Finding(True, f"Observation{on}: {_label(value)}")
    if no is not None and no.has_concept(value):
        return Finding(False, f"Observation{on}: {_label(value)}")
    return None


def _condition_finding(record: PatientRecord, codes: ValueSetIndex | None) -> Finding:
    shown = []
    for cond in record.conditions:
        if (
            not isinstance(cond, Mapping)
            or codes is None
            or not codes.has_concept(cond.get("code"))
        ):
            continue
        clinical = {str(c.get("code")) for c in codings(cond.get("clinicalStatus"))}
        verification = {str(c.get("code")) for c in codings(cond.get("verificationStatus"))}
        if clinical & ACTIVE_CLINICAL and not verification & VOID_VERIFICATION:
            shown.append(f"Condition: {_label(cond.get('code'))}")
    return Finding(bool(shown), "; ".join(shown))


def patient_facts(knowledge: Knowledge, record: PatientRecord) -> PatientFacts:
    """Pregnancy, breastfeeding and respiratory disease from the record."""

    def status(prefix: str, positive: str, negative: str) -> Finding:
        observed = _observation_finding(
            record,
            _vs(knowledge, f"{prefix}-status-observations"),
            _vs(knowledge, positive),
            _vs(knowledge, negative),
        )
        if observed is not None:
            return observed  # the latest final observation wins over older conditions
        return _condition_finding(record, _vs(knowledge, positive))

    return PatientFacts(
        pregnant=status("pregnancy", "pregnancy-findings", "not-pregnant-findings"),
        breastfeeding=status(
            "breastfeeding", "breastfeeding-findings", "not-breastfeeding-findings"
        ),
        respiratory=_condition_finding(record, _vs(knowledge, "respiratory-diseases")),
    )

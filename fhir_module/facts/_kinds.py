"""The fact kinds of docs/facts.md: one generic implementation each, and their combination.

A module's Library declares which facts its rules read (knowledge/_declarations.py); each
declaration names a kind, and the kind reads the records with the declaration's ValueSets,
units, route and date window. The rules FHIR gives records are written here once: final
Observations only, the latest wins (times compared as instants; a partial date is of the
latest time with each time it may be), refuted and entered-in-error records count for
nothing, dateFilter windows before the order's date.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, NamedTuple, TypeVar

from ..dosing import UNKNOWN_ROUTE, UNRECOGNISED, DailyDose, DoseUnknown, daily_dose
from ..knowledge import KINDS, Declaration, Drug, Knowledge, Named, codings, render_value
from ..knowledge import normalise_text as _normalise
from ._facts import AgeRange, parse_date
from ._record import PatientRecord
from ._variables import PIECE_LIMIT, Dose, clip, dose_variable, in_unit, show

FINAL = frozenset({"final", "amended", "corrected"})
HL7_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
HL7_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
SNOMED = "http://snomed.info/sct"
#: what a Condition's clinicalStatus says: active (True) or not (False). FHIR's own codes
#: (condition-clinical; a coding without a system is read as that, its binding being
#: required), and the SNOMED CT problem statuses that C-CDA-derived feeds send instead.
CLINICAL_STATUS: dict[tuple[str, str], bool] = {
    **{(HL7_CLINICAL, c): True for c in ("active", "recurrence", "relapse")},
    **{(HL7_CLINICAL, c): False for c in ("inactive", "remission", "resolved")},
    (SNOMED, "55561003"): True,  # Active (qualifier value)
    (SNOMED, "73425007"): False,  # Inactive (qualifier value)
    (SNOMED, "413322009"): False,  # Problem resolved (finding)
}
#: what a verificationStatus says: counts, doubt (decides nothing) or void (never counts)
VERIFICATION_STATUS: dict[tuple[str, str], str] = {
    (HL7_VERIFICATION, "confirmed"): "counts",
    **{(HL7_VERIFICATION, c): "doubt" for c in ("unconfirmed", "provisional", "differential")},
    **{(HL7_VERIFICATION, c): "void" for c in ("refuted", "entered-in-error")},
    (SNOMED, "410605003"): "counts",  # Confirmed present (qualifier value)
    (SNOMED, "415684004"): "doubt",  # Suspected (qualifier value)
    (SNOMED, "410516002"): "void",  # Known absent (qualifier value)
    (SNOMED, "723510000"): "void",  # Entered in error (qualifier value)
}
#: the statuses and intents of an order on record that another order interacts with
LIVE_STATUS = frozenset({"active", "on-hold"})
LIVE_INTENT = frozenset({"order", "original-order", "instance-order", "plan"})
#: the intents of a real order (current-orders): not a proposal or a plan, which are not given
ORDER_INTENT = frozenset(
    {"order", "original-order", "reflex-order", "filler-order", "instance-order"}
)
#: the statuses of an order that was never given (route-history)
NEVER_GIVEN = frozenset({"entered-in-error", "cancelled", "draft"})
NOT_COMPUTED = "cannot be computed"
#: the routes of an order that may be any route: none stated or implied, or one stated that
#: the knowledge does not classify (daily_dose's own words for them)
UNSURE_ROUTES = (UNKNOWN_ROUTE, UNRECOGNISED)


def is_live(order: Any) -> bool:
    """Whether a MedicationRequest on record is a live order (status active or on-hold, an
    intent that is an order or plan): one another order interacts with."""
    if not isinstance(order, Mapping):
        return False
    status, intent = order.get("status"), order.get("intent")
    return str(status) in LIVE_STATUS and str(intent) in LIVE_INTENT


@dataclass(frozen=True)
class RecordOrder:
    """A MedicationRequest (on record or a draft of the request), its medication resolved."""

    order: Mapping[str, Any]
    named: Named
    drug: Drug | None
    #: every drug the order names (a combination names several); `drug` is the first
    drugs: tuple[Drug, ...] = ()

    @property
    def reference(self) -> str | None:
        rid = self.order.get("id")
        return f"MedicationRequest/{rid}" if isinstance(rid, str) and rid else None


@dataclass
class Sources:
    """What the kinds read in one hook call, shared by every order judged in it."""

    knowledge: Knowledge
    record: PatientRecord
    #: the patient's MedicationRequests on record
    history: Sequence[RecordOrder]
    #: every draft MedicationRequest of the request
    requested: Sequence[RecordOrder]
    #: the references of the drafts of the request: never "on record" as well
    draft_ids: frozenset[str]
    #: the orders on record the drafts replace (their `priorPrescription`): not added to them
    replaced: frozenset[str] = frozenset()
    #: per-call results, keyed by the declaration (identity) and what else they depend on
    cache: dict[Any, Any] = field(default_factory=dict)
    #: the call's one table of daily doses, the engine's too (see `call_dose`)
    doses: dict[tuple[int, int, int], Dose] = field(default_factory=dict)

    def dose(self, item: RecordOrder, drug: Drug | None = None) -> Dose:
        """The order's daily dose, read with the route categories and products of `drug`
        (the drug judged), else of the order's own drug, else of every module."""
        reader = drug or item.drug
        terms = reader.terms if reader is not None else self.knowledge
        return call_dose(self.doses, terms, item.order, item.named.medication)


def call_dose(
    doses: dict[tuple[int, int, int], Dose],
    terms: Any,
    order: Mapping[str, Any],
    medication: Mapping[str, Any] | None,
) -> Dose:
    """The daily dose of `order` (with its Medication) as `terms` (a drug's route categories
    and products) read it, computed once per hook call: `doses` is the call's table, keyed by
    the identity of all three."""
    key = (id(order), id(medication), id(terms))
    found = doses.get(key)
    if found is None:
        found = doses[key] = daily_dose(order, terms, medication)
    return found


@dataclass(frozen=True)
class Judged:
    """What the kinds read of the order judged (the engine works it out)."""

    order: Mapping[str, Any]
    drug: Drug
    route: str
    route_words: str
    unit: str
    on: date
    age: AgeRange | None
    dose: Dose
    #: the daily dose (mg) of the computable drafts judged together, arithmetic, assumptions
    total: Decimal
    arithmetic: str
    assumptions: str
    guideline: Mapping[str, Any]


Values = dict[str, Any]  # output name ('' for the variable itself) -> value


# ----- dates
def _first_day(value: Any) -> date | None:
    parsed = parse_date(value)
    if parsed is None:
        return None
    return date(parsed[0], parsed[1] or 1, parsed[2] or 1)


def observation_time(obs: Mapping[str, Any]) -> str:
    """What orders Observations: effectiveDateTime, else effectivePeriod.start, else
    effectiveInstant, else issued; '' (older than any dated one) without any."""
    period = obs.get("effectivePeriod")
    start = period.get("start") if isinstance(period, Mapping) else None
    for when in (obs.get("effectiveDateTime"), start, obs.get("effectiveInstant")):
        if isinstance(when, str) and when:
            return when
    issued = obs.get("issued")
    return issued if isinstance(issued, str) else ""


#: FHIR's widest time-zone offsets (its dateTime type allows -14:00 to +14:00), in
#: nanoseconds: a date written without a time is of some hour of its days in one of them
_ZONE = 14 * 3600 * 10**9
_DAY = 86400 * 10**9
#: the time of a FHIR dateTime after its date: hh:mm[:ss[.fraction]] and an offset
_TIME = re.compile(r"T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?(?:Z|([+-])(\d{2}):(\d{2}))?")


class Span(NamedTuple):
    """When a record was made, in nanoseconds of UTC since 0001-01-01: an instant (`start`
    equal to `end`), or the days of a partial date (`end` excluded), which has no time zone."""

    start: int
    end: int

    @property
    def precise(self) -> bool:
        return self.start == self.end


def _instant(day: date, rest: str) -> int | None:
    """The instant of a dateTime whose date is `day` and whose time part is `rest`, in UTC:
    an offset is taken off, a time without one is read as UTC; None for no readable time."""
    match = _TIME.fullmatch(rest)
    if match is None:
        return None
    hour, minute, second, fraction, sign, zone_hours, zone_minutes = match.groups()
    h, m, s = int(hour), int(minute), int(second or 0)
    if h > 23 or m > 59 or s > 60:  # 60: a leap second
        return None
    offset = 0
    if sign:
        oh, om = int(zone_hours), int(zone_minutes)
        if oh > 14 or om > 59:
            return None
        offset = (oh * 60 + om) * 60 * (1 if sign == "+" else -1)
    nanoseconds = int((fraction or "0")[:9].ljust(9, "0"))
    return (day.toordinal() * 86400 + h * 3600 + m * 60 + s - offset) * 10**9 + nanoseconds


def _span(when: str) -> Span | None:
    """When a record dated `when` was made: the instant of a precise time (any offset, so
    that one instant written in two offsets is one time), else the days its date gives (a
    year, a month, a day; a time that cannot be read leaves its day); None without a date."""
    parsed = parse_date(when)
    if parsed is None:
        return None
    year, month, day = parsed
    first = date(year, month or 1, day or 1)
    if day is not None:
        moment = _instant(first, when[10:])
        if moment is not None:
            return Span(moment, moment)
        last = first
    elif month is not None:
        last = date(year, month, calendar.monthrange(year, month)[1])
    else:
        last = date(year, 12, 31)
    return Span(first.toordinal() * _DAY, (last.toordinal() + 1) * _DAY)


class _Frontier(NamedTuple):
    """What says whether a record is older than one of some records: their latest precise
    time, the latest start of their partial dates, and whether any is dated."""

    instant: int | None
    start: int | None
    dated: bool


def _frontier(spans: Iterable[Span | None]) -> _Frontier:
    instants: list[int] = []
    starts: list[int] = []
    for span in spans:
        if span is not None:
            (instants if span.precise else starts).append(span.start)
    return _Frontier(
        max(instants, default=None), max(starts, default=None), bool(instants or starts)
    )


def _older(span: Span | None, recent: _Frontier) -> bool:
    """Whether a record made at `span` was certainly made before one of the records `recent`
    sums up. An instant is before a later instant, and before a partial date whose days start
    more than 14 hours after it (in every time zone); the days of a partial date are before
    an instant 14 hours or more after they end, and before a partial date starting on or after
    their end. An undated record is older than every dated one."""
    if span is None:
        return recent.dated
    if span.precise:
        return (recent.instant is not None and recent.instant > span.start) or (
            recent.start is not None and recent.start - _ZONE > span.start
        )
    return (recent.start is not None and recent.start >= span.end) or (
        recent.instant is not None and recent.instant >= span.end + _ZONE
    )


def _before(span: Span | None, other: Span | None) -> bool:
    """Whether a record made at `span` was certainly made before one made at `other`."""
    return _older(span, _frontier((other,)))


_T = TypeVar("_T")


def latest_of(found: Sequence[tuple[str, _T]]) -> list[tuple[str, _T]]:
    """Of records (their dates first), those of the latest time: each that no other was
    certainly made after (`_older`). So one instant in two offsets is one time, a later
    instant in any offset is later, and a partial date is of the latest time with a latest
    precise time it cannot be ordered against (within 14 hours of its days) or a partial date
    whose days overlap its own: the kinds' rule for several of one time then decides."""
    spans = [_span(when) for when, _ in found]
    recent = _frontier(spans)
    return [item for item, span in zip(found, spans, strict=True) if not _older(span, recent)]


def within(declaration: Declaration, when: Any, on: date) -> bool:
    """Whether a record dated `when` is inside the declaration's dateFilter window."""
    if declaration.within_days is None:
        return True
    day = _first_day(when)
    if day is None:
        return False
    days = int(declaration.within_days.to_integral_value(rounding="ROUND_CEILING"))
    return day >= on - timedelta(days=days)


def label(concept: Any) -> str:
    if isinstance(concept, Mapping) and isinstance(concept.get("text"), str):
        return str(concept["text"])
    for c in codings(concept):
        if isinstance(c.get("display"), str):
            return str(c["display"])
        return f"{c.get('system')}|{c.get('code')}"
    return "coded finding"


# ----- observation-status, condition-active
class Decision(NamedTuple):
    """What one declaration of a Boolean kind says: whether it decides, the value it says,
    the deciding records in words, and the records it could not read, in words."""

    decides: bool
    value: bool
    evidence: str
    unreadable: str = ""


def _final_observations(
    declaration: Declaration, sources: Sources, on: date
) -> list[tuple[str, Mapping[str, Any]]]:
    found = []
    for obs in sources.record.observations:
        if not isinstance(obs, Mapping) or str(obs.get("status")) not in FINAL:
            continue
        if not declaration.matches(obs.get("code")):
            continue
        when = observation_time(obs)
        if within(declaration, when, on):
            found.append((when, obs))
    return found


def observation_status(declaration: Declaration, sources: Sources, judged: Judged) -> Decision:
    """The latest final Observation decides, by its value; when the latest disagree, true.
    A latest one whose value is in neither ValueSet (none, text only, a code of neither)
    decides nothing and, unless another of that time says true, is named in `unreadable`."""
    found = _final_observations(declaration, sources, judged.on)
    if not found:
        return Decision(False, False, "")
    yes, no, unread = [], [], []
    for when, obs in latest_of(found):
        value = obs.get("valueCodeableConcept")
        on = f" on {when[:10]}" if when else ""
        shown = f"Observation{on}: {label(value)}"
        if declaration.present is not None and declaration.present.has_concept(value):
            yes.append(shown)
        elif declaration.absent is not None and declaration.absent.has_concept(value):
            no.append(shown)
        else:
            unread.append(f"{label(obs.get('code'))}{on} ({_unread_value(obs)})")
    if yes:
        return Decision(True, True, "; ".join(yes + no))
    if no:
        return Decision(True, False, "; ".join(no), "; ".join(unread))
    return Decision(False, False, "", "; ".join(unread))


def _unread_value(obs: Mapping[str, Any]) -> str:
    """Why a status Observation's value says neither yes nor no, in words."""
    value = obs.get("valueCodeableConcept")
    if value is None:
        others = sorted(k for k in obs if k.startswith("value"))
        return f"its value is a {others[0][5:]}" if others else "no value"
    found = codings(value)
    text = value.get("text") if isinstance(value, Mapping) else None
    if not found:
        return f"value given as text only: '{text}'" if text else "value empty"
    codes = ", ".join(
        f"{c.get('system') or 'no system'}|{c.get('code')}"
        + (f" '{c['display']}'" if isinstance(c.get("display"), str) else "")
        for c in found
    )
    return f"value in neither the present nor the absent ValueSet: {codes}"


#: the DSTU2/STU3 URLs of the two status systems, read as their R4 ones
_STATUS_SYSTEMS = {
    "http://hl7.org/fhir/condition-clinical": HL7_CLINICAL,
    "http://hl7.org/fhir/condition-ver-status": HL7_VERIFICATION,
}


def _status(concept: Any, system: str, table: Mapping[tuple[str, str], Any]) -> list[Any]:
    """What the codings of a status CodeableConcept say, by `table`. A coding without a
    system is read as of `system` (the element's binding is required), as is a bare code
    (the STU3 shape of the element)."""
    found = [{"code": concept}] if isinstance(concept, str) else codings(concept)
    said = []
    for c in found:
        given = str(c.get("system") or system)
        key = (_STATUS_SYSTEMS.get(given, given), str(c.get("code")))
        if key in table:
            said.append(table[key])
    return said


def _unread_status(cond: Mapping[str, Any], element: str, what: str) -> str:
    """A Condition whose `element` says nothing this kind reads, in words."""
    status = cond.get(element)
    found = [{"code": status}] if isinstance(status, str) else codings(status)
    if status is None:
        said = f"no {what}"
    elif found:
        codes = ", ".join(f"{c.get('system') or 'no system'}|{c.get('code')}" for c in found)
        text = status.get("text") if isinstance(status, Mapping) else None
        said = f"{what} in codes not read: {codes}" + (f" ('{text}')" if text else "")
    else:
        text = status.get("text") if isinstance(status, Mapping) else None
        said = f"{what} given as text only: '{text}'" if text else f"{what} empty"
    return f"{label(cond.get('code'))} ({said})"


def condition_active(declaration: Declaration, sources: Sources, judged: Judged) -> Decision:
    """Any active Condition, confirmed or without a verificationStatus (many feeds send
    none); unconfirmed, provisional, differential and suspected ones do not count, refuted,
    known-absent and entered-in-error ones never. A Condition whose status cannot be read (no
    clinicalStatus and no abatement, or a status in text or codes of no known meaning) counts
    for nothing and is named in the output `unreadable`."""
    shown, unread = [], []
    for cond in sources.record.conditions:
        if not isinstance(cond, Mapping) or not declaration.matches(cond.get("code")):
            continue
        clinical_status, verification_status = (
            cond.get("clinicalStatus"),
            cond.get("verificationStatus"),
        )
        verification = _status(verification_status, HL7_VERIFICATION, VERIFICATION_STATUS)
        if "void" in verification:
            continue
        clinical = _status(clinical_status, HL7_CLINICAL, CLINICAL_STATUS)
        if clinical_status is None and any(k.startswith("abatement") for k in cond):
            continue
        if not clinical:
            unread.append(_unread_status(cond, "clinicalStatus", "clinical status"))
            continue
        if True not in clinical:
            continue
        if verification_status is not None and not verification:
            unread.append(_unread_status(cond, "verificationStatus", "verification status"))
            continue
        if not verification or "counts" in verification:
            shown.append(f"Condition: {label(cond.get('code'))}")
    return Decision(bool(shown), bool(shown), "; ".join(shown), "; ".join(unread))


BOOLEAN_KINDS: dict[str, Callable[[Declaration, Sources, Judged], Decision]] = {
    "observation-status": observation_status,
    "condition-active": condition_active,
}


# ----- the other kinds: output name -> value
def observation_quantity(declaration: Declaration, sources: Sources, judged: Judged) -> Values:
    """The latest final Observation with a plain value in an accepted unit; of several of the
    latest time (`latest_of`), the first in the declaration's `sort` on value (the least safe
    for the rule's comparison). A result that cannot be read (another unit, no value, a
    comparator, a negative value) and is not older than a readable one makes the fact
    unreadable: it is named in `unreadable`, and the variable is empty unless the chosen
    result is certainly older than each such one."""
    readable: list[tuple[Span | None, Decimal, Mapping[str, Any], Mapping[str, Any]]] = []
    skipped: list[tuple[Span | None, str]] = []
    for when, obs in _final_observations(declaration, sources, judged.on):
        quantity = obs.get("valueQuantity")
        span = _span(when)
        value = quantity.get("value") if isinstance(quantity, Mapping) else None
        unit = _accepted_unit(quantity, declaration.units)
        number = _number(value)
        if number is None or not unit or number < 0 or _comparator(quantity):
            skipped.append((span, _unreadable(obs, quantity)))
            continue
        readable.append((span, number, obs, quantity))  # type: ignore[arg-type]
    recent = _frontier(span for span, *_ in readable)
    latest = [item for item in readable if not _older(item[0], recent)]
    later = [(span, text) for span, text in skipped if not _older(span, recent)]
    values: Values = {"": [], "unreadable": []}
    if later:
        values["unreadable"] = clip("; ".join(text for _, text in later), PIECE_LIMIT)
    if not latest:
        return values
    # of equal values the later time counts, so that the feed's order never decides
    latest.sort(key=lambda item: _when(item[0]), reverse=True)
    pick = max if declaration.value_order == "descending" else min
    span, _, obs, quantity = pick(latest, key=lambda item: item[1])
    if not all(_before(span, other) for other, _ in later):
        return values
    unit = _accepted_unit(quantity, declaration.units)
    amount = quantity["value"]
    text = f"{label(obs.get('code'))} {render_value([amount])} {unit}"
    values[""] = {
        "value": amount,
        "unit": unit,
        "date": observation_time(obs) or [],
        "text": clip(text, PIECE_LIMIT),
    }
    return values


def _when(span: Span | None) -> tuple[int, int]:
    return (span.start, span.end) if span is not None else (-1, -1)


def _number(value: Any) -> Decimal | None:
    """A JSON number as a Decimal (None for anything else, or one not finite)."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return None
    number = Decimal(str(value))
    return number if number.is_finite() else None


#: what a unit text may differ in from the UCUM code it spells: case, spaces, and the
#: braces, underscores and carets of annotations and powers ("mL/min/1.73 m^2")
_UNIT_NOISE = str.maketrans("", "", " \t{}_^")


def _unit_text(text: str) -> str:
    return text.translate(_UNIT_NOISE).casefold()


def _accepted_unit(quantity: Any, units: Sequence[str]) -> str:
    """The accepted UCUM unit of a Quantity, as declared: its `code` when it is one of them
    exactly; without a `code`, its `unit` text when it spells one of them (case, spaces,
    braces, underscores and carets aside: "mL/min/1.73m2" is mL/min/{1.73_m2}); else ''."""
    if not isinstance(quantity, Mapping):
        return ""
    code = quantity.get("code")
    if code is not None:
        return code if isinstance(code, str) and code in units else ""
    unit = quantity.get("unit")
    if not isinstance(unit, str) or not unit.strip():
        return ""
    wanted = _unit_text(unit)
    return next((u for u in units if _unit_text(u) == wanted), "")


def _comparator(quantity: Any) -> str:
    """A Quantity's comparator (`<`, `<=`, `>=`, `>`, `ad`): the value is a bound, not the
    value; '' without one."""
    found = quantity.get("comparator") if isinstance(quantity, Mapping) else None
    return found if isinstance(found, str) else ("?" if found is not None else "")


def _unreadable(obs: Mapping[str, Any], quantity: Any) -> str:
    """An Observation the quantity fact could not read, in words."""
    value = quantity.get("value") if isinstance(quantity, Mapping) else None
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return clip(f"{label(obs.get('code'))} without a quantity value", 120)
    unit = quantity.get("code") or quantity.get("unit") or "no unit"
    shown = render_value([value])
    comparator = _comparator(quantity)
    if comparator:
        bound = f"{comparator} {shown}" if comparator.isalpha() else f"{comparator}{shown}"
        return clip(f"{label(obs.get('code'))} {bound} {unit} (a bound, not a value)", 120)
    if _number(value) is not None and Decimal(str(value)) < 0:
        return clip(f"{label(obs.get('code'))} {shown} {unit} (a negative value)", 120)
    return clip(f"{label(obs.get('code'))} in {unit}", 120)


def _medication_match(item: RecordOrder, declaration: Declaration) -> tuple[str, str] | None:
    """(name, 'system|code') of the medication when it is in a codeFilter ValueSet: by a code
    of the order's, its Medication's or an ingredient's concept (named as the order names
    it: `_order_name`, else the ValueSet concept's display, else the code), or (code '') by
    a whole-word match of a ValueSet's displays and designations; the drug recognised as the
    module whose medications ValueSet it is, counts too."""
    concepts = item.named.concepts()
    text = next((c["text"] for c in concepts if _words(c.get("text"))), None)
    for concept in concepts:
        for c in codings(concept):
            system, code = c.get("system"), c.get("code")
            found = [vs for vs in declaration.filters if vs.has_coding(system, code)]
            if found:
                named = _order_name(item.named, c)
                listed = next((d for vs in found if (d := vs.display_of(system, code))), None)
                return (named or listed or str(code), f"{system}|{code}")
    names = item.named.names()
    for vs in declaration.filters:
        for name in names:
            if _holds_phrase(name, vs.phrases):
                return (text or name, "")
    for drug in item.drugs or ((item.drug,) if item.drug is not None else ()):
        if drug.value_set.url in declaration.filter_urls:
            return (text or drug.name, "")
    return None


def _words(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _order_name(named: Named, matched: Mapping[str, Any]) -> str | None:
    """How the order names its medication: the text of its medicationCodeableConcept or of
    its Medication's code, else a display of their codings (the one that matched first), else
    the reference's display, else an ingredient's text or display; None when it names it by
    codes alone (then a code matched by an ATC is-a filter, or listed in the ValueSet without
    a display, is named by the ValueSet's display or the code)."""
    concepts = named.concepts()
    own = concepts[: len(concepts) - len(named.ingredients)]
    return (
        _named_by(own, matched)
        or (named.display.strip() if named.display and named.display.strip() else None)
        or _named_by(list(named.ingredients), matched)
    )


def _named_by(concepts: list[dict[str, Any]], matched: Mapping[str, Any]) -> str | None:
    """The first text of the concepts, else a display of their codings, `matched`'s first."""
    for concept in concepts:
        if _words(concept.get("text")):
            return str(concept["text"]).strip()
    found = [c for concept in concepts for c in codings(concept)]
    for c in sorted(found, key=lambda c: c is not matched):
        if _words(c.get("display")):
            return str(c["display"]).strip()
    return None


def _holds_phrase(text: str, phrases: Iterable[str]) -> bool:
    words = _normalise(text).split()
    wanted = set(phrases)
    longest = max((p.count(" ") + 1 for p in wanted), default=0)
    for size in range(1, min(longest, len(words)) + 1):
        for start in range(len(words) - size + 1):
            if " ".join(words[start : start + size]) in wanted:
                return True
    return False


def other_orders(declaration: Declaration, sources: Sources, judged: Judged) -> Values:
    """Live orders on record and the other drafts of the request, of a medication in the
    ValueSet; in `unidentified`, those of either whose Medication is not at hand."""
    key = ("other-orders", id(declaration), judged.on if declaration.within_days else None)
    cached = sources.cache.get(key)
    if cached is None:
        cached = sources.cache[key] = _live_orders(declaration, sources, judged.on)
    on_record, unidentified = cached
    found: list[dict[str, Any]] = [dict(item) for item in on_record]
    unknown = list(unidentified)
    for item in sources.requested:
        if item.order is judged.order:
            continue
        match = _medication_match(item, declaration)
        if match is not None:
            found.append(_item(match, item.order.get("authoredOn"), "draft order in this request"))
        elif _unidentified(item):
            shown = item.named.display or item.named.reference
            unknown.append(clip(f"{shown} (draft order in this request)", 120))
    return {"": found, "unidentified": clip("; ".join(unknown), PIECE_LIMIT) or []}


def _unidentified(item: RecordOrder) -> bool:
    """An order whose medication is only a reference to a Medication that is not at hand
    (neither sent nor readable): what it is cannot be told, so nor whether it interacts."""
    named = item.named
    return named.reference is not None and named.medication is None and named.concept is None


def _live_orders(
    declaration: Declaration, sources: Sources, on: date
) -> tuple[list[dict[str, Any]], list[str]]:
    """The live orders on record of the ValueSet, and in words those whose medication
    could not be identified."""
    found = []
    unknown = []
    for item in sources.history:
        if item.reference in sources.draft_ids:
            continue
        if not is_live(item.order):
            continue
        status = str(item.order.get("status"))
        authored = item.order.get("authoredOn")
        if not within(declaration, authored, on):
            continue
        match = _medication_match(item, declaration)
        day = authored[:10] if isinstance(authored, str) and authored else ""
        when = f" of {day}" if day else ""
        if match is not None:
            found.append(_item(match, authored, f"{status} order{when}"))
        elif _unidentified(item):
            shown = item.named.display or item.named.reference
            unknown.append(clip(f"{shown} ({status} order{when})", 120))
    return found, unknown


def _item(match: tuple[str, str], authored: Any, what: str) -> dict[str, Any]:
    name = clip(match[0])
    return {
        "name": name,
        "code": match[1] or [],
        "date": authored if isinstance(authored, str) and authored else [],
        "text": f"{name} ({what})",
    }


def _own_orders(declaration: Declaration, sources: Sources, judged: Judged) -> list[RecordOrder]:
    """Orders on record of a medication in the ValueSet (drafts of the request aside)."""
    return [
        item
        for item in sources.history
        if item.reference not in sources.draft_ids
        and within(declaration, item.order.get("authoredOn"), judged.on)
        and _medication_match(item, declaration) is not None
    ]


def route_history(declaration: Declaration, sources: Sources, judged: Judged) -> Values:
    """Whether an order of the ValueSet was ever given by the declaration's route."""
    key = ("route-history", id(declaration), judged.on)
    found = sources.cache.get(key)
    if found is None:
        found = sources.cache[key] = any(
            str(item.order.get("status")) not in NEVER_GIVEN
            and sources.dose(item, judged.drug).route == declaration.route
            for item in _own_orders(declaration, sources, judged)
        )
    return {"": found}


def current_orders(declaration: Declaration, sources: Sources, judged: Judged) -> Values:
    """The active orders (real orders, not proposals or plans) of the ValueSet by the judged
    order's route, their doses, and the drafts plus those the drafts do not replace against
    the guideline's maximum; an active order whose daily dose cannot be computed is named
    (`uncomputed`), never left out of the sum unsaid."""
    key = ("current-orders", id(declaration), judged.route, judged.on)
    found = sources.cache.get(key)
    if found is None:
        found = sources.cache[key] = [
            item
            for item in _own_orders(declaration, sources, judged)
            if str(item.order.get("status")) == "active"
            and str(item.order.get("intent")) in ORDER_INTENT
            and sources.dose(item, judged.drug).route in (judged.route, *UNSURE_ROUTES)
        ]
    orders: list[RecordOrder] = found
    values: Values = {name: [] for name in KINDS["current-orders"].outputs}
    values[""] = [dict(item.order) for item in orders]
    if not orders:
        return values
    doses = [sources.dose(item, judged.drug) for item in orders]
    # an order of a route not stated or not classified may be of this route: it is among
    # the current orders, but its dose is added to nothing (named in `uncomputed`)
    computed = [d for d in doses if isinstance(d, DailyDose) and d.route == judged.route]
    # A partial authoredOn ("2026-10", "2026") counts as its first day.
    dates = [day for item in orders if (day := _first_day(item.order.get("authoredOn")))]
    if dates:
        values["days"] = (judged.on - max(dates)).days
    singles = [d.single_mg for d in computed if d.single_mg is not None]
    if singles and len(singles) == len(doses):
        values["singleDose"] = in_unit(max(singles), judged.unit)
    # What the drafts are added to: the active orders they do not replace.
    kept = [
        (item, d) for item, d in zip(orders, doses, strict=True) if not _replaced(item, sources)
    ]
    unknown = [
        _uncomputed(item, d)
        for item, d in kept
        if not (isinstance(d, DailyDose) and d.route == judged.route)
    ]
    if unknown:
        values["uncomputed"] = clip("; ".join(unknown), PIECE_LIMIT)
    if len(computed) < len(doses):
        values["text"] = "an order whose daily dose cannot be computed"
        values["dailyDoseText"] = "unknown dose"
        values["combinedText"] = NOT_COMPUTED
    else:
        current_mg = sum((d.mg_per_day for d in computed), Decimal(0))
        values["dailyDose"] = in_unit(current_mg, judged.unit)
        values["dailyDoseText"] = show(current_mg, judged.unit)
        arithmetic = "; ".join(clip(d.arithmetic, PIECE_LIMIT) for d in computed)
        values["text"] = f"{show(current_mg, judged.unit)} ({arithmetic})"
    if unknown or not dose_variable(judged.dose, judged.route_words)["computed"]:
        # A dose unknown (this order's, or an order's it adds to): no combined figure, and
        # no word on the maximum.
        values["combinedText"] = NOT_COMPUTED
        return values
    if not kept:
        return values  # the drafts replace every active order: nothing is added to them
    added = sum((d.mg_per_day for _, d in kept if isinstance(d, DailyDose)), Decimal(0))
    values["combinedText"] = show(judged.total + added, judged.unit)
    maximum = (judged.guideline.get("maximum") or {}).get("maxDaily")
    if maximum is not None:
        values["combinedExceedsMaximum"] = in_unit(judged.total + added, judged.unit) > maximum
    return values


#: a reference to a MedicationRequest, relative or absolute, perhaps of a version
_ORDER_REFERENCE = re.compile(
    r"(?:.*/)?(MedicationRequest/[A-Za-z0-9\-.]{1,64})(?:/_history/[A-Za-z0-9\-.]{1,64})?"
)


def prior_prescriptions(drafts: Iterable[Mapping[str, Any]]) -> Iterator[str]:
    """`MedicationRequest/{id}` of every order the drafts replace (`priorPrescription`)."""
    for draft in drafts:
        prior = draft.get("priorPrescription") if isinstance(draft, Mapping) else None
        reference = prior.get("reference") if isinstance(prior, Mapping) else None
        match = _ORDER_REFERENCE.fullmatch(reference) if isinstance(reference, str) else None
        if match:
            yield match.group(1)


def _replaced(item: RecordOrder, sources: Sources) -> bool:
    """Whether a draft of the request replaces this order on record (its priorPrescription)."""
    return item.reference is not None and item.reference in sources.replaced


def _uncomputed(item: RecordOrder, dose: Dose) -> str:
    """An active order whose daily dose cannot be computed, in words, with why."""
    names = item.named.names()
    shown = clip(names[0], 80) if names else "a medication"
    if item.reference:
        shown += f", {item.reference}"
    authored = item.order.get("authoredOn")
    when = f" of {authored[:10]}" if isinstance(authored, str) and authored else ""
    if isinstance(dose, DoseUnknown):
        reason = dose.reason
    elif dose.route == UNRECOGNISED:
        reason = "its route is not one the module classifies, so it may be given by this route"
    else:
        reason = "its route is not known, so it may be given by this route"
    return clip(f"{shown} (active order{when}): {reason}", PIECE_LIMIT)


def order_dose(declaration: Declaration, sources: Sources, judged: Judged) -> Values:
    """The judged order's dose, and the daily dose of the drafts judged with it."""
    dose = judged.dose
    variable = dose_variable(dose, judged.route_words)
    computed = bool(variable["computed"])
    if computed and isinstance(dose, DailyDose):
        if dose.single_mg is not None:
            variable["single"] = in_unit(dose.single_mg, judged.unit)
            variable["singleText"] = f"{render_value([variable['single']])} {judged.unit}"
        if dose.per_day is not None:
            per_day = dose.per_day
            variable["perDay"] = int(per_day) if per_day == int(per_day) else float(per_day)
    return {
        "": variable,
        "daily": in_unit(judged.total, judged.unit),
        "dailyText": show(judged.total, judged.unit) if computed else NOT_COMPUTED,
        "arithmetic": judged.arithmetic or [],
        "assumptions": judged.assumptions,
    }


def age(declaration: Declaration, sources: Sources, judged: Judged) -> Values:
    """The patient's age range on the order's date."""
    found = judged.age
    if found is None:
        return {"": [], "text": []}
    return {"": {"low": found.low, "high": found.high}, "text": found.text()}


VALUE_KINDS: dict[str, Callable[[Declaration, Sources, Judged], Values]] = {
    "observation-quantity": observation_quantity,
    "other-orders": other_orders,
    "current-orders": current_orders,
    "route-history": route_history,
    "order-dose": order_dose,
    "age": age,
}

_implemented = set(BOOLEAN_KINDS) | set(VALUE_KINDS)
if _implemented != set(KINDS) or {k for k, v in KINDS.items() if v.boolean} != set(BOOLEAN_KINDS):
    raise ImportError(
        f"the fact kinds implemented ({', '.join(sorted(_implemented))}) are not the kinds "
        f"declarations may name ({', '.join(sorted(KINDS))})"
    )


def _record_fact(declaration: Declaration, sources: Sources, judged: Judged) -> Decision:
    """A Boolean kind depends on the record (and the date window) only: once per call."""
    key = ("boolean", id(declaration), judged.on if declaration.within_days else None)
    found = sources.cache.get(key)
    if found is None:
        found = sources.cache[key] = BOOLEAN_KINDS[declaration.kind](declaration, sources, judged)
    return found


def fact_values(
    declarations: Sequence[Declaration], sources: Sources, judged: Judged
) -> dict[str, Any]:
    """Every variable a drug's Library declares, for one judged order.

    Declarations of one Boolean variable combine: true when any of them says true, false
    when none says true and one says false, empty (unknown) when none decides. Each
    declaration's outputs give its own evidence when it says what the variable is, else ''.
    """
    env: dict[str, Any] = {}
    said: dict[str, list[tuple[Declaration, Decision]]] = {}
    for declaration in declarations:
        if declaration.kind in BOOLEAN_KINDS:
            decision = _record_fact(declaration, sources, judged)
            said.setdefault(declaration.variable, []).append((declaration, decision))
            continue
        values = VALUE_KINDS[declaration.kind](declaration, sources, judged)
        env[declaration.variable] = values[""]
        for name, output in declaration.outputs:
            env[output] = values[name]
    for variable, decisions in said.items():
        votes = {d.value for _, d in decisions if d.decides}
        value = True if True in votes else False if False in votes else None
        env[variable] = [] if value is None else value
        evidence: dict[str, list[str]] = {}
        for declaration, decision in decisions:
            for name, output in declaration.outputs:
                if name == "unreadable":
                    text = decision.unreadable
                    env[output] = clip(text, PIECE_LIMIT) if text else []
                    continue
                found = evidence.setdefault(output, [])
                if decision.decides and decision.value is value and decision.evidence:
                    found.append(decision.evidence)
        for output, texts in evidence.items():
            env[output] = clip("; ".join(texts), PIECE_LIMIT)
    return env

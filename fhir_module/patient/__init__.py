"""Patient facts: age, pregnancy, breastfeeding, respiratory disease, current orders."""

from ._facts import AgeRange, Finding, PatientFacts, age_on, order_date, parse_date, patient_facts
from ._record import PatientRecord
from ._requirements import KEYS, prefetch_templates

__all__ = [
    "KEYS",
    "AgeRange",
    "Finding",
    "PatientFacts",
    "PatientRecord",
    "age_on",
    "order_date",
    "parse_date",
    "patient_facts",
    "prefetch_templates",
]

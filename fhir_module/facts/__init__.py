"""Patient facts and the variables rule conditions read: age, pregnancy, breastfeeding,
respiratory disease, current orders, the dose of an order in the guideline's units, and
the registry that builds every variable the knowledge declares."""

from ._facts import AgeRange, Finding, PatientFacts, age_on, order_date, parse_date, patient_facts
from ._record import PatientRecord
from ._registry import REGISTRY, Inputs, Registry, Unit, Variable
from ._requirements import KEYS, prefetch_templates
from ._variables import (
    PIECE_LIMIT,
    Dose,
    clip,
    dose_summary,
    dose_variable,
    guideline_view,
    in_unit,
    route_text,
    route_unit,
    show,
)

__all__ = [
    "KEYS",
    "PIECE_LIMIT",
    "REGISTRY",
    "AgeRange",
    "Dose",
    "Finding",
    "Inputs",
    "PatientFacts",
    "PatientRecord",
    "Registry",
    "Unit",
    "Variable",
    "age_on",
    "clip",
    "dose_summary",
    "dose_variable",
    "guideline_view",
    "in_unit",
    "order_date",
    "parse_date",
    "patient_facts",
    "prefetch_templates",
    "route_text",
    "route_unit",
    "show",
]

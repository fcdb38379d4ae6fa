"""Patient facts and the variables rule expressions read: the engine variables' registry, the
generic fact kinds a module's Library declares its facts with, the dose of an order in the
guideline's units, and the prefetch templates derived from the declarations."""

from ._facts import AgeRange, age_on, order_date, parse_date
from ._kinds import (
    BOOLEAN_KINDS,
    VALUE_KINDS,
    Judged,
    RecordOrder,
    Sources,
    call_dose,
    fact_values,
    is_live,
    prior_prescriptions,
)
from ._record import PatientRecord
from ._registry import REGISTRY, Inputs, Registry, Unit, Variable
from ._requirements import KEYS, prefetch_templates, templates_for
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
    "BOOLEAN_KINDS",
    "KEYS",
    "PIECE_LIMIT",
    "REGISTRY",
    "VALUE_KINDS",
    "AgeRange",
    "Dose",
    "Inputs",
    "Judged",
    "PatientRecord",
    "RecordOrder",
    "Registry",
    "Sources",
    "Unit",
    "Variable",
    "age_on",
    "call_dose",
    "clip",
    "dose_summary",
    "dose_variable",
    "fact_values",
    "guideline_view",
    "in_unit",
    "is_live",
    "order_date",
    "parse_date",
    "prefetch_templates",
    "prior_prescriptions",
    "templates_for",
    "route_text",
    "route_unit",
    "show",
]

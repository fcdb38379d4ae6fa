"""Patient facts: age, pregnancy, breastfeeding, respiratory disease, current orders."""

from ._record import PatientRecord
from ._requirements import KEYS, prefetch_templates

__all__ = ["KEYS", "PatientRecord", "prefetch_templates"]

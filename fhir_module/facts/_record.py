"""What the engine needs to know of the patient, as FHIR resources."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

Resource = Mapping[str, Any]


@dataclass(frozen=True)
class PatientRecord:
    """The patient's resources, however they were obtained (prefetch, FHIR server, Bundle)."""

    patient: Resource | None = None
    observations: tuple[Resource, ...] = ()
    conditions: tuple[Resource, ...] = ()
    medication_requests: tuple[Resource, ...] = ()
    #: Medications the orders may reference (prefetched or read with them)
    medications: tuple[Resource, ...] = ()

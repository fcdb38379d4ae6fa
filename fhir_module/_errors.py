"""The exception tree of fhir_module.

    FhirModuleError
    ├── KnowledgeError        a knowledge resource is broken (names the file and the element)
    ├── InvalidRequest        a CDS Hooks request or Bundle is malformed (HTTP 400, exit 2)
    ├── DataUnavailable       data a rule needs could not be had (HTTP 412)
    └── FhirServerError       a FHIR server answered with an error or could not be reached

Only the HTTP layer and the CLI turn these into responses or exit codes.
"""

from __future__ import annotations

from typing import Any


class FhirModuleError(Exception):
    """Root of every error this package raises on purpose."""


class KnowledgeError(FhirModuleError):
    """A knowledge resource failed to load or cross-check."""

    def __init__(self, file: str, element: str, problem: str) -> None:
        self.file = file
        self.element = element
        self.problem = problem
        super().__init__(f"{file}: {element}: {problem}")


class InvalidRequest(FhirModuleError):
    """The caller sent something malformed; the message never echoes patient data."""

    def __init__(self, message: str, expression: str | None = None) -> None:
        self.expression = expression
        super().__init__(message)


class DataUnavailable(FhirModuleError):
    """Data a rule needs is neither prefetched nor fetchable."""


class FhirServerError(FhirModuleError):
    """A FHIR server could not be reached or answered with an error."""

    def __init__(
        self, message: str, status: int | None = None, outcome: dict[str, Any] | None = None
    ) -> None:
        self.status = status
        self.outcome = outcome
        super().__init__(message)

"""Where the errors lived before errors.py; kept for modules not yet moved to it."""

from .errors import FhirServerError as FhirServerError

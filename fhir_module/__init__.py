"""A FHIR R4 knowledge module for baclofen with a CDS Hooks 2.0 medication-safety service.

The public API::

    from fhir_module import evaluate, evaluate_bundle
    response = evaluate(cds_hooks_request)      # dict, JSON text or bytes
    response = evaluate_bundle(fhir_bundle)     # judged as order-sign

Both return the CDS Hooks response (``{"cards": [...]}``).
"""

from ._api import evaluate, evaluate_bundle
from .errors import (
    ConfigError,
    DataUnavailable,
    FhirModuleError,
    FhirServerError,
    InvalidRequest,
    KnowledgeConflict,
    KnowledgeError,
)
from .knowledge import Knowledge, load_knowledge

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "DataUnavailable",
    "FhirModuleError",
    "FhirServerError",
    "InvalidRequest",
    "Knowledge",
    "KnowledgeConflict",
    "KnowledgeError",
    "__version__",
    "evaluate",
    "evaluate_bundle",
    "load_knowledge",
]

"""A FHIR R4 knowledge module for baclofen with a CDS Hooks 2.0 medication-safety service.

The public API::

    from fhir_module import evaluate, evaluate_bundle
    response = evaluate(cds_hooks_request)      # dict, JSON text or bytes
    response = evaluate_bundle(fhir_bundle)     # judged as order-sign

Both return the CDS Hooks response (``{"cards": [...]}``).

The command line reaches the root's own modules (``_api``, ``_bundle``, ``_push``,
``_validate``) through the names exported here, never by importing them.
"""

from ._api import default_knowledge, evaluate, evaluate_bundle
from ._bundle import transaction_bundle
from ._push import EntriesFailed, display_url, outcome_lines, push_bundle
from ._validate import validate_files
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
    "EntriesFailed",
    "FhirModuleError",
    "FhirServerError",
    "InvalidRequest",
    "Knowledge",
    "KnowledgeConflict",
    "KnowledgeError",
    "__version__",
    "default_knowledge",
    "display_url",
    "evaluate",
    "evaluate_bundle",
    "load_knowledge",
    "outcome_lines",
    "push_bundle",
    "transaction_bundle",
    "validate_files",
]

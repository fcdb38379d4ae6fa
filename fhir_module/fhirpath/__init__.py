"""FHIRPath for the knowledge: strict compile and dry run at load, the fast subset for the
common shapes, fhirpathpy for the rest."""

from ._compile import (
    Compiled,
    FhirPathError,
    check_expression,
    check_syntax,
    compile_expression,
    compiled,
    evaluate,
)
from ._fast import Fallback, compile_fast

__all__ = [
    "Compiled",
    "Fallback",
    "FhirPathError",
    "check_expression",
    "check_syntax",
    "compile_expression",
    "compile_fast",
    "compiled",
    "evaluate",
]

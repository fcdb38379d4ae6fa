"""python -m fhir_module: the command line."""

from .cli import console

console()

"""The knowledge: FHIR R4 resources loaded, validated, cross-checked and indexed."""

from ._guidelines import Entry
from ._index import Drug, Knowledge, Product, load_knowledge
from ._load import default_files, read_json, structure_problems
from ._plan import VARIABLES, Rule, Template, render_value

__all__ = [
    "VARIABLES",
    "Drug",
    "Entry",
    "Knowledge",
    "Product",
    "Rule",
    "Template",
    "default_files",
    "load_knowledge",
    "read_json",
    "render_value",
    "structure_problems",
]

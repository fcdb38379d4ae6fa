"""The knowledge: FHIR R4 resources loaded, validated, cross-checked and indexed."""

from ._guidelines import Entry
from ._index import Drug, Knowledge, Product, load_knowledge
from ._load import default_files, read_json, structure_problems
from ._medication import EMPTY, Named, Pool, named_medication
from ._plan import Rule, Template, render_value
from ._profiles import ProfileChecker
from ._terminology import ValueSetIndex, codings
from ._variables import DECLARED, VARIABLES

__all__ = [
    "DECLARED",
    "EMPTY",
    "VARIABLES",
    "Drug",
    "Entry",
    "Knowledge",
    "Named",
    "Pool",
    "Product",
    "ProfileChecker",
    "Rule",
    "Template",
    "ValueSetIndex",
    "codings",
    "default_files",
    "load_knowledge",
    "named_medication",
    "read_json",
    "render_value",
    "structure_problems",
]

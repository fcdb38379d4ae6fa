"""The knowledge: FHIR R4 resources loaded, validated, cross-checked and indexed."""

from ._declarations import KINDS, Declaration, Kind
from ._guidelines import Entry
from ._index import Drug, Knowledge, Matches, Product, Terms, load_knowledge
from ._load import (
    default_files,
    folder_files,
    is_description,
    knowledge_paths,
    read_json,
    structure_problems,
)
from ._medication import EMPTY, Named, Pool, named_medication
from ._package import is_package, package_members
from ._plan import SUGGESTION_PATHS, Rule, Template, render_value
from ._profiles import ProfileChecker
from ._terminology import ValueSetIndex, codings, normalise_text
from ._variables import ENGINE_VARIABLES, VARIABLES

__all__ = [
    "EMPTY",
    "ENGINE_VARIABLES",
    "KINDS",
    "SUGGESTION_PATHS",
    "VARIABLES",
    "Declaration",
    "Drug",
    "Entry",
    "Kind",
    "Knowledge",
    "Matches",
    "Named",
    "Pool",
    "Product",
    "ProfileChecker",
    "Rule",
    "Template",
    "Terms",
    "ValueSetIndex",
    "codings",
    "default_files",
    "folder_files",
    "is_description",
    "is_package",
    "knowledge_paths",
    "load_knowledge",
    "named_medication",
    "normalise_text",
    "package_members",
    "read_json",
    "render_value",
    "structure_problems",
]

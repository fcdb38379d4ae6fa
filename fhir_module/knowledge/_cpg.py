"""Clinical Reasoning conventions on a PlanDefinition action: card texts as dynamic values.

A rule's card texts are `{{ FHIRPath }}` templates in `title` and `description`,
which the engine renders. For an engine that knows only the standard, the same
texts are also `dynamicValue`s of `action.title` and `action.description` (an
action without a definition sets its values on the RequestGroup's action, which
has the title and description; the RequestGroup has neither): one FHIRPath
expression that joins the literal text and each placeholder's value. When an
action has them they must be exactly that translation, so the two never drift.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

#: dynamicValue path -> the action element whose template it translates
TEXT_PATHS = {"action.title": "title", "action.description": "description"}
_PLACEHOLDER = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
_ESCAPES = {"\\": "\\\\", "'": "\\'", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def string_literal(text: str) -> str:
    """A FHIRPath string literal of the text."""
    return "'" + "".join(_ESCAPES.get(ch, ch) for ch in text) + "'"


def text_expression(template: str) -> str:
    """The FHIRPath expression that yields the text a {{ }} template renders."""
    parts: list[str] = []
    last = 0
    for match in _PLACEHOLDER.finditer(template):
        if match.start() > last:
            parts.append(string_literal(template[last : match.start()]))
        parts.append(f"({match.group(1).strip()}).select(toString()).join(', ')")
        last = match.end()
    if last < len(template) or not parts:
        parts.append(string_literal(template[last:]))
    return " & ".join(parts)


def check_text_values(action: Mapping[str, Any]) -> list[str]:
    """The card-text dynamic values of an action; ValueError when one is not its template's."""
    found = []
    for i, value in enumerate(action.get("dynamicValue") or []):
        path = value.get("path") if isinstance(value, Mapping) else None
        if path in TEXT_PATHS.values():
            raise ValueError(
                f"dynamicValue[{i}].path: {path!r} would set the RequestGroup's {path}, which "
                f"it does not have; the card text's path is 'action.{path}'"
            )
        if path not in TEXT_PATHS:
            continue
        element = TEXT_PATHS[path]
        expression = value.get("expression") or {}
        expected = text_expression(str(action.get(element, "")))
        if expression.get("language") != "text/fhirpath" or expression.get("expression") != (
            expected
        ):
            raise ValueError(
                f"dynamicValue[{i}].expression: the {path} dynamic value must be the "
                f"{element} template as FHIRPath: {expected}"
            )
        found.append(expected)
    return found

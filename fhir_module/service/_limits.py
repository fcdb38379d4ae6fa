"""Caps on what one request may ask of the service: nesting depth and Bundle sizes.

A body within the byte limit can still be costly: JSON nested thousands deep
(which recursive code downstream would choke on) or tens of thousands of tiny
entries. Both are refused up front with an OperationOutcome, never a 5xx.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._outcome import RequestProblem

#: FHIR resources in CDS Hooks requests nest a dozen levels or so; this leaves ample room
DEFAULT_MAX_DEPTH = 64


class TooLarge(RequestProblem):
    """The request is well-formed but more than the service takes on (HTTP 413)."""

    def __init__(self, message: str, expression: str | None = None) -> None:
        super().__init__(message, expression, "too-costly")


def check_depth(value: Any, max_depth: int = DEFAULT_MAX_DEPTH) -> None:
    """Refuse (400) JSON nested deeper than `max_depth` arrays and objects."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if not isinstance(item, dict | list):
            continue
        if depth > max_depth:
            raise RequestProblem(
                f"request: nested deeper than {max_depth} levels", None, "structure"
            )
        children = item.values() if isinstance(item, dict) else item
        stack.extend((child, depth + 1) for child in children)


def _count(value: Any) -> int:
    return len(value) if isinstance(value, list) else 0


def check_hook_sizes(body: Any, max_entries: int) -> None:
    """Refuse (413) draftOrders or prefetch Bundles with more than `max_entries` entries."""
    if not isinstance(body, Mapping):
        return
    context = body.get("context")
    drafts = context.get("draftOrders") if isinstance(context, Mapping) else None
    if isinstance(drafts, Mapping) and _count(drafts.get("entry")) > max_entries:
        raise TooLarge(
            f"context.draftOrders: more than {max_entries} entries", "context.draftOrders.entry"
        )
    prefetch = body.get("prefetch")
    if not isinstance(prefetch, Mapping):
        return
    for key, value in prefetch.items():
        if isinstance(value, Mapping) and _count(value.get("entry")) > max_entries:
            raise TooLarge(f"prefetch.{key}: more than {max_entries} entries", f"prefetch.{key}")


def check_feedback_size(body: Any, max_entries: int) -> None:
    """Refuse (413) a feedback body with more than `max_entries` items."""
    if isinstance(body, Mapping) and _count(body.get("feedback")) > max_entries:
        raise TooLarge(f"feedback: more than {max_entries} items", "feedback")

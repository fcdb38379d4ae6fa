"""The CDS Hooks 2.0.1 feedback body, checked with pydantic v2."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ValidationError, field_validator, model_validator

from ._models import (
    Identifier,
    Model,
    StoredText,
    StoredUri,
    Text,
    json_object,
    parse_json,
    problem_from,
    utc_timestamp,
)


class _AcceptedSuggestion(Model):
    id: Identifier


class _Coding(Model):
    code: Identifier
    system: StoredUri
    display: StoredText | None = None


class _OverrideReason(Model):
    reason: _Coding | None = None
    userComment: StoredText | None = None


class Feedback(Model):
    """One feedback item; `outcomeTimestamp` is normalised to UTC. Every string the
    service stores is bounded (`MAX_ID_CHARS`, `MAX_STORED_TEXT_CHARS`)."""

    card: Identifier
    outcome: Literal["accepted", "overridden"]
    acceptedSuggestions: list[_AcceptedSuggestion] | None = None
    overrideReason: _OverrideReason | None = None
    outcomeTimestamp: Text

    @field_validator("outcomeTimestamp")
    @classmethod
    def _utc(cls, value: str) -> str:
        return utc_timestamp(value)

    @model_validator(mode="after")
    def _suggestions_when_accepted(self) -> Feedback:
        if self.outcome == "accepted" and not self.acceptedSuggestions:
            raise ValueError("acceptedSuggestions is required when the outcome is 'accepted'")
        return self


class CdsFeedback(Model):
    """A CDS Hooks feedback body."""

    feedback: list[Feedback]


def parse_feedback(body: Any) -> list[Feedback]:
    """Validate a CDS Hooks feedback body; raise InvalidRequest naming the field."""
    return validate_feedback(parse_json(body))


def validate_feedback(parsed: Any) -> list[Feedback]:
    """`parse_feedback` for a body `parse_json` has already read and checked."""
    raw = json_object(parsed, "request")
    try:
        return list(CdsFeedback.model_validate(raw).feedback)
    except ValidationError as exc:
        raise problem_from(exc) from None

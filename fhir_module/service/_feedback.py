"""The CDS Hooks 2.0.1 feedback body, checked with pydantic v2."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import StringConstraints, ValidationError, field_validator, model_validator

from ._models import (
    MAX_STORED_TEXT_CHARS,
    Identifier,
    Model,
    StoredText,
    Text,
    json_object,
    parse_json,
    problem_from,
)

#: a reason's code system: a URI, bounded like every stored text
_System = Annotated[str, StringConstraints(pattern=r"\S", max_length=MAX_STORED_TEXT_CHARS)]


class _AcceptedSuggestion(Model):
    id: Identifier


class _Coding(Model):
    code: Identifier
    system: _System
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
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError("must be an RFC 3339 date-time") from None
        if moment.tzinfo is None:
            raise ValueError("must give its time zone (UTC, e.g. 2021-12-11T10:05:31Z)")
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    @model_validator(mode="after")
    def _suggestions_when_accepted(self) -> Feedback:
        if self.outcome == "accepted" and not self.acceptedSuggestions:
            raise ValueError("acceptedSuggestions is required when the outcome is 'accepted'")
        return self


class _FeedbackBody(Model):
    feedback: list[Feedback]


def parse_feedback(body: Any) -> list[Feedback]:
    """Validate a CDS Hooks feedback body; raise InvalidRequest naming the field."""
    return validate_feedback(parse_json(body))


def validate_feedback(parsed: Any) -> list[Feedback]:
    """`parse_feedback` for a body `parse_json` has already read and checked."""
    raw = json_object(parsed, "request")
    try:
        return list(_FeedbackBody.model_validate(raw).feedback)
    except ValidationError as exc:
        raise problem_from(exc) from None

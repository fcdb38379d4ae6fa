"""The CDS Hooks 2.0.1 request body, checked with pydantic v2.

The models only validate: the engine gets the caller's own context dict, so
nothing the models do not know (extensions, untidy FHIR) is lost. Error
messages name the field, never its value, so no patient data reaches a log or
an answer.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from ._limits import check_depth
from ._outcome import RequestProblem
from ._urls import parse_base_url

#: "REQUIRED string attributes MAY NOT have empty values (or just whitespace)"
Text = Annotated[str, StringConstraints(pattern=r"\S")]
#: the longest identifier or code the service stores (hookInstance, card, suggestion and
#: reason ids): a UUID or a code is far shorter; a longer one is refused, never truncated
MAX_ID_CHARS = 256
#: the longest URI, display or comment the service stores
MAX_STORED_TEXT_CHARS = 1024
#: control characters (C0, DEL, C1): no id needs one, and PostgreSQL cannot store NUL
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
#: the same, but for the line breaks and tabs a comment may hold
_CONTROL_IN_TEXT = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _no_control(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters")
    return value


def _no_control_in_text(value: str) -> str:
    if _CONTROL_IN_TEXT.search(value):
        raise ValueError("must not contain control characters (other than line feed and tab)")
    return value


#: a Text the service stores: bounded, so a caller cannot fill the database with one field,
#: and free of control characters, so that every backend stores it as given
Identifier = Annotated[
    str,
    StringConstraints(pattern=r"\S", max_length=MAX_ID_CHARS),
    AfterValidator(_no_control),
]
#: a URI the service stores (a code system): bounded, non-empty, no control characters
StoredUri = Annotated[
    str,
    StringConstraints(pattern=r"\S", max_length=MAX_STORED_TEXT_CHARS),
    AfterValidator(_no_control),
]
#: a display or comment the service stores: may hold line feeds and tabs, no other control
StoredText = Annotated[
    str,
    StringConstraints(max_length=MAX_STORED_TEXT_CHARS),
    AfterValidator(_no_control_in_text),
]


class Model(BaseModel):
    """Base of the CDS Hooks models."""

    # strict: a number is not a string here; extra: `extension` and hook additions are allowed
    model_config = ConfigDict(strict=True, extra="allow", frozen=True)


class FhirAuthorization(Model):
    """The bearer token for the EHR's FHIR server; every field but `patient` is required."""

    access_token: SecretStr
    #: "Bearer" in any case (RFC 6749 section 5.1); the pattern says so in the OpenAPI document
    token_type: Annotated[Text, Field(json_schema_extra={"pattern": "^[Bb][Ee][Aa][Rr][Ee][Rr]$"})]
    expires_in: int
    scope: Text
    subject: Text
    patient: Text | None = None

    @field_validator("access_token")
    @classmethod
    def _token_present(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().strip():
            raise ValueError("must not be empty")
        return value

    @field_validator("token_type")
    @classmethod
    def _bearer(cls, value: str) -> str:
        # OAuth 2.0 token types are case-insensitive (RFC 6749 section 5.1)
        if value.lower() != "bearer":
            raise ValueError("must be 'Bearer'")
        return value


class _Resource(Model):
    resourceType: Text


class _Entry(Model):
    resource: _Resource | None = None


class _PrefetchValue(_Resource):
    # What the data layer iterates must be arrays of objects, whatever the resource type.
    entry: list[_Entry] | None = None
    link: list[dict[str, Any]] | None = None


class _Bundle(Model):
    # `type` is not required: real clients send draftOrders without it
    resourceType: Literal["Bundle"]
    entry: list[_Entry] | None = None


class _OrderSignContext(Model):
    userId: Text
    patientId: Text
    encounterId: Text | None = None
    draftOrders: _Bundle


class _OrderSelectContext(_OrderSignContext):
    selections: list[Text]


class _PatientContext(Model):
    userId: Text
    patientId: Text


#: the context each hook of the Hook Library defines; another hook needs at least a patient
CONTEXTS: dict[str, type[Model]] = {
    "order-select": _OrderSelectContext,
    "order-sign": _OrderSignContext,
}


class CdsHookRequest(Model):
    """A CDS Hooks request; its `context` is checked by the hook's model in CONTEXTS."""

    hook: Text
    hookInstance: Identifier
    fhirServer: Text | None = None
    fhirAuthorization: FhirAuthorization | None = None
    context: dict[str, Any]
    prefetch: dict[str, _PrefetchValue | None] | None = None

    @field_validator("fhirServer")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None:
            # The one reading of a base URL the allowlist and the FHIR client share.
            parse_base_url(value)
        return value

    @model_validator(mode="after")
    def _server_with_token(self) -> CdsHookRequest:
        if self.fhirAuthorization is not None and self.fhirServer is None:
            raise ValueError("fhirServer is required when fhirAuthorization is given")
        return self


@dataclass(frozen=True)
class HookCall:
    """A validated hook request; `context` and `prefetch` are the caller's own dicts."""

    hook: str
    hook_instance: str
    context: Mapping[str, Any]
    prefetch: Mapping[str, Any] | None
    fhir_server: str | None = None
    access_token: str | None = field(default=None, repr=False)

    @property
    def patient_id(self) -> str:
        """context.patientId (validated as a non-empty string)."""
        return str(self.context["patientId"])


_TYPES = {
    "string_type": "a string",
    "int_type": "an integer",
    "dict_type": "a JSON object",
    "model_type": "a JSON object",
    "model_attributes_type": "a JSON object",
    "list_type": "an array",
    "bool_type": "a boolean",
}


def problem_from(exc: ValidationError, prefix: str = "") -> RequestProblem:
    """The first validation error as an InvalidRequest naming its field path (no values)."""
    err = exc.errors(include_input=False, include_url=False)[0]
    path = prefix
    for part in err["loc"]:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    kind = err["type"]
    if kind == "missing":
        return RequestProblem(f"{path}: is required", path, "required")
    if kind in _TYPES:
        return RequestProblem(f"{path}: must be {_TYPES[kind]}", path, "structure")
    if kind == "literal_error":
        return RequestProblem(f"{path}: must be {err['ctx']['expected']}", path, "invalid")
    if kind == "string_too_long":
        limit = err["ctx"]["max_length"]
        return RequestProblem(f"{path}: must be at most {limit} characters", path, "too-long")
    if kind == "string_pattern_mismatch":
        return RequestProblem(f"{path}: must not be empty", path, "invalid")
    if kind == "value_error":
        # our own validators' messages: they name rules, never values
        return RequestProblem(
            f"{path or 'request'}: {err['ctx']['error']}", path or None, "invalid"
        )
    return RequestProblem(f"{path}: is not valid", path or None, "invalid")


#: RFC 3339 section 5.6 date-time: full date, time, optional fraction, a zone (checked apart)
_DATE_TIME = re.compile(
    r"(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})?",
    re.ASCII,
)


def utc_timestamp(value: str) -> str:
    """An RFC 3339 date-time as UTC text (`2021-12-11T10:05:31.000000Z`); ValueError
    (saying what is wrong, never the value) for anything else.

    Only the RFC's own form is read: Python's `fromisoformat` would take week dates,
    basic formats and times without seconds. A time that falls outside the years 0001 to
    9999 once in UTC (`0001-01-01T00:00:00+14:00`) has no UTC form here and is refused too.
    """
    match = _DATE_TIME.fullmatch(value)
    if match is None:
        raise ValueError("must be an RFC 3339 date-time")
    day, time, fraction, zone = match.groups()
    if zone is None:
        raise ValueError("must give its time zone (UTC, e.g. 2021-12-11T10:05:31Z)")
    # datetime keeps microseconds: further digits are dropped (truncated, not rounded).
    micros = (fraction or "")[:6].ljust(6, "0")
    try:
        moment = datetime.fromisoformat(
            f"{day}T{time}.{micros}{'+00:00' if zone in 'Zz' else zone}"
        )
        # isoformat, not strftime: %Y writes the year 1 as '1', not '0001'.
        utc = moment.astimezone(UTC).replace(tzinfo=None)
        return utc.isoformat(timespec="microseconds") + "Z"
    except ValueError:
        raise ValueError("must be an RFC 3339 date-time") from None
    except OverflowError:
        raise ValueError("must fall within the years 0001 to 9999 once in UTC") from None


def parse_json(body: Any) -> Any:
    """The JSON value of a body given as bytes or text; anything else is taken as parsed.

    Either way, nesting deeper than the service takes on is refused (InvalidRequest).
    """
    if isinstance(body, bytes | bytearray | str):
        try:
            body = json.loads(body, parse_constant=_no_constant)
        except (ValueError, RecursionError):
            raise RequestProblem("request: the body is not valid JSON", None, "structure") from None
    check_depth(body)
    return body


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def json_object(value: Any, what: str) -> dict[str, Any]:
    """`value` if it is a JSON object, else InvalidRequest."""
    if not isinstance(value, dict):
        raise RequestProblem(f"{what}: must be a JSON object", None, "structure")
    return value


def parse_hook_call(body: Any, hook: str) -> HookCall:
    """Validate a CDS Hooks request to a service of `hook`; InvalidRequest names the field."""
    return validate_hook_call(parse_json(body), hook)


def validate_hook_call(parsed: Any, hook: str) -> HookCall:
    """`parse_hook_call` for a body `parse_json` has already read and checked."""
    raw = json_object(parsed, "request")
    try:
        request = CdsHookRequest.model_validate(raw)
    except ValidationError as exc:
        raise problem_from(exc) from None
    if request.hook != hook:
        raise RequestProblem(f"hook: this service answers '{hook}' requests", "hook", "invalid")
    try:
        CONTEXTS.get(hook, _PatientContext).model_validate(request.context)
    except ValidationError as exc:
        raise problem_from(exc, "context") from None
    token = request.fhirAuthorization.access_token if request.fhirAuthorization else None
    return HookCall(
        hook=request.hook,
        hook_instance=request.hookInstance,
        context=raw["context"],
        prefetch=raw.get("prefetch"),
        fhir_server=request.fhirServer,
        access_token=token.get_secret_value() if token else None,
    )

"""The exception tree of fhir_module, drawn in full.

    FhirModuleError                   root of every error this package raises on purpose (500)
    ├── KnowledgeError                a knowledge resource is broken (names file and element)
    │   └── KnowledgeConflict         two knowledge files claim the same thing (names both)
    ├── ConfigError                   settings or the config file are wrong (CLI exit 2)
    ├── InvalidRequest                a CDS Hooks request or Bundle is malformed (400, exit 2)
    │   ├── RequestProblem            ... and knows its OperationOutcome issue code
    │   │   ├── UnknownService        no CDS service has this id (404)
    │   │   ├── TooLarge              more than the service takes on (413)
    │   │   └── TooMuchFeedback       more feedback this minute than the service takes (429)
    │   └── _Unreadable               cli: the request file cannot be taken (exit 2)
    ├── DataUnavailable               data a rule needs could not be had (412)
    │   └── FetchFailed               ... for one prefetch key, which it names
    ├── FhirServerError               a FHIR server answered with an error or was unreachable (412)
    │   └── EntriesFailed             _push: not every entry of a transaction succeeded
    ├── StoreUnavailable              the database cannot take a durable write now (503)
    ├── Unauthorized                  the call is not authenticated (401, by server.Guard)
    ├── ReplayCacheFull               an issuer holds its quota of live token ids (401, bare)
    ├── WrongHost                     open mode: the Host is not a loopback name (421)
    ├── BodyTimeout                   the request body came too slowly (408, by server.Guard)
    ├── NoSuchPath                    no route has the path called (404)
    ├── MethodNotAllowed              the path does not take the method called (405)
    ├── HttpRefused                   the HTTP layer refused the call with a status of its own
    ├── ReportError                   the feedback database cannot be read (CLI exit 2)
    ├── UnreadableDose                inside dosing: an order cannot be read, and why
    ├── FhirPathError (ValueError)    an expression is not in the FHIRPath this module runs
    ├── Fallback                      inside fhirpath: the fast subset hands over to fhirpathpy
    ├── _Unread                       inside knowledge: an invariant may read more than it names
    ├── UrlError (ValueError)         a base URL is not one the service may read from
    ├── PackageError (ValueError)     an NPM package cannot be built
    ├── SnapshotError (ValueError)    a profile's snapshot cannot be generated
    ├── KeyFileError (OSError)        the audit key file cannot be read or made safely
    ├── StoreClosed                   the store was used after it was closed (500)
    └── JwksError                     a key set could not be read or is not a JWKS

The classes from FhirModuleError to UnreadableDose are defined here; the others live beside
the code that raises them, and most never leave it. `ANSWERS` is the one table from an
exception to its HTTP status and OperationOutcome issue code, and the only place a class's
issue code is set (a RequestProblem or FetchFailed may carry a more exact `code` of its own,
given where it is raised): `answer_for` walks an exception's classes, most derived first, so
the order of the table does not matter, and every class has a row, its own or an ancestor's.
The CLI's Exit (a SystemExit that ends a command with its code) is control flow, not an
error, and stands outside the tree. Only the HTTP layer and the CLI turn these into
responses or exit codes.
"""

from __future__ import annotations

from typing import Any


class FhirModuleError(Exception):
    """Root of every error this package raises on purpose."""


class KnowledgeError(FhirModuleError):
    """A knowledge resource failed to load or cross-check."""

    def __init__(self, file: str, element: str, problem: str) -> None:
        self.file = file
        self.element = element
        self.problem = problem
        super().__init__(f"{file}: {element}: {problem}")


class KnowledgeConflict(KnowledgeError):
    """Two knowledge files claim the same thing: one canonical URL and version, one medication
    code for two drugs, one product code for two products, an ATC is-a filter covering another
    drug's ATC code or filter, one route code for two route categories of a module. The
    message names both files; the CLI exits 2 with it."""

    def __init__(self, file: str, element: str, problem: str, other: str) -> None:
        self.other = other
        super().__init__(file, element, f"{problem} (also in {other})")


class ConfigError(FhirModuleError):
    """A setting or the config file is missing, unreadable or wrong; the message is one line.

    `expression` names the setting (or config key) when one is to blame.
    """

    def __init__(self, message: str, expression: str | None = None) -> None:
        self.expression = expression
        super().__init__(message)


class InvalidRequest(FhirModuleError):
    """The caller sent something malformed; the message never echoes patient data."""

    def __init__(self, message: str, expression: str | None = None) -> None:
        self.expression = expression
        super().__init__(message)


class RequestProblem(InvalidRequest):
    """An InvalidRequest that knows its OperationOutcome issue type (invalid, structure, ...)."""

    def __init__(
        self, message: str, expression: str | None = None, code: str | None = None
    ) -> None:
        super().__init__(message, expression)
        #: a more exact issue code than the table's for this class; None: the table's
        self.code = code


class UnknownService(RequestProblem):
    """No CDS service has the id the caller named (HTTP 404)."""

    def __init__(self) -> None:
        super().__init__("no CDS service has this id; see GET /cds-services")


class TooLarge(RequestProblem):
    """The request is well-formed but more than the service takes on (HTTP 413)."""

    def __init__(self, message: str, expression: str | None = None) -> None:
        super().__init__(message, expression)


class TooMuchFeedback(RequestProblem):
    """The client has sent more feedback items this minute than the service takes (429)."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"feedback: at most {limit} items per client per minute; try again later",
            "feedback",
        )


class DataUnavailable(FhirModuleError):
    """Data a rule needs is neither prefetched nor fetchable."""


class FetchFailed(DataUnavailable):
    """Data for one prefetch key could not be had; names the key, never the patient."""

    def __init__(self, key: str, reason: str, code: str | None = None) -> None:
        self.key = key
        #: a more exact issue code than the table's (e.g. too-costly); None: the table's
        self.code = code
        super().__init__(f"prefetch '{key}': {reason}")


class FhirServerError(FhirModuleError):
    """A FHIR server could not be reached or answered with an error."""

    def __init__(
        self, message: str, status: int | None = None, outcome: dict[str, Any] | None = None
    ) -> None:
        self.status = status
        self.outcome = outcome
        super().__init__(message)


class StoreUnavailable(FhirModuleError):
    """The database cannot take a write now (full, read-only, unreachable, locked too long):
    a write that must be durable is refused with 503, never acknowledged."""

    def __init__(self, cause: str) -> None:
        self.cause = cause
        super().__init__("the service cannot store this now; send it again later")


class Unauthorized(FhirModuleError):
    """The call is not authenticated; `reason` is a category, never token content."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class ReplayCacheFull(FhirModuleError):
    """The issuer holds `quota` unexpired tokens; no new one of its can be admitted safely."""

    def __init__(self, issuer: str, quota: int) -> None:
        super().__init__(issuer, quota)
        self.issuer = issuer
        self.quota = quota


class WrongHost(FhirModuleError):
    """Open mode answers loopback Host names only: a page of another site whose name now
    resolves to 127.0.0.1 (DNS rebinding) is refused (HTTP 421)."""


class BodyTimeout(FhirModuleError):
    """The request body was not all sent within the seconds the service waits (HTTP 408)."""


class NoSuchPath(FhirModuleError):
    """No route of the service has the path called (HTTP 404)."""


class MethodNotAllowed(FhirModuleError):
    """The path called does not take the method called (HTTP 405)."""


class HttpRefused(FhirModuleError):
    """The HTTP framework refused the call with a status of its own (the status is the
    framework's; the table gives the issue code)."""


class ReportError(FhirModuleError):
    """The database cannot be read (missing, not the service's, unreachable); one line."""


class UnreadableDose(FhirModuleError):
    """Raised inside dosing when an order cannot be read; ``daily_dose`` turns it into a
    DoseUnknown, so it never reaches a caller."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Answer:
    """How the HTTP layer answers one class of error: its status, its OperationOutcome issue
    code (an exception's own `code` attribute, where set, wins), whether its message may be
    shown (False: a fixed text, since the message may name a server or a fault), and the
    seconds a caller is asked to wait before trying again (a Retry-After header), if any."""

    __slots__ = ("code", "retry_after", "says", "status")

    def __init__(
        self, status: int, code: str, says: bool = True, retry_after: int | None = None
    ) -> None:
        self.status = status
        self.code = code
        self.says = says
        self.retry_after = retry_after


#: anything else: a fault of the service
FAULT = Answer(500, "exception", says=False)

#: the one table: exception class -> how it is answered over HTTP
ANSWERS: dict[type[BaseException], Answer] = {
    FhirModuleError: FAULT,
    InvalidRequest: Answer(400, "invalid"),
    UnknownService: Answer(404, "not-found"),
    TooLarge: Answer(413, "too-costly"),
    TooMuchFeedback: Answer(429, "throttled"),
    DataUnavailable: Answer(412, "incomplete"),
    FhirServerError: Answer(412, "exception", says=False),
    StoreUnavailable: Answer(503, "transient", retry_after=5),
    Unauthorized: Answer(401, "login"),
    ReplayCacheFull: Answer(401, "security"),
    WrongHost: Answer(421, "security"),
    BodyTimeout: Answer(408, "timeout"),
    NoSuchPath: Answer(404, "not-found"),
    MethodNotAllowed: Answer(405, "not-supported"),
    HttpRefused: Answer(400, "processing"),
}


def answer_for(exc: BaseException) -> Answer:
    """The table's entry for the most derived class of `exc` that it names."""
    for cls in type(exc).__mro__:
        found = ANSWERS.get(cls)
        if found is not None:
            return found
    return FAULT

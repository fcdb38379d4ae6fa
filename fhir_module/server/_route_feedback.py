"""POST /cds-services/{id}/feedback: stored durably before the 200."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from ..errors import UnknownService
from ..hooks import TrustedClient, check_feedback_size, parse_json, validate_feedback
from ._answers import error_response
from ._offload import offload
from ._openapi import FEEDBACK_BODY, FEEDBACK_RESPONSES
from ._runtime import Runtime, caller, runtime

router = APIRouter()


@router.post(
    "/cds-services/{service_id}/feedback",
    openapi_extra=FEEDBACK_BODY,
    responses=FEEDBACK_RESPONSES,
    response_class=Response,  # the 200 has no body
)
async def feedback(
    service_id: str,
    request: Request,
    service: Annotated[Runtime, Depends(runtime)],
    client: Annotated[TrustedClient | None, Depends(caller)],
) -> Response:
    body = await request.body()
    # Counted per trusted client; open mode serves this machine alone, one client.
    issuer = client.issuer if client is not None else "loopback"

    def work() -> Response:
        answering = service.catalogue.get(service_id)
        if answering is None:
            raise UnknownService()
        parsed = parse_json(body)
        check_feedback_size(parsed, service.settings.max_entries)
        # Committed before the 200: an acknowledged feedback survives a crash.
        service.store.record_feedback(
            service_id, validate_feedback(parsed), issuer, hook=answering.hook
        )
        return Response(status_code=200)

    try:
        return await offload(work)
    except Exception as exc:  # noqa: BLE001 - every request gets an answer, never a trace
        return error_response(exc)

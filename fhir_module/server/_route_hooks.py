"""POST /cds-services/{id}: one hook call judged (in a thread), then audited (in a thread)."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from ..errors import StoreUnavailable
from ..hooks import HookResult, ServerPolicy, run_hook
from ._answers import error_response
from ._offload import offload
from ._openapi import HOOK_BODY, HOOK_RESPONSES
from ._runtime import Runtime, runtime, server_policy

log = logging.getLogger("fhir_module.service")
router = APIRouter()


@router.post("/cds-services/{service_id}", openapi_extra=HOOK_BODY, responses=HOOK_RESPONSES)
async def hook(
    service_id: str,
    request: Request,
    service: Annotated[Runtime, Depends(runtime)],
    allowed: Annotated[ServerPolicy, Depends(server_policy)],
) -> Response:
    body = await request.body()
    try:
        result = await offload(
            run_hook,
            service.knowledge,
            service_id,
            body,
            settings=service.settings,
            session=service.http,
            catalogue=service.catalogue,
            allowed=allowed,
        )
    except Exception as exc:  # noqa: BLE001 - every request gets an answer, never a trace
        return error_response(exc)
    await _audited(service, service_id, result)
    return JSONResponse(result.response)


async def _audited(service: Runtime, service_id: str, result: HookResult) -> None:
    try:
        await offload(
            service.store.record_call,
            hook_instance=result.call.hook_instance,
            service_id=service_id,
            hook=result.service.hook,
            patient_id=result.call.patient_id,
            cards=result.response.get("cards", []),
            drugs={uuid: (d.plan_url, d.plan_version) for uuid, d in result.drugs.items()},
        )
    except StoreUnavailable:
        pass  # the cards matter more than their audit: the store counts and logs it
    except Exception as exc:  # noqa: BLE001 - the cards go out whatever the audit's fault
        log.error("audit not written: %s", type(exc).__name__)

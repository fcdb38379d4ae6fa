"""GET /health: readiness for a load balancer; no data, no authentication."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, Response

from ._guard import HEALTH_PATH
from ._offload import offload
from ._runtime import Runtime, runtime

router = APIRouter()


@router.get(HEALTH_PATH, include_in_schema=False)
async def health(service: Annotated[Runtime, Depends(runtime)]) -> Response:
    # The knowledge loaded (it yields the services), the database writable.
    database = await offload(service.store.health)
    loaded = bool(service.catalogue)
    ready = loaded and database["writable"]
    body = {
        "status": "pass" if ready else "fail",
        "knowledge": "loaded" if loaded else "missing",
        "database": "writable" if database["writable"] else "unavailable",
        "auditFailures": database["auditFailures"],
    }
    return JSONResponse(body, 200 if ready else 503, headers={"Cache-Control": "no-store"})

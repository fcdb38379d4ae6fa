"""GET /cds-services: the discovery document, and GET /openapi.json."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from ._openapi import DISCOVERY_RESPONSES
from ._runtime import Runtime, runtime

router = APIRouter()


@router.get("/cds-services", responses=DISCOVERY_RESPONSES)
async def discovery(service: Annotated[Runtime, Depends(runtime)]) -> dict[str, Any]:
    return {"services": [s.discovery() for s in service.catalogue.values()]}


@router.get("/openapi.json", include_in_schema=False)
async def openapi(request: Request) -> dict[str, Any]:
    document: dict[str, Any] = request.app.openapi()
    return document

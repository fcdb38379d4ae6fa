"""The FastAPI app: discovery, the hook endpoints and feedback.

This module alone turns the package's exceptions into HTTP answers, each a
FHIR OperationOutcome: 400 bad request, 404 unknown service, 412 data that
cannot be had, 413 more than the service takes on, and 500 only for a fault of
the service itself, logged by its type alone (no patient data, no stack trace
in the answer). Authentication (a bare 401) and the body size limit are the
Guard's, in front of everything.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import requests
from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import FhirModuleError, StoreUnavailable, answer_for
from ..hooks import (
    BaseUrl,
    HookResult,
    ServerPolicy,
    UnknownService,
    check_feedback_size,
    operation_outcome,
    outbound_session,
    outcome_for,
    parse_json,
    run_hook,
    services,
    validate_feedback,
)
from ..knowledge import Knowledge, load_knowledge
from ._auth import Authenticator
from ._config import TrustedClient, load_config
from ._guard import HEALTH_PATH, Guard
from ._http import configure_connections, quiet_accept_errors
from ._offload import offload
from ._openapi import (
    DISCOVERY_RESPONSES,
    FEEDBACK_BODY,
    FEEDBACK_RESPONSES,
    HOOK_BODY,
    HOOK_RESPONSES,
    install_openapi,
)
from ._replay import ReplayCache
from ._settings import Settings
from ._store import Store

log = logging.getLogger("fhir_module.service")
FHIR_JSON = "application/fhir+json"
#: the CORS origins open mode allows unless told otherwise: http(s) on a loopback name, any port
LOOPBACK_ORIGINS = r"https?://(localhost|127(\.\d{1,3}){3}|\[::1\])(:\d{1,5})?"


class _NoUrlsInDebug(logging.Filter):
    """urllib3 logs each request line at DEBUG, and a FHIR read's URL holds the patient id."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno > logging.DEBUG


_NO_URLS = _NoUrlsInDebug()


def error_response(exc: Exception) -> JSONResponse:
    """The HTTP answer for an exception raised while serving a request."""
    if isinstance(exc, FhirModuleError):
        status = answer_for(exc).status
        if status == 500:
            log.error("service fault: %s", type(exc).__name__)
        if isinstance(exc, StoreUnavailable):  # the store logs it, once
            return JSONResponse(
                operation_outcome("transient", str(exc)),
                503,
                headers={"Retry-After": "5"},
                media_type=FHIR_JSON,
            )
        return JSONResponse(outcome_for(exc), status, media_type=FHIR_JSON)
    log.error("unexpected %s while serving a request", type(exc).__name__)
    return JSONResponse(outcome_for(exc), 500, media_type=FHIR_JSON)


async def _guarded(work: Callable[[], Response]) -> Response:
    # Blocking work (FHIR reads, SQLite) runs in the thread pool. Errors are answered here
    # rather than by an app-level handler, which Starlette would re-raise after answering.
    try:
        return await offload(work)
    except Exception as exc:  # noqa: BLE001 - every request gets an answer, never a trace
        return error_response(exc)


def create_app(
    settings: Settings | None = None,
    knowledge: Knowledge | None = None,
    *,
    session: requests.Session | None = None,
) -> FastAPI:
    """The CDS Hooks service; loads the knowledge once unless given, opens the store.

    With `settings.config_path`, every call must carry a JWT of a client the file trusts
    (ConfigError if the file is wrong); without, the service is open to loopback callers
    and reads only loopback fhirServers. Outbound reads use `session` as given, else an
    `outbound_session()` (the environment's proxies and CA bundle, never `.netrc`).
    """
    settings = settings or Settings()
    knowledge = knowledge or load_knowledge()
    config = load_config(settings.config_path) if settings.config_path else None
    catalogue = services(knowledge)
    store = Store(
        settings.database,
        settings.audit_key,
        store_comments=settings.store_comments,
        key_file=settings.audit_key_file,
        retention_days=settings.retention_days,
        feedback_per_minute=settings.feedback_per_minute,
    )
    http = session or outbound_session()
    replay = (
        # Its own connections: the replay cache outlives a failure of the audit's.
        ReplayCache(settings.database, config.replay_quota or settings.replay_quota)
        if config
        else None
    )
    auth = (
        Authenticator(config, replay, session=http, timeout=settings.fhir_timeout)
        if config and replay
        else None
    )
    logging.getLogger("urllib3.connectionpool").addFilter(_NO_URLS)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        quiet_accept_errors(asyncio.get_running_loop())
        if config is None:
            log.warning(
                "open mode: no trusted clients configured (--config), so callers are not "
                "authenticated; only loopback callers are served, only loopback fhirServers read"
            )
        yield
        http.close()
        if replay is not None:
            replay.close()
        store.close()

    app = FastAPI(
        title="fhir-module CDS Hooks service",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.settings, app.state.knowledge, app.state.store = settings, knowledge, store
    app.state.config, app.state.replay = config, replay
    install_openapi(app, catalogue, settings)
    app.add_middleware(
        Guard,
        auth=auth,
        max_body_bytes=settings.max_body_bytes,
        public_base_url=config.public_base_url if config else None,
        body_timeout=settings.header_timeout,
    )
    # Added last, so outermost: CORS preflights are answered before the Guard asks for a JWT.
    origins, origin_regex = _cors_origins(settings.cors_origins, open_mode=config is None)
    if origins or origin_regex:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_origin_regex=origin_regex,
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type"],
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "not-found", 405: "not-supported"}.get(exc.status_code, "processing")
        return JSONResponse(
            operation_outcome(code, str(exc.detail)),
            exc.status_code,
            headers=getattr(exc, "headers", None),
            media_type=FHIR_JSON,
        )

    @app.get("/cds-services", responses=DISCOVERY_RESPONSES)
    async def discovery() -> dict[str, Any]:
        return {"services": [s.discovery() for s in catalogue.values()]}

    @app.get(HEALTH_PATH, include_in_schema=False)
    async def health() -> Response:
        # Readiness for a load balancer: the knowledge loaded (it yields the services), the
        # database writable. No data, no authentication.
        database = await offload(store.health)
        loaded = bool(catalogue)
        ready = loaded and database["writable"]
        body = {
            "status": "pass" if ready else "fail",
            "knowledge": "loaded" if loaded else "missing",
            "database": "writable" if database["writable"] else "unavailable",
            "auditFailures": database["auditFailures"],
        }
        return JSONResponse(body, 200 if ready else 503, headers={"Cache-Control": "no-store"})

    @app.get("/openapi.json", include_in_schema=False)
    async def openapi() -> dict[str, Any]:
        return app.openapi()

    @app.post("/cds-services/{service_id}", openapi_extra=HOOK_BODY, responses=HOOK_RESPONSES)
    async def hook(service_id: str, request: Request) -> Response:
        body = await request.body()
        allowed = _server_policy(request)
        try:
            result = await judged(service_id, body, allowed)
        except Exception as exc:  # noqa: BLE001 - every request gets an answer, never a trace
            return error_response(exc)
        await audited(service_id, result)
        return JSONResponse(result.response)

    async def judged(service_id: str, body: bytes, allowed: ServerPolicy) -> HookResult:
        return await offload(
            run_hook,
            knowledge,
            service_id,
            body,
            settings=settings,
            session=http,
            catalogue=catalogue,
            allowed=allowed,
        )

    async def audited(service_id: str, result: HookResult) -> None:
        try:
            await offload(
                store.record_call,
                hook_instance=result.call.hook_instance,
                service_id=service_id,
                hook=result.service.hook,
                patient_id=result.call.patient_id,
                cards=result.response.get("cards", []),
            )
        except StoreUnavailable:
            pass  # the cards matter more than their audit: the store counts and logs it
        except Exception as exc:  # noqa: BLE001 - the cards go out whatever the audit's fault
            log.error("audit not written: %s", type(exc).__name__)

    @app.post(
        "/cds-services/{service_id}/feedback",
        openapi_extra=FEEDBACK_BODY,
        responses=FEEDBACK_RESPONSES,
        response_class=Response,  # the 200 has no body
    )
    async def feedback(service_id: str, request: Request) -> Response:
        body = await request.body()
        caller: TrustedClient | None = getattr(request.state, "cds_client", None)
        # Counted per trusted client; open mode serves this machine alone, one client.
        client = caller.issuer if caller is not None else "loopback"

        def work() -> Response:
            if service_id not in catalogue:
                raise UnknownService()
            parsed = parse_json(body)
            check_feedback_size(parsed, settings.max_entries)
            # Committed before the 200: an acknowledged feedback survives a crash.
            store.record_feedback(service_id, validate_feedback(parsed), client)
            return Response(status_code=200)

        return await _guarded(work)

    return app


def _cors_origins(
    setting: tuple[str, ...] | None, *, open_mode: bool
) -> tuple[list[str], str | None]:
    """The origins browsers may call from, and a pattern of more: the setting's, else any
    origin with trusted clients (each call brings its JWT) and, in open mode, pages served
    from this machine only (EHR emulators on loopback), never a page from anywhere."""
    if setting is not None:
        return list(setting), None
    return ([], LOOPBACK_ORIGINS) if open_mode else (["*"], None)


def _server_policy(request: Request) -> ServerPolicy:
    """Which fhirServer URLs this call may have read: its client's list, or loopback when open."""
    client: TrustedClient | None = getattr(request.state, "cds_client", None)
    return client.allows_fhir_server if client is not None else _loopback_server


def _loopback_server(base: BaseUrl) -> bool:
    return base.is_loopback


def app_from_env() -> FastAPI:
    """An app configured from FHIR_MODULE_* variables: uvicorn's factory for worker processes."""
    settings = Settings.from_env()
    configure_connections(settings)
    return create_app(settings)

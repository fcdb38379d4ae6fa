"""The FastAPI app, assembled: the shared Runtime, the Guard and CORS in front, one router
per endpoint (discovery, hooks, feedback, health), and the OpenAPI document."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import requests
from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import ANSWERS, HttpRefused, MethodNotAllowed, NoSuchPath
from ..hooks import load_config, operation_outcome, outbound_session, services
from ..knowledge import Knowledge
from . import _route_discovery, _route_feedback, _route_health, _route_hooks
from ._answers import FHIR_JSON
from ._auth import Authenticator
from ._guard import Guard
from ._http import configure_connections, quiet_accept_errors
from ._openapi import install_openapi
from ._replay import ReplayCache
from ._runtime import Runtime
from ._settings import Settings
from ._store import Store

log = logging.getLogger("fhir_module.service")
#: the CORS origins open mode allows unless told otherwise: http(s) on a loopback name, any port
LOOPBACK_ORIGINS = r"https?://(localhost|127(\.\d{1,3}){3}|\[::1\])(:\d{1,5})?"


class _NoUrlsInDebug(logging.Filter):
    """urllib3 logs each request line at DEBUG, and a FHIR read's URL holds the patient id."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno > logging.DEBUG


_NO_URLS = _NoUrlsInDebug()


def create_app(
    settings: Settings | None = None,
    knowledge: Knowledge | None = None,
    *,
    session: requests.Session | None = None,
) -> FastAPI:
    """The CDS Hooks service; loads the knowledge once unless given (the knowledge the
    settings name: `Settings.load_knowledge`), opens the store.

    With `settings.config_path`, every call must carry a JWT of a client the file trusts
    (ConfigError if the file is wrong); without, the service is open to loopback callers
    and reads only loopback fhirServers. Outbound reads use `session` as given, else an
    `outbound_session()` (the environment's proxies and CA bundle, never `.netrc`).
    """
    settings = settings or Settings()
    if knowledge is None:
        knowledge = settings.load_knowledge()
    service = _runtime(settings, knowledge, session)
    logging.getLogger("urllib3.connectionpool").addFilter(_NO_URLS)
    app = FastAPI(
        title="fhir-module CDS Hooks service",
        lifespan=_lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.runtime = service
    app.state.settings, app.state.knowledge, app.state.store = (
        service.settings,
        service.knowledge,
        service.store,
    )
    app.state.config, app.state.replay = service.config, service.replay
    for route in (_route_discovery, _route_hooks, _route_feedback, _route_health):
        app.include_router(route.router)
    install_openapi(app, service.catalogue, service.settings)
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    app.add_middleware(
        Guard,
        auth=service.auth,
        max_body_bytes=service.settings.max_body_bytes,
        public_base_url=service.config.public_base_url if service.config else None,
        body_timeout=service.settings.header_timeout,
    )
    # Added last, so outermost: CORS preflights are answered before the Guard asks for a JWT.
    origins, origin_regex = _cors_origins(
        service.settings.cors_origins, open_mode=service.config is None
    )
    if origins or origin_regex:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_origin_regex=origin_regex,
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type"],
        )
    return app


def _runtime(settings: Settings, knowledge: Knowledge, session: requests.Session | None) -> Runtime:
    config = load_config(settings.config_path) if settings.config_path else None
    # ConfigError, before anything is opened, if a configured id is another hook's default.
    catalogue = services(knowledge, config.service_ids if config else None)
    store = Store(
        settings.database,
        settings.audit_key,
        store_comments=settings.store_comments,
        key_file=settings.audit_key_file,
        retention_days=settings.retention_days,
        feedback_per_minute=settings.feedback_per_minute,
    )
    http = session or outbound_session()
    # Its own connections: the replay cache outlives a failure of the audit's.
    replay = (
        ReplayCache(settings.database, config.replay_quota or settings.replay_quota)
        if config
        else None
    )
    auth = (
        Authenticator(config, replay, session=http, timeout=settings.fhir_timeout)
        if config and replay
        else None
    )
    return Runtime(settings, knowledge, catalogue, store, http, config, replay, auth)


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    service: Runtime = app.state.runtime
    quiet_accept_errors(asyncio.get_running_loop())
    if service.config is None:
        log.warning(
            "open mode: no trusted clients configured (--config), so callers are not "
            "authenticated; only loopback callers are served, only loopback fhirServers read"
        )
    yield
    service.http.close()
    if service.replay is not None:
        service.replay.close()
    service.store.close()


#: the framework's own refusals by status, each answered by its row of the one table
_FRAMEWORK = {ANSWERS[cls].status: ANSWERS[cls] for cls in (NoSuchPath, MethodNotAllowed)}


async def _http_error(_: Request, exc: StarletteHTTPException) -> Response:
    code = _FRAMEWORK.get(exc.status_code, ANSWERS[HttpRefused]).code
    return JSONResponse(
        operation_outcome(code, str(exc.detail)),
        exc.status_code,
        headers=getattr(exc, "headers", None),
        media_type=FHIR_JSON,
    )


def _cors_origins(
    setting: tuple[str, ...] | None, *, open_mode: bool
) -> tuple[list[str], str | None]:
    """The origins browsers may call from, and a pattern of more: the setting's, else any
    origin with trusted clients (each call brings its JWT) and, in open mode, pages served
    from this machine only (EHR emulators on loopback), never a page from anywhere."""
    if setting is not None:
        return list(setting), None
    return ([], LOOPBACK_ORIGINS) if open_mode else (["*"], None)


def app_from_env() -> FastAPI:
    """An app configured from FHIR_MODULE_* variables: uvicorn's factory for worker processes.

    Its knowledge is the one FHIR_MODULE_KNOWLEDGE and FHIR_MODULE_NO_BUILTIN_KNOWLEDGE name,
    as `fhir-module serve --workers N` sets them for every worker.
    """
    settings = Settings.from_env()
    configure_connections(settings)
    return create_app(settings)

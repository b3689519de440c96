"""The Litestar application: ingestion under /v1, admin API under /api, OpenAPI under /schema, the SPA
at /. Handlers are sync (SQLAlchemy sync engine) and run in Litestar's thread pool."""

from __future__ import annotations

import logging

from litestar import Litestar, Response, Router
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme

from backend.api import openapi
from backend.api.apidocs import LocalSwaggerPlugin
from backend.api.auth import SAFE_METHODS, KeyCache, principal_dependency, require_admin, require_write_key
from backend.api.errors import EXCEPTION_HANDLERS, ApiError, bad_request, refuse_nul, refuse_nul_text
from backend.api.headers import security_headers
from backend.api.journeys import JourneyController
from backend.api.meta import MetaController
from backend.api.sessions import SessionController, read_session
from backend.api.spa import spa_routers
from backend.services import Services

log = logging.getLogger("waymark")

MAX_BODY_BYTES = 5 * 1024 * 1024

API_HANDLERS: list = [MetaController, JourneyController]
"""Admin API controllers (mounted under /api, admin key or signed-in user required)."""

INGEST_HANDLERS: list = []
SHUTDOWN_HOOKS: list = []
"""Run when any app stops (after the caller's own ``on_shutdown``), e.g. the ingestion writer's flush."""
"""Segment-compatible ingestion handlers (mounted under /v1, write key required)."""

PUBLIC_HANDLERS: list = [SessionController]
"""Routes with their own auth: sign-in, tracking links, the SPA."""


def _register_optional_modules() -> None:
    """Feature modules add themselves to the lists above when imported."""
    import importlib

    for name in (
        "backend.api.ingest",
        "backend.api.contacts",
        "backend.api.imports",
        "backend.api.audiences",
        "backend.api.broadcasts",
        "backend.api.keys",
        "backend.api.templates",
        "backend.api.providers",
        "backend.api.messages",
        "backend.api.tracking",
    ):
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise


MAX_ID = 2**63 - 1


def _allowed_methods(request) -> Response:
    """OPTIONS lists every method of the path (Litestar's own answer lists only those of the handlers
    registered with its first controller when several share a path)."""
    template = request.scope.get("path_template")
    methods = {m for route in request.app.routes if route.path_format == template for m in route.methods}
    return Response(None, status_code=204, headers={"Allow": ", ".join(sorted(methods | {"OPTIONS"}))})


async def _before_request(request) -> Response | None:
    """Checks every handler's input needs before the database sees it. An integer path parameter
    beyond 64 bits, or a text one with a NUL, names nothing: 404 (SQLite cannot even bind the first;
    PostgreSQL refuses NUL where SQLite stores it). No query parameter of the API takes a list, so one
    given twice is refused rather than half of it ignored; a NUL in a query or a JSON body is the same
    400 naming the field on both engines (/v1 checks its bodies itself while it parses them). Async
    because a sync hook would cost every request a thread hop."""
    for name, value in request.path_params.items():
        if isinstance(value, int) and not -MAX_ID <= value <= MAX_ID:
            raise ApiError(404, f"{name.removesuffix('_id').replace('_', ' ')} not found")
        if isinstance(value, str) and "\x00" in value:
            raise ApiError(404, "not found")
    if request.method == "OPTIONS":
        return _allowed_methods(request)
    query = request.query_params
    for name in query:
        if len(query.getall(name)) > 1:
            raise bad_request(f"/query/{name}", f"give {name} once")
    refuse_nul_text(dict(query.dict()), "query")
    unsafe = request.method not in SAFE_METHODS and not request.url.path.startswith("/v1/")
    if unsafe and "json" in request.headers.get("content-type", ""):
        refuse_nul(await request.body())
    return None


def create_app(services: Services, *, on_startup: list | None = None, on_shutdown: list | None = None) -> Litestar:
    _register_optional_modules()
    api = Router(
        path="/api",
        route_handlers=list(dict.fromkeys(API_HANDLERS)),
        guards=[require_admin],
        security=[{"adminKey": []}, {"session": []}],
    )
    ingest = Router(
        path="/v1",
        route_handlers=list(dict.fromkeys(INGEST_HANDLERS)),
        guards=[require_write_key],
        security=[{"writeKey": []}],
        tags=["ingestion"],
    )
    app = Litestar(
        route_handlers=[api, ingest, *dict.fromkeys(PUBLIC_HANDLERS), *spa_routers()],
        dependencies={
            "services": Provide(lambda: services, use_cache=True, sync_to_thread=False),
            "principal": Provide(principal_dependency, sync_to_thread=False),
        },
        exception_handlers=EXCEPTION_HANDLERS,
        middleware=[security_headers],
        before_request=_before_request,
        openapi_config=OpenAPIConfig(
            title="Waymark API",
            version="1",
            description=(
                "Segment-compatible ingestion (/v1) and the admin API (/api). See docs/api.md. No text, "
                "object key or query parameter may contain the NUL character (U+0000): it is refused with a "
                "400 naming the field."
            ),
            path="/schema",
            render_plugins=[LocalSwaggerPlugin(path=["/", "/swagger"])],
            components=Components(
                security_schemes={
                    "writeKey": SecurityScheme(type="http", scheme="basic", description="write key as user name"),
                    "adminKey": SecurityScheme(type="http", scheme="bearer", description="admin key"),
                    "session": SecurityScheme(type="apiKey", security_scheme_in="cookie", name="waymark_session"),
                }
            ),
        ),
        request_max_body_size=MAX_BODY_BYTES,
        on_startup=on_startup or [],
        on_shutdown=[*(on_shutdown or []), *SHUTDOWN_HOOKS],
        debug=False,
        logging_config=None,  # the process configures logging (waymark's CLI), not the framework
    )
    openapi.install(app)
    app.state.services = services
    app.state.key_cache = KeyCache()
    app.state.session_reader = read_session
    return app

"""The FastAPI application: routes, error mapping and upload limits; the gateway's parts start and stop with it."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Route

from .. import __version__
from ..core import request_id
from ..core.errors import GatewayError
from ..core.settings import Settings
from . import metrics, openapi
from .deps import running_gateway
from .docs import router as docs_router
from .limits import BodyLimit
from .routes import (
    audit,
    characters,
    hash_lists,
    moderations,
    policies,
    provenance,
    public,
    reviews,
    soft_binding,
    system,
    videos,
    works,
)
from .security import API_HEADERS, ResponseHeaders, install_security
from .web import router as verify_page_router

log = logging.getLogger("hallmark.api")


def error_response(status: int, message: str, *, type_: str = "invalid_request_error", code: str | None = None,
                   param: str | None = None, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(status_code=status, headers=headers,
                        content={"error": {"message": message, "type": type_, "param": param, "code": code}})


def create_app(settings: Settings | None = None, *, start_worker: bool = True,
               announce=print) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        with running_gateway(settings, start_worker=start_worker, announce=announce) as runtime:
            app.state.runtime = runtime
            yield

    # The docs are served by .docs, from installed files rather than a CDN; ReDoc is not offered.
    app = FastAPI(title="Hallmark", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="Moderated, watermarked and C2PA-signed video generation; provenance checks.")
    app.include_router(docs_router)
    app.include_router(system.router)
    app.include_router(characters.router)  # before /v1/videos/{video_id}: "characters" is not a video id
    app.include_router(characters.admin_router)
    app.include_router(hash_lists.router)
    app.include_router(videos.router)
    app.include_router(provenance.router)
    app.include_router(soft_binding.router)
    app.include_router(works.router)
    app.include_router(moderations.router)
    app.include_router(reviews.router)
    app.include_router(policies.router)
    app.include_router(audit.router)
    app.include_router(public.router)
    app.include_router(public.admin_router)
    app.include_router(verify_page_router)
    app.include_router(metrics.router)

    # Added first, so it is the innermost middleware: its 413 passes through the others like any response.
    app.add_middleware(BodyLimit, upload_bytes=settings.max_upload_bytes)
    app.state.request_metrics = metrics.RequestMetrics()
    app.add_middleware(metrics.MetricsMiddleware, metrics=app.state.request_metrics)

    @app.exception_handler(GatewayError)
    async def gateway_error(_request: Request, exc: GatewayError) -> JSONResponse:
        return JSONResponse(status_code=exc.status, content=exc.to_body(), headers=exc.headers or None)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        param = ".".join(str(p) for p in first.get("loc", [])[1:]) or None
        return error_response(400, f"Invalid value for '{param}': {first.get('msg', 'invalid')}", param=param,
                              code="invalid_value")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code)
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = _allowed_methods(request)
        return error_response(exc.status_code, str(exc.detail), code=code, headers=headers or None)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        rid = request.scope.get(ResponseHeaders.SCOPE_KEY) or request_id.new_request_id()
        log.exception("unhandled error (request %s)", rid)
        # Answered outside every middleware (Starlette's ServerErrorMiddleware), so the headers are added here.
        return error_response(500, f"The gateway hit an internal error; it has been logged as request {rid}.",
                              type_="server_error", code="internal_error",
                              headers={**API_HEADERS, request_id.HEADER: rid})

    install_security(app, settings)
    openapi.install(app)
    return app


def _allowed_methods(request: Request) -> str:
    """Every method some route serves at this path: Starlette's own Allow names only the first route that matched the
    path, and a path such as /v1/videos is served by one route per method."""
    methods: set[str] = set()
    scope = {**request.scope, "method": "GET"}

    def visit(routes) -> None:
        for route in routes:
            if hasattr(route, "original_router"):  # an included router, as FastAPI wraps it
                visit(route.original_router.routes)
            elif isinstance(route, Route) and route.matches(scope)[0] != Match.NONE:
                methods.update(route.methods or ())

    visit(request.app.routes)
    return ", ".join(sorted(methods))

"""Response headers every answer carries, and CORS (off unless origins are configured)."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.datastructures import MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..core import request_id
from ..core.settings import Settings

# No response of the API is a page that needs to load anything; the docs page sets a policy of its own.
DEFAULT_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

# Answers are per tenant and per key: nothing may be cached by a browser or a proxy, nor sniffed into another type
# (an uploaded file served back must stay what its content type says).
API_HEADERS = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store",
               "Content-Security-Policy": DEFAULT_CSP}


class ResponseHeaders:
    """Adds each of ``API_HEADERS`` to every HTTP response that did not set its own, and gives every request an id:
    the caller's ``x-request-id`` when it is a plain one, else a new one, sent back in ``x-request-id``. The id is
    current (``core.request_id.current()``) while the request runs, and kept in the scope so the error handler
    outside every middleware can send it with a 500 too. Plain ASGI, so streamed bodies pass through untouched."""

    SCOPE_KEY = "hallmark.request_id"

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = next((v.decode("latin-1") for k, v in scope.get("headers", ())
                         if k == request_id.HEADER.encode()), None)
        rid = request_id.accept_or_new(incoming)
        scope[self.SCOPE_KEY] = rid

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in API_HEADERS.items():
                    headers.setdefault(name, value)
                headers[request_id.HEADER] = rid
            await send(message)

        token = request_id.bind(rid)
        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            request_id.unbind(token)


def cors_origins(settings: Settings) -> list[str]:
    return [origin.strip().rstrip("/") for origin in settings.cors_origins.split(",") if origin.strip()]


def install_security(app: FastAPI, settings: Settings) -> None:
    """Call last in ``create_app``: the headers middleware then wraps every other one, so their early answers
    (413, a CORS preflight) get the headers and the request id too. CORS is added only for configured origins: without it a browser
    on another origin cannot read any answer."""
    origins = cors_origins(settings)
    if origins:
        # Keys travel in the Authorization header, never in cookies: no credentials mode. Any method and header
        # (the OpenAI SDK sends its own x-stainless-* ones); the origin list is what restricts.
        app.add_middleware(CORSMiddleware, allow_origins=origins, allow_methods=["*"], allow_headers=["*"],
                           expose_headers=["Retry-After", request_id.HEADER], allow_credentials=False, max_age=600)
    app.add_middleware(ResponseHeaders)

"""The request body limit, enforced on the bytes as they arrive: a Content-Length over the limit is refused before
anything is read, and a body without one (chunked) or one that lies is refused the moment it passes the limit, so no
route ever holds more than the limit, whichever way it reads its body."""

from __future__ import annotations

import json

from ..core.errors import PayloadTooLarge

__all__ = ["FORM_SLACK_BYTES", "BodyLimit"]

# Multipart framing and the small text fields around the file itself.
FORM_SLACK_BYTES = 64 * 1024


class _Refused(Exception):
    """Raised out of ``receive`` to unwind the app once the body is over the limit."""


class BodyLimit:
    """Pure ASGI middleware (the body is counted in ``receive``, which a BaseHTTPMiddleware cannot see for
    routes that stream the request themselves)."""

    def __init__(self, app, *, upload_bytes: int, slack_bytes: int = FORM_SLACK_BYTES) -> None:
        self.app = app
        self.upload_bytes = upload_bytes
        self.max_bytes = upload_bytes + slack_bytes

    def _error(self, seen: str) -> PayloadTooLarge:
        return PayloadTooLarge(f"The request body is {seen}; uploads are limited to {self.upload_bytes} bytes "
                               "(HALLMARK_MAX_UPLOAD_BYTES).")

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = _content_length(scope)
        if length is not None and length > self.max_bytes:
            await _send_error(send, self._error(f"{length} bytes"))
            return

        received = 0
        refused = False
        started = False

        async def counted_receive():
            nonlocal received, refused
            if refused:  # the app caught the refusal and reads on: it gets nothing more
                raise _Refused()
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    refused = True
                    raise _Refused()
            return message

        async def guarded_send(message) -> None:
            nonlocal started
            # Whatever the app makes of the refusal (a form parser's 400, FastAPI's "error parsing the body") is
            # replaced by the 413 below.
            if refused and not started:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except _Refused:
            pass
        except Exception:
            if not refused:
                raise
        if refused and not started:
            await _send_error(send, self._error(f"larger than {self.max_bytes} bytes"))


def _content_length(scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() else None
    return None


async def _send_error(send, error: PayloadTooLarge) -> None:
    body = json.dumps(error.to_body()).encode()
    # The rest of the body stays unread, so the connection cannot be reused.
    await send({"type": "http.response.start", "status": error.status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})

"""Typed errors that cross the gateway's seams; the API maps each to an OpenAI-shaped error body."""

from __future__ import annotations


class GatewayError(Exception):
    """An error a client can act on. ``status`` is the HTTP status the API answers with."""

    status: int = 400
    type: str = "invalid_request_error"
    code: str | None = None

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None,
                 extra: dict | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        if code is not None:
            self.code = code
        self.extra = extra or {}
        self.headers = headers or {}  # HTTP headers the answer needs (e.g. Retry-After)

    def to_body(self) -> dict:
        error = {"message": self.message, "type": self.type, "param": self.param, "code": self.code}
        error.update(self.extra)
        return {"error": error}


class InvalidRequest(GatewayError):
    status = 400
    code = "invalid_value"


class Unauthorized(GatewayError):
    status = 401
    type = "authentication_error"
    code = "invalid_api_key"

    def __init__(self, message: str, **kwargs) -> None:
        super().__init__(message, **kwargs)
        # RFC 9110 makes a 401 name the scheme that would succeed.
        self.headers.setdefault("WWW-Authenticate", "Bearer")


class Forbidden(GatewayError):
    status = 403
    type = "permission_error"
    code = "insufficient_role"


class NotFound(GatewayError):
    status = 404
    code = "not_found"


class PayloadTooLarge(GatewayError):
    status = 413
    code = "file_too_large"


class MediaError(GatewayError):
    """The media a caller supplied cannot be used (never a fault of our code)."""

    status = 422
    code = "undecodable_media"


class UnsupportedMediaType(MediaError):
    """The bytes are not a video or image format we accept (e.g. a text file)."""

    status = 415
    code = "unsupported_media_type"


class UndecodableMedia(MediaError):
    """The bytes look like a supported format but cannot be decoded (corrupt, truncated, empty)."""

    status = 422
    code = "undecodable_media"


class ModerationBlocked(GatewayError):
    status = 400
    code = "moderation_blocked"


class OutputBlocked(GatewayError):
    """A generated output the policy refuses (e.g. it matches a registered work)."""

    status = 400
    code = "output_blocked"


class NotReady(GatewayError):
    status = 400
    code = "video_not_ready"


class PolicyRejected(GatewayError):
    """A policy pack that failed validation on (re)load; the previous pack stays active."""

    status = 422
    code = "invalid_policy_pack"


class RateLimited(GatewayError):
    """A quota or rate limit was reached; ``Retry-After`` says when to try again (OpenAI's shape, so the SDK backs off
    by itself)."""

    status = 429
    type = "requests"
    code = "rate_limit_exceeded"

    def __init__(self, message: str, *, retry_after: float, param: str | None = None, code: str | None = None) -> None:
        seconds = max(1, int(retry_after + 0.999))
        super().__init__(message, param=param, code=code, headers={"Retry-After": str(seconds)})
        self.retry_after = seconds

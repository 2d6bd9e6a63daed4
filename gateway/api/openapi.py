"""The OpenAPI document says what the API really answers: every error a route can give is documented with the
OpenAI error body it carries, and request validation errors are 400 (the gateway's own answer), not FastAPI's 422."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

_DESCRIPTIONS = {
    400: "Invalid request: the `param` field names the input at fault",
    401: "Missing or wrong API key",
    403: "The API key lacks the role this route needs",
    404: "No such object (or it belongs to another tenant)",
    409: "The request conflicts with what is already stored",
    413: "The request body or a field is over the size limit",
    415: "The upload is not a supported video or image",
    422: "The upload could not be decoded",
    429: "A quota or rate limit was reached; `Retry-After` says when to try again",
}


class ErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail


def errors(*statuses: int, described: dict[int, str] | None = None) -> dict[int | str, dict[str, Any]]:
    """``responses=`` entries for these error statuses (``described``: a route's own wording for some)."""
    out: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        text = (described or {}).get(status, _DESCRIPTIONS[status])
        entry: dict[str, Any] = {"model": ErrorBody, "description": text}
        if status == 429:
            entry["headers"] = {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}}
        out[status] = entry
    return out


# What every route that takes an API key can answer.
AUTHENTICATED = errors(400, 401, 429)


def multipart_body(properties: dict[str, dict], required: list[str]) -> dict:
    """``openapi_extra`` for a route that reads a multipart form itself (to stream and cap its parts). Text fields are
    given no JSON type: a form part is text whatever it spells, so "0" is as good a title as "zero"."""
    return {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
        "type": "object", "properties": properties, "required": required}}}}}


def binary(media_types: list[str], description: str) -> dict[int | str, dict[str, Any]]:
    """A 200 whose body is a file of one of these media types."""
    return {200: {"description": description,
                  "content": {t: {"schema": {"type": "string", "format": "binary"}} for t in media_types}}}


def install(app: FastAPI) -> None:
    def openapi() -> dict:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description,
                                 routes=app.routes)
            for operations in schema.get("paths", {}).values():
                for operation in operations.values():
                    responses = operation.get("responses", {})
                    validation = responses.get("422", {}).get("content", {}).get("application/json", {})
                    if validation.get("schema", {}).get("$ref", "").endswith("/HTTPValidationError"):
                        # The app answers request validation errors with 400 (see app.validation_error).
                        del responses["422"]
            for name in ("HTTPValidationError", "ValidationError"):
                schema.get("components", {}).get("schemas", {}).pop(name, None)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

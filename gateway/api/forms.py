"""Multipart form reading with the gateway's own limits and error shapes.

Limits while the body is parsed, so nothing past them is held: a text field is at most ``max_text_bytes`` (a prompt
and a few short values; never the upload limit), a file part at most ``max_bytes`` (spooled to disk past 1 MiB), and
a form has at most ``MAX_FILES`` files and ``MAX_FIELDS`` text fields (no form of this API needs more than 6 parts).
The whole body is bounded before this by ``gateway.api.limits.BodyLimit``."""

from __future__ import annotations

import json

from fastapi import Request
from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import FormParser, MultiPartException, MultiPartParser
from starlette.requests import ClientDisconnect

from ..core.errors import GatewayError, InvalidRequest, PayloadTooLarge

TEXT_FIELD_BYTES = 64 * 1024
MAX_FILES = 2
MAX_FIELDS = 16


def _text_too_long(name: str, limit: int) -> InvalidRequest:
    return InvalidRequest(f"'{name}' is longer than the {limit} byte limit for a text field.", param=name or None,
                          code="string_above_max_length")


class _MultiPart(MultiPartParser):
    """Starlette's parser, with the field's name in a size refusal and a size limit on file parts too."""

    def __init__(self, *args, max_file_bytes: int, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._max_file_bytes = max_file_bytes
        self._part_bytes = 0

    def on_part_begin(self) -> None:
        super().on_part_begin()
        self._part_bytes = 0

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        self._part_bytes += end - start
        name = self._current_part.field_name
        if self._current_part.file is None:
            if self._part_bytes > self.max_part_size:
                raise _text_too_long(name, self.max_part_size)
        elif self._part_bytes > self._max_file_bytes:
            raise PayloadTooLarge(f"'{name}' is larger than the {self._max_file_bytes} byte upload limit.",
                                  param=name or None)
        super().on_part_data(data, start, end)


class _UrlEncoded(FormParser):
    def on_field_data(self, data: bytes, start: int, end: int) -> None:
        if self._current_field_size + (end - start) > self.max_part_size:
            raise _text_too_long(self._field_name.decode("latin-1"), self.max_part_size)
        super().on_field_data(data, start, end)


async def read_form(request: Request, *, max_bytes: int, max_text_bytes: int = TEXT_FIELD_BYTES) -> FormData:
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        parser = _MultiPart(request.headers, request.stream(), max_files=MAX_FILES, max_fields=MAX_FIELDS,
                            max_part_size=max_text_bytes, max_file_bytes=max_bytes)
    elif content_type.startswith("application/x-www-form-urlencoded"):
        parser = _UrlEncoded(request.headers, request.stream(), max_fields=MAX_FIELDS, max_part_size=max_text_bytes)
    else:
        raise InvalidRequest("Send the request as multipart/form-data.", param=None, code="invalid_content_type")
    try:
        return await parser.parse()
    except GatewayError:
        raise
    except (MultiPartException, ValueError, KeyError, ClientDisconnect) as exc:  # malformed, too many parts
        message = getattr(exc, "message", None) or str(exc)
        raise InvalidRequest(f"Malformed multipart body: {message}", code="invalid_multipart") from exc


def text_field(form: FormData, name: str) -> str | None:
    value = form.get(name)
    if value is None:
        return None
    if isinstance(value, UploadFile):
        raise InvalidRequest(f"'{name}' must be a text field, not a file.", param=name)
    return value


async def file_field(form: FormData, name: str, *, max_bytes: int, required: bool) -> bytes | None:
    value = form.get(name)
    if value is None or value == "":
        if required:
            raise InvalidRequest(f"Missing required file field '{name}'.", param=name, code="missing_required_parameter")
        return None
    if not isinstance(value, UploadFile):
        raise InvalidRequest(f"'{name}' must be a file upload.", param=name)
    data = await value.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise PayloadTooLarge(f"'{name}' is larger than the {max_bytes} byte upload limit.", param=name)
    if not data:
        raise InvalidRequest(f"'{name}' is empty (0 bytes).", param=name, code="empty_file")
    return data


async def read_json_object(request: Request, *, max_bytes: int) -> dict:
    """A JSON object body of at most ``max_bytes`` (read as it streams in: a longer one is refused before it is
    all received)."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes:
            raise PayloadTooLarge(f"The JSON body is longer than {max_bytes} bytes.", param=None)
    try:
        parsed = json.loads(body)
    except ValueError as exc:
        raise InvalidRequest("The body is not valid JSON.", param=None, code="invalid_json") from exc
    if not isinstance(parsed, dict):
        raise InvalidRequest("The body must be a JSON object.", param=None, code="invalid_json")
    return parsed

"""Multipart form reading with the gateway's own limits and error shapes."""

from __future__ import annotations

from fastapi import Request
from starlette.datastructures import FormData, UploadFile

from ..core.errors import InvalidRequest, PayloadTooLarge


async def read_form(request: Request, *, max_bytes: int) -> FormData:
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data") and not content_type.startswith(
        "application/x-www-form-urlencoded"
    ):
        raise InvalidRequest("Send the request as multipart/form-data.", param=None, code="invalid_content_type")
    try:
        return await request.form(max_files=4, max_fields=32, max_part_size=max_bytes)
    except Exception as exc:  # starlette raises MultiPartException / HTTPException for malformed bodies
        message = getattr(exc, "detail", None) or getattr(exc, "message", None) or str(exc)
        if "maximum size" in str(message).lower():
            raise PayloadTooLarge(f"A form field is larger than the {max_bytes} byte limit.") from exc
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

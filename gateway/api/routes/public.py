"""The keyless public detection API (SB 942): POST /v1/public/provenance_checks and /v1/public/feedback, and the
operator's GET /v1/feedback. Answers carry system provenance data only (gateway.verification.public)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from ...core.auth import Principal
from ...core.errors import InvalidRequest
from ...core.settings import Settings
from ...verification.public import MAX_COMMENT_CHARS, PublicChecks
from ..deps import get_feedback_admin, get_public, get_settings, require_admin
from ..forms import file_field, read_form, read_json_object
from ..openapi import AUTHENTICATED, errors

router = APIRouter(prefix="/v1/public", tags=["public"], responses=errors(400, 404, 429))
admin_router = APIRouter(prefix="/v1", tags=["public"], responses=AUTHENTICATED)

_URL_BODY_BYTES = 8 * 1024


class PublicCheck(BaseModel):
    id: str
    object: Literal["public_provenance_check"] = "public_provenance_check"
    created_at: int
    generated_by_this_gateway: bool
    verdict: dict
    results: list[dict]
    timeline: list[dict] = []  # per segment: start, end, ours, content_id, watermark, registry


class FeedbackIn(BaseModel):
    check_id: str = Field(max_length=40)
    verdict_was_wrong: bool
    comment: str = Field(default="", max_length=MAX_COMMENT_CHARS)


class Feedback(BaseModel):
    id: int
    object: Literal["public_feedback"] = "public_feedback"
    check_id: str
    verdict_was_wrong: bool
    comment: str
    created_at: int | None


class FeedbackPage(BaseModel):
    object: Literal["list"] = "list"
    data: list[Feedback]


_CHECK_BODY = {"requestBody": {"required": True, "content": {
    "multipart/form-data": {"schema": {"type": "object", "properties": {"file": {"type": "string",
                                                                                 "format": "binary"}},
                                       "required": ["file"]}},
    "application/json": {"schema": {"type": "object", "properties": {"url": {"type": "string", "maxLength": 2048}},
                                    "required": ["url"]}}}}}


@router.post("/provenance_checks", response_model=PublicCheck,
             responses=errors(413, 415, 422), openapi_extra=_CHECK_BODY)
async def public_check(request: Request, settings: Settings = Depends(get_settings),
                       public: PublicChecks = Depends(get_public)) -> dict:
    """Keyless: a file (multipart ``file``) or a URL (JSON ``{"url": ...}``, fetched by the gateway)."""
    if request.headers.get("content-type", "").startswith("application/json"):
        url = await _json_url(request)
        return await run_in_threadpool(lambda: public.check(url=url))
    form = await read_form(request, max_bytes=settings.max_upload_bytes)
    data = await file_field(form, "file", max_bytes=settings.max_upload_bytes, required=True)
    return await run_in_threadpool(lambda: public.check(data=data))


async def _json_url(request: Request) -> str:
    parsed = await read_json_object(request, max_bytes=_URL_BODY_BYTES)
    url = parsed.get("url")
    if not isinstance(url, str) or not url.strip():
        raise InvalidRequest("Send {\"url\": \"https://...\"}.", param="url", code="missing_required_parameter")
    return url.strip()


@router.post("/feedback", response_model=Feedback)
async def public_feedback(body: FeedbackIn, public: PublicChecks = Depends(get_public)) -> dict:
    """Say whether a check's verdict was wrong (stored with the check's id, not the file)."""
    return await run_in_threadpool(lambda: public.feedback(check_id=body.check_id,
                                                           verdict_was_wrong=body.verdict_was_wrong,
                                                           comment=body.comment))


@admin_router.get("/feedback", response_model=FeedbackPage, responses=errors(403))
async def list_feedback(_admin: Principal = Depends(require_admin),
                        public: PublicChecks = Depends(get_feedback_admin),
                        limit: int = Query(100, ge=1, le=1000),
                        after: int | None = Query(None, ge=0, le=2**63 - 1)) -> dict:  # a 64-bit row id
    """Feedback from the public page and API, oldest first (admin role)."""
    rows = await run_in_threadpool(lambda: public.list_feedback(limit=limit, after=after))
    return {"object": "list", "data": rows}

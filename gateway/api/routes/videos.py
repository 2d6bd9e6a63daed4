"""/v1/videos: create, retrieve, list, delete, download — the shape of OpenAI's video API."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from ...core.auth import Principal
from ...core.settings import Settings
from ...generation.requests import VideoForm
from ...generation.service import GenerationService
from ..deps import get_generation, get_principal, get_settings
from ..forms import TEXT_FIELD_BYTES, file_field, read_form, text_field
from ..openapi import AUTHENTICATED, binary, errors, multipart_body
from ..schemas import Video, VideoDeleted, VideoPage

router = APIRouter(prefix="/v1/videos", tags=["videos"], responses=AUTHENTICATED)

_CREATE_FORM = multipart_body({
    "prompt": {"minLength": 1}, "model": {},
    "seconds": {"description": "whole seconds"},
    "size": {"pattern": "^([0-9]{2,5}x[0-9]{2,5})?$", "description": "WIDTHxHEIGHT"},
    "seed": {"description": "an integer from 0 to 2^63-1"},
    "input_reference": {"type": "string", "format": "binary", "description": "a JPEG, PNG, WebP or GIF image"},
}, required=["prompt"])

POLL_AFTER_MS = "500"


@router.post("", response_model=Video, responses=errors(413, 415, 422), openapi_extra=_CREATE_FORM)
async def create_video(request: Request, response: Response, principal: Principal = Depends(get_principal),
                       settings: Settings = Depends(get_settings),
                       generation: GenerationService = Depends(get_generation)) -> Video:
    # A prompt at the character limit may take 4 bytes a character in UTF-8.
    form = await read_form(request, max_bytes=settings.max_upload_bytes,
                           max_text_bytes=max(TEXT_FIELD_BYTES, 4 * settings.max_prompt_chars))
    video = VideoForm(prompt=text_field(form, "prompt"), model=text_field(form, "model"),
                      seconds=text_field(form, "seconds"), size=text_field(form, "size"),
                      seed=text_field(form, "seed"),
                      input_reference=await file_field(form, "input_reference", max_bytes=settings.max_upload_bytes,
                                                       required=False))
    job = await run_in_threadpool(generation.submit, principal, video)
    response.headers["openai-poll-after-ms"] = POLL_AFTER_MS
    return Video.from_job(job)


@router.get("", response_model=VideoPage)
def list_videos(after: str | None = None, limit: int = Query(20, ge=1, le=100),
                order: Literal["asc", "desc"] = "desc",
                principal: Principal = Depends(get_principal),
                generation: GenerationService = Depends(get_generation)) -> VideoPage:
    rows, has_more = generation.list(principal, after=after, limit=limit, order=order)
    data = [Video.from_job(row) for row in rows]
    return VideoPage(data=data, has_more=has_more, first_id=data[0].id if data else None,
                     last_id=data[-1].id if data else None)


@router.get("/{video_id}", response_model=Video, responses=errors(404))
def retrieve_video(video_id: str, response: Response, principal: Principal = Depends(get_principal),
                   generation: GenerationService = Depends(get_generation)) -> Video:
    job = generation.get(principal, video_id)
    if job.status in ("queued", "in_progress"):
        response.headers["openai-poll-after-ms"] = POLL_AFTER_MS
    return Video.from_job(job)


@router.delete("/{video_id}", response_model=VideoDeleted, responses=errors(404))
def delete_video(video_id: str, principal: Principal = Depends(get_principal),
                 generation: GenerationService = Depends(get_generation)) -> VideoDeleted:
    generation.delete(principal, video_id)
    return VideoDeleted(id=video_id)


@router.get("/{video_id}/content", response_class=Response,
            responses={**binary(["video/mp4", "image/jpeg"], "The video (MP4) or its thumbnail (JPEG)"),
                       **errors(404)})
def download_content(video_id: str, variant: Literal["video", "thumbnail"] = "video", principal: Principal = Depends(get_principal),
                     generation: GenerationService = Depends(get_generation)) -> Response:
    data, media_type = generation.content(principal, video_id, variant)
    extension = "mp4" if variant == "video" else "jpg"
    return Response(content=data, media_type=media_type,
                    headers={"content-disposition": f'attachment; filename="{video_id}.{extension}"'})

"""/v1/videos: create, retrieve, list, delete, download — the shape of OpenAI's video API."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from fastapi.concurrency import run_in_threadpool

from ...core.auth import Principal
from ...core.settings import Settings
from ...generation.requests import VideoForm
from ...generation.service import GenerationService
from ..deps import get_generation, get_principal, get_settings
from ..forms import TEXT_FIELD_BYTES, file_field, read_form, text_field
from ..schemas import Video, VideoDeleted, VideoPage

router = APIRouter(prefix="/v1/videos", tags=["videos"])

POLL_AFTER_MS = "500"


@router.post("", response_model=Video)
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
def list_videos(after: str | None = None, limit: int = 20, order: str = "desc",
                principal: Principal = Depends(get_principal),
                generation: GenerationService = Depends(get_generation)) -> VideoPage:
    rows, has_more = generation.list(principal, after=after, limit=limit, order=order)
    data = [Video.from_job(row) for row in rows]
    return VideoPage(data=data, has_more=has_more, first_id=data[0].id if data else None,
                     last_id=data[-1].id if data else None)


@router.get("/{video_id}", response_model=Video)
def retrieve_video(video_id: str, response: Response, principal: Principal = Depends(get_principal),
                   generation: GenerationService = Depends(get_generation)) -> Video:
    job = generation.get(principal, video_id)
    if job.status in ("queued", "in_progress"):
        response.headers["openai-poll-after-ms"] = POLL_AFTER_MS
    return Video.from_job(job)


@router.delete("/{video_id}", response_model=VideoDeleted)
def delete_video(video_id: str, principal: Principal = Depends(get_principal),
                 generation: GenerationService = Depends(get_generation)) -> VideoDeleted:
    generation.delete(principal, video_id)
    return VideoDeleted(id=video_id)


@router.get("/{video_id}/content")
def download_content(video_id: str, variant: str = "video", principal: Principal = Depends(get_principal),
                     generation: GenerationService = Depends(get_generation)) -> Response:
    data, media_type = generation.content(principal, video_id, variant)
    extension = "mp4" if variant == "video" else "jpg"
    return Response(content=data, media_type=media_type,
                    headers={"content-disposition": f'attachment; filename="{video_id}.{extension}"'})

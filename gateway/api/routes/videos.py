"""/v1/videos: create, retrieve, list, delete, download — the shape of OpenAI's video API."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, StreamingResponse
from pydantic import BaseModel, Field, StrictInt
from starlette.convertors import Convertor, register_url_convertor

from ...core.auth import Principal
from ...core.errors import InvalidRequest
from ...core.settings import Settings
from ...generation.requests import SourceForm, VideoForm
from ...generation.service import GenerationService
from ..deps import get_generation, get_principal, get_settings
from ..forms import TEXT_FIELD_BYTES, file_field, read_form, read_json_object, text_field
from ..openapi import AUTHENTICATED, binary, errors, multipart_body
from ..schemas import Video, VideoDeleted, VideoPage

router = APIRouter(prefix="/v1/videos", tags=["videos"], responses=AUTHENTICATED)


class _VideoIdConvertor(Convertor):
    """``{video_id:video_id}``: a path segment that can be a video id (they all start ``video_``), so that
    ``/v1/videos/edits``, ``…/extensions`` and ``…/characters`` are never read as ids — each path then serves only
    the methods its own routes declare (and a 405 names only those)."""

    regex = "video_[A-Za-z0-9_-]+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("video_id", _VideoIdConvertor())

_CREATE_FORM = multipart_body({
    "prompt": {"minLength": 1}, "model": {},
    "seconds": {"description": "whole seconds"},
    "size": {"pattern": "^([0-9]{2,5}x[0-9]{2,5})?$", "description": "WIDTHxHEIGHT"},
    "seed": {"description": "an integer from 0 to 2^63-1"},
    "input_reference": {"type": "string", "format": "binary", "description": "a JPEG, PNG, WebP or GIF image"},
    "characters": {"description": "ids of characters (POST /v1/videos/characters) the video uses, comma-separated"},
}, required=["prompt"])

POLL_AFTER_MS = "500"


@router.post("", response_model=Video, responses=errors(404, 413, 415, 422), openapi_extra=_CREATE_FORM)
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
                                                       required=False),
                      characters=text_field(form, "characters"))
    job = await run_in_threadpool(generation.submit, principal, video)
    response.headers["openai-poll-after-ms"] = POLL_AFTER_MS
    return Video.from_job(job)


class RemixRequest(BaseModel):
    prompt: str = Field(min_length=1)
    model: str | None = None  # Hallmark: OpenAI's remix takes the source's model; a name or alias may be given
    seed: StrictInt | None = Field(default=None, ge=0, le=2**63 - 1)  # Hallmark (extra_body): random when absent


_SOURCE_FORM = multipart_body({
    "prompt": {"minLength": 1}, "model": {},
    "video": {"type": "string", "format": "binary", "description": "the source video (MP4, MOV or WebM)"},
    "video[id]": {"description": "or: the id of one of your completed videos"},
    "seed": {"description": "an integer from 0 to 2^63-1"},
}, required=["prompt"])
_EXTEND_FORM = multipart_body({
    "prompt": {"minLength": 1}, "model": {},
    "seconds": {"description": "length of the new segment, whole seconds"},
    "video": {"type": "string", "format": "binary", "description": "the source video (MP4, MOV or WebM)"},
    "video[id]": {"description": "or: the id of one of your completed videos"},
    "seed": {"description": "an integer from 0 to 2^63-1"},
}, required=["prompt", "seconds"])


async def _source_form(request: Request, settings: Settings) -> SourceForm:
    """edit/extend: multipart (what the OpenAI SDK sends: ``video`` a file, or ``video[id]``) or JSON
    (``{"prompt", "seconds", "video": {"id": ...}}``)."""
    if request.headers.get("content-type", "").startswith("application/json"):
        body = await read_json_object(request, max_bytes=TEXT_FIELD_BYTES + 4 * settings.max_prompt_chars)
        video = body.get("video")
        if not (isinstance(video, dict) and isinstance(video.get("id"), str)):
            raise InvalidRequest("In a JSON body 'video' must be {\"id\": \"<video id>\"}; upload a file as "
                                 "multipart/form-data.", param="video")
        fields = {name: body.get(name) for name in ("prompt", "seconds", "model", "seed")}
        for name, value in fields.items():
            if value is not None and not isinstance(value, str | int):
                raise InvalidRequest(f"'{name}' must be a string.", param=name)
        return SourceForm(prompt=_text(fields["prompt"]), video_id=video["id"], seconds=_text(fields["seconds"]),
                          model=_text(fields["model"]), seed=_text(fields["seed"]))
    form = await read_form(request, max_bytes=settings.max_upload_bytes,
                           max_text_bytes=max(TEXT_FIELD_BYTES, 4 * settings.max_prompt_chars))
    return SourceForm(prompt=text_field(form, "prompt"), seconds=text_field(form, "seconds"),
                      model=text_field(form, "model"), seed=text_field(form, "seed"),
                      video_id=text_field(form, "video[id]"),
                      video=await file_field(form, "video", max_bytes=settings.max_upload_bytes, required=False))


def _text(value: str | int | None) -> str | None:
    return None if value is None else str(value)


@router.post("/edits", response_model=Video, responses=errors(404, 413, 415, 422), openapi_extra=_SOURCE_FORM)
async def edit_video(request: Request, response: Response, principal: Principal = Depends(get_principal),
                     settings: Settings = Depends(get_settings),
                     generation: GenerationService = Depends(get_generation)) -> Video:
    """The source (an upload or one of your videos) re-made under the prompt: its motion and layout carry over."""
    return await _derive(request, response, "edit", principal, settings, generation)


@router.post("/extensions", response_model=Video, responses=errors(404, 413, 415, 422), openapi_extra=_EXTEND_FORM)
async def extend_video(request: Request, response: Response, principal: Principal = Depends(get_principal),
                       settings: Settings = Depends(get_settings),
                       generation: GenerationService = Depends(get_generation)) -> Video:
    """New seconds that continue the source's last frames; the result is the source and the new part, stitched."""
    return await _derive(request, response, "extend", principal, settings, generation)


async def _derive(request: Request, response: Response, operation: str, principal: Principal, settings: Settings,
                  generation: GenerationService) -> Video:
    form = await _source_form(request, settings)
    job = await run_in_threadpool(generation.derive, principal, operation, form)
    response.headers["openai-poll-after-ms"] = POLL_AFTER_MS
    return Video.from_job(job)


@router.post("/{video_id:video_id}/remix", response_model=Video, responses=errors(404))
def remix_video(video_id: str, body: RemixRequest, response: Response, principal: Principal = Depends(get_principal),
                generation: GenerationService = Depends(get_generation)) -> Video:
    """One of your completed videos re-made under a new prompt (video-to-video; ``remixed_from_video_id``)."""
    job = generation.remix(principal, video_id, body.prompt, model=body.model,
                           seed=None if body.seed is None else str(body.seed))
    response.headers["openai-poll-after-ms"] = POLL_AFTER_MS
    return Video.from_job(job)


@router.get("", response_model=VideoPage)
def list_videos(after: str | None = None, limit: int = Query(20, ge=1, le=100),
                order: Literal["asc", "desc"] = "desc",
                principal: Principal = Depends(get_principal),
                generation: GenerationService = Depends(get_generation)) -> VideoPage:
    rows, has_more = generation.list(principal, after=after, limit=limit, order=order)
    data = [Video.from_job(row, retention_hours=generation.video_retention_hours) for row in rows]
    return VideoPage(data=data, has_more=has_more, first_id=data[0].id if data else None,
                     last_id=data[-1].id if data else None)


@router.get("/{video_id:video_id}", response_model=Video, responses=errors(404))
def retrieve_video(video_id: str, response: Response, principal: Principal = Depends(get_principal),
                   generation: GenerationService = Depends(get_generation)) -> Video:
    job = generation.get(principal, video_id)
    if job.status in ("queued", "in_progress"):
        response.headers["openai-poll-after-ms"] = POLL_AFTER_MS
    return Video.from_job(job, retention_hours=generation.video_retention_hours)


@router.delete("/{video_id:video_id}", response_model=VideoDeleted, responses=errors(404))
def delete_video(video_id: str, principal: Principal = Depends(get_principal),
                 generation: GenerationService = Depends(get_generation)) -> VideoDeleted:
    generation.delete(principal, video_id)
    return VideoDeleted(id=video_id)


@router.get("/{video_id:video_id}/content", response_class=Response,
            responses={**binary(["video/mp4", "image/jpeg"],
                                "The video (MP4), its thumbnail (JPEG) or a spritesheet (JPEG: up to 25 evenly spaced "
                                "frames, 5 to a row, left to right)"),
                       **errors(404)})
def download_content(video_id: str, variant: Literal["video", "thumbnail", "spritesheet"] = "video",
                     principal: Principal = Depends(get_principal),
                     generation: GenerationService = Depends(get_generation)) -> Response:
    # With HALLMARK_STORAGE_PRESIGN_SECONDS on S3 storage the client fetches the bytes from the store itself.
    if (url := generation.content_url(principal, video_id, variant)) is not None:
        return RedirectResponse(url, status_code=307)
    pieces, media_type = generation.content_stream(principal, video_id, variant)
    extension = "mp4" if variant == "video" else "jpg"
    name = video_id if variant == "video" else f"{video_id}.{variant}"
    return StreamingResponse(pieces, media_type=media_type,
                             headers={"content-disposition": f'attachment; filename="{name}.{extension}"'})

"""/v1/videos: create, retrieve, list, delete, download — the shape of OpenAI's video API."""

from __future__ import annotations

import re
import secrets

from fastapi import APIRouter, Depends, Request, Response
from fastapi.concurrency import run_in_threadpool

from generator import MAX_SECONDS as GEN_MAX_SECONDS
from generator import MIN_SECONDS as GEN_MIN_SECONDS
from generator import SUPPORTED_SIZES

from ...auth import Principal
from ...errors import InvalidRequest
from ...jobs import JobService, NewVideo
from ...pipeline import moderate
from ...reference_images import inspect_reference
from ...runtime import Runtime
from ..deps import get_jobs, get_principal, get_runtime
from ..forms import file_field, read_form, text_field
from ..schemas import Video, VideoDeleted, VideoPage

router = APIRouter(prefix="/v1/videos", tags=["videos"])

POLL_AFTER_MS = "500"
_SIZE = re.compile(r"^(\d{2,5})x(\d{2,5})$")
MIN_SECONDS, MAX_SECONDS = int(GEN_MIN_SECONDS), int(GEN_MAX_SECONDS)


def parse_seconds(raw: str | None, default: int) -> int:
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise InvalidRequest(f"'seconds' must be a whole number of seconds, got {raw[:40]!r}.", param="seconds")
    if value != int(value) or not MIN_SECONDS <= value <= MAX_SECONDS:
        raise InvalidRequest(f"'seconds' must be a whole number from {MIN_SECONDS} to {MAX_SECONDS}, got {raw!r}.",
                             param="seconds")
    return int(value)


def parse_size(raw: str | None, default: str) -> tuple[int, int]:
    text = (raw or default).strip()
    match = _SIZE.match(text)
    if not match:
        raise InvalidRequest(f"'size' must look like WIDTHxHEIGHT (e.g. '256x256'), got {text[:40]!r}.", param="size")
    size = (int(match.group(1)), int(match.group(2)))
    problem = SUPPORTED_SIZES.problem(size)
    if problem:
        raise InvalidRequest(f"Unsupported size {text!r}: {problem}.", param="size")
    return size


def parse_prompt(raw: str | None, max_chars: int) -> str:
    prompt = (raw or "").strip()
    if not prompt:
        raise InvalidRequest("'prompt' is required and must not be empty.", param="prompt",
                             code="missing_required_parameter" if raw is None else "invalid_value")
    if len(prompt) > max_chars:
        raise InvalidRequest(f"'prompt' is {len(prompt)} characters; the limit is {max_chars}.", param="prompt",
                             code="string_above_max_length")
    return prompt


@router.post("", response_model=Video)
async def create_video(request: Request, response: Response, principal: Principal = Depends(get_principal),
                       rt: Runtime = Depends(get_runtime), jobs: JobService = Depends(get_jobs)) -> Video:
    settings = rt.settings
    form = await read_form(request, max_bytes=settings.max_upload_bytes)
    prompt = parse_prompt(text_field(form, "prompt"), settings.max_prompt_chars)
    seconds = parse_seconds(text_field(form, "seconds"), settings.default_seconds)
    size = parse_size(text_field(form, "size"), settings.default_size)
    seed_raw = text_field(form, "seed")
    try:
        seed = int(seed_raw) if seed_raw not in (None, "") else secrets.randbelow(2**31)
    except ValueError:
        raise InvalidRequest("'seed' must be an integer.", param="seed")
    generator = await run_in_threadpool(lambda: rt.generator)
    model = (text_field(form, "model") or generator.name).strip()
    if model != generator.name:
        raise InvalidRequest(f"Unknown model {model!r}; this gateway serves: {generator.name}.", param="model",
                             code="model_not_found")
    image = await file_field(form, "input_reference", max_bytes=settings.max_upload_bytes, required=False)
    # Decoded (415/422 here), screened for faces and read for a C2PA manifest; stored re-encoded as PNG.
    reference = await run_in_threadpool(inspect_reference, rt, image) if image is not None else None

    decision = await run_in_threadpool(lambda: moderate(rt, prompt=prompt, tenant=principal.tenant,
                                                        actor=principal.actor, reference=reference,
                                                        hold_review=True))
    job = await run_in_threadpool(jobs.create, principal, NewVideo(prompt=prompt, model=model, seconds=seconds,
                                                                  size=size, seed=seed,
                                                                  reference_png=reference.png if reference else None,
                                                                  reference_original=reference.original
                                                                  if reference else None),
                                  decision)
    response.headers["openai-poll-after-ms"] = POLL_AFTER_MS
    return Video.from_job(job)


@router.get("", response_model=VideoPage)
def list_videos(after: str | None = None, limit: int = 20, order: str = "desc",
                principal: Principal = Depends(get_principal), jobs: JobService = Depends(get_jobs)) -> VideoPage:
    rows, has_more = jobs.list(principal, after=after, limit=limit, order=order)
    data = [Video.from_job(row) for row in rows]
    return VideoPage(data=data, has_more=has_more, first_id=data[0].id if data else None,
                     last_id=data[-1].id if data else None)


@router.get("/{video_id}", response_model=Video)
def retrieve_video(video_id: str, response: Response, principal: Principal = Depends(get_principal),
                   jobs: JobService = Depends(get_jobs)) -> Video:
    job = jobs.get(principal, video_id)
    if job.status in ("queued", "in_progress"):
        response.headers["openai-poll-after-ms"] = POLL_AFTER_MS
    return Video.from_job(job)


@router.delete("/{video_id}", response_model=VideoDeleted)
def delete_video(video_id: str, principal: Principal = Depends(get_principal),
                 jobs: JobService = Depends(get_jobs)) -> VideoDeleted:
    jobs.delete(principal, video_id)
    return VideoDeleted(id=video_id)


@router.get("/{video_id}/content")
def download_content(video_id: str, variant: str = "video", principal: Principal = Depends(get_principal),
                     jobs: JobService = Depends(get_jobs)) -> Response:
    data, media_type = jobs.content(principal, video_id, variant)
    extension = "mp4" if variant == "video" else "jpg"
    return Response(content=data, media_type=media_type,
                    headers={"content-disposition": f'attachment; filename="{video_id}.{extension}"'})

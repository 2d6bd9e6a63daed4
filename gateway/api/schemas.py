"""Response bodies (the OpenAI video API shape), separate from the storage rows."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Literal

from pydantic import BaseModel

from ..generation.service import expires_at
from ..store.db import VideoJob


def unix(moment: datetime | None) -> int | None:
    """SQLite hands datetimes back without a zone; they are stored in UTC."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp())


class VideoError(BaseModel):
    code: str
    message: str


class Video(BaseModel):
    id: str
    object: Literal["video"] = "video"
    model: str
    status: Literal["queued", "in_progress", "completed", "failed"]
    progress: int
    created_at: int
    completed_at: int | None
    expires_at: int | None = None
    seconds: str
    size: str
    prompt: str
    remixed_from_video_id: str | None = None
    error: VideoError | None = None
    content_id: str  # Hallmark: the 64-bit id the watermark carries (hex)
    # Hallmark: an operator's review, if any ("expired": none came within HALLMARK_REVIEW_TIMEOUT)
    review: Literal["pending", "approved", "rejected", "expired"] | None = None
    operation: Literal["create", "remix", "edit", "extend"] = "create"  # Hallmark: how the video was made

    @classmethod
    def from_job(cls, job: VideoJob, *, retention_hours: int = 0) -> "Video":
        """``retention_hours``: how long completed videos are served (``expires_at``; 0: until deleted)."""
        error = VideoError(code=job.error_code, message=job.error_message or "") if job.error_code else None
        return cls(
            id=job.id, model=job.model, status=job.status, progress=job.progress,
            created_at=unix(job.created_at) or 0, completed_at=unix(job.completed_at),
            expires_at=unix(expires_at(job, retention_hours)),
            seconds=job.seconds, size=job.size, prompt=job.prompt, error=error, content_id=job.content_id,
            review=job.review, remixed_from_video_id=job.source_video_id, operation=job.operation or "create",
        )


class VideoPage(BaseModel):
    object: Literal["list"] = "list"
    data: list[Video]
    has_more: bool
    first_id: str | None
    last_id: str | None


class VideoDeleted(BaseModel):
    id: str
    object: Literal["video.deleted"] = "video.deleted"
    deleted: bool = True


class ProvenanceCheck(BaseModel):
    id: str
    object: Literal["content_provenance_check"] = "content_provenance_check"
    created_at: int
    generated_by_this_gateway: bool
    verdict: dict  # gateway.verification.assessment.Assessment: origin, content_id, video_id, confidence, altered, evidence
    results: list[dict]
    # Per segment of the clip (one for an image): gateway.verification.timeline.Segment.to_dict
    timeline: list[dict] = []


class Model(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str
    description: str
    alias_of: str | None = None  # Hallmark: this name runs that model (HALLMARK_MODEL_ALIASES)
    matches: str | None = None  # Hallmark: the alias pattern ("sora-2*": every name starting with "sora-2")
    capabilities: list[str] = []  # Hallmark: video-to-video modes (transform: remix/edit; continue: extend)
    # Hallmark: what the model renders natively and how a request's size is reached (None: rendered as asked)
    native: dict | None = None
    sizes: dict | None = None

"""Video generation as a use case: submit (moderate, then create the job), queries, deletion, downloads, operator
reviews, and ``generate_now`` for the CLI, which runs the pipeline in the caller's process.

Jobs live in the database, so a restart loses nothing (``gateway.generation.worker`` runs them).

The audit trail of a job: ``video.queued`` when it is created, then exactly one terminal entry — ``video.completed``
(recorded by the worker once the signed files are stored) or ``video.failed`` with the job's ``code``
(``generation_failed``, a refusal's own code such as ``registered_work_match``, ``interrupted``, ``cancelled``,
``moderation_blocked`` on a rejected review). ``video.generated`` is not terminal: the pipeline records it, with the
provenance details, before the files are stored (and also for ``hallmark generate``, which makes no job), so a job
could still fail or be cancelled after it. ``review.*`` and ``video.deleted`` are an operator's or a client's
actions, recorded beside the terminal entry, not instead of it.

Prompts are kept in the jobs table only as long as needed: removed when the video is deleted, and
``prompt_retention_days`` after the job ended (``purge_prompts``); the audit log has only their SHA-256."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

from sqlalchemy import func, or_, select, update

from ..audit import AuditEvent, AuditLog
from ..core.auth import Principal
from ..core.errors import InvalidRequest, NotFound, NotReady
from ..core.ids import new_content_id, prompt_sha256, video_id_for
from ..core.lazy import Lazy
from ..moderation import Moderation, ModerationService
from ..store.assets import AssetStore
from ..store.db import Database, VideoJob, utcnow
from ..store.queue import JobQueue
from .pipeline import GenerationJob, ProducedVideo, Producer, Progress
from .quotas import TenantQuotas
from .requests import RequestDefaults, VideoForm, parse_video_form

if TYPE_CHECKING:  # the generator package imports torch
    from generator.types import VideoGenerator


@dataclass(frozen=True)
class NewVideo:
    prompt: str
    model: str
    seconds: int
    size: tuple[int, int]
    seed: int
    reference_png: bytes | None = None
    reference_original: bytes | None = None  # the upload as sent, kept when it carries a C2PA manifest


@dataclass(frozen=True)
class GeneratedNow:
    video_id: str
    content_id: int
    video: ProducedVideo


def reference_original_name(reference_path: str) -> str:
    """Where a job keeps its reference upload as sent (for the manifest's ingredient), beside the stored PNG."""
    return reference_path.removesuffix(".png") + ".original"


class GenerationService:
    def __init__(self, *, db: Database, assets: AssetStore, audit: AuditLog, queue: JobQueue,
                 moderation: ModerationService, generator: Lazy[VideoGenerator], producer: Producer,
                 defaults: RequestDefaults, quotas: TenantQuotas, prompt_retention_days: int = 30) -> None:
        self._quotas = quotas
        self._db = db
        self._assets = assets
        self._audit = audit
        self._queue = queue
        self._moderation = moderation
        self._generator = generator
        self._producer = producer
        self._defaults = defaults
        self._prompt_retention = timedelta(days=prompt_retention_days)
        self._create_lock = threading.Lock()  # creation order (seq) is assigned one at a time

    # -- commands ------------------------------------------------------------------------------
    def submit(self, principal: Principal, form: VideoForm) -> VideoJob:
        """Validate the request, moderate it (a review holds the job for an operator), and queue the job."""
        spec = parse_video_form(form, self._defaults)
        self._quotas.check_new_job(principal.tenant, seconds=spec.seconds, size=spec.size)
        generator = self._generator.get()
        model = (form.model or generator.name).strip()
        if model != generator.name:
            raise InvalidRequest(f"Unknown model {model!r}; this gateway serves: {generator.name}.", param="model",
                                 code="model_not_found")
        # Decoded (415/422 here), screened for faces and read for a C2PA manifest; stored re-encoded as PNG.
        reference = (self._moderation.inspect_reference(form.input_reference)
                     if form.input_reference is not None else None)
        decision = self._moderation.moderate(prompt=spec.prompt, tenant=principal.tenant, actor=principal.actor,
                                             reference=reference, hold_review=True)
        return self.create(principal, NewVideo(prompt=spec.prompt, model=model, seconds=spec.seconds,
                                               size=spec.size, seed=spec.seed,
                                               reference_png=reference.png if reference else None,
                                               reference_original=reference.original if reference else None),
                           decision)

    def create(self, principal: Principal, request: NewVideo, moderation: Moderation) -> VideoJob:
        """Store a job the policy has allowed (or sent to review) and wake a worker."""
        content_id = new_content_id()
        video_id = video_id_for(content_id)
        reference_path = None
        if request.reference_png is not None:
            reference_path = f"{video_id}.reference.png"
            self._assets.put(reference_path, request.reference_png)
            if request.reference_original is not None:
                self._assets.put(reference_original_name(reference_path), request.reference_original)
        try:
            with self._create_lock, self._db.session.begin() as session:
                seq = (session.scalar(select(func.max(VideoJob.seq))) or 0) + 1
                job = VideoJob(
                    id=video_id, seq=seq, tenant=principal.tenant, status="queued", progress=0,
                    prompt=request.prompt, prompt_sha256=prompt_sha256(request.prompt), model=request.model,
                    seconds=str(request.seconds), size=f"{request.size[0]}x{request.size[1]}", seed=request.seed,
                    content_id=f"{content_id:016x}", policy=moderation.policy, decision_id=moderation.decision_id,
                    reference_path=reference_path, created_at=utcnow(),
                    review="pending" if moderation.action == "review" else None,
                )
                session.add(job)
        except BaseException:
            # No job row, so nothing may stay behind that only a job would clean up.
            if reference_path is not None:
                self._assets.delete(reference_path)
                self._assets.delete(reference_original_name(reference_path))
            raise
        self._audit.append(AuditEvent(
            event="video.queued", actor=principal.actor, tenant=principal.tenant, object_id=video_id,
            data={"decision_id": moderation.decision_id, "model": request.model, "seconds": request.seconds,
                  "size": job.size, "seed": request.seed, "has_reference": reference_path is not None,
                  "review": job.review},
        ))
        self._queue.notify()
        return job

    def generate_now(self, form: VideoForm, *, tenant: str, actor: str,
                     progress: Progress = lambda _p: None) -> GeneratedNow:
        """Moderate and run the pipeline here, without a job row (``hallmark generate``); a review refuses."""
        spec = parse_video_form(form, self._defaults)
        decision = self._moderation.moderate(prompt=spec.prompt, tenant=tenant, actor=actor)
        content_id = new_content_id()
        job = GenerationJob(video_id=video_id_for(content_id), content_id=content_id, tenant=tenant, actor=actor,
                            prompt=spec.prompt, seconds=spec.seconds, size=spec.size, seed=spec.seed,
                            policy=decision.policy, decision_id=decision.decision_id)
        return GeneratedNow(video_id=job.video_id, content_id=content_id,
                            video=self._producer.produce(job, progress))

    def delete(self, principal: Principal, video_id: str) -> None:
        """Delete the video, its files and its prompt. A job that has not started ends here (``cancelled``); one
        that is running is ended by its worker, which sees the deletion at its next progress report."""
        job = self.get(principal, video_id)
        with self._db.session.begin() as session:
            session.execute(update(VideoJob).where(VideoJob.id == job.id).values(deleted_at=utcnow(), prompt=""))
            # Conditional, so that a worker claiming the job at this moment and this delete cannot both end it.
            cancelled = session.execute(
                update(VideoJob).where(VideoJob.id == job.id, VideoJob.status == "queued")
                .values(status="failed", error_code="cancelled", completed_at=utcnow(),
                        error_message="The video was deleted before it was generated.")
            ).rowcount
        original = reference_original_name(job.reference_path) if job.reference_path else None
        for name in (job.video_path, job.thumbnail_path, job.reference_path, original):
            if name:
                self._assets.delete(name)
        # The registry record and audit entries stay: the video can still be verified as ours.
        self._audit.append(AuditEvent(event="video.deleted", actor=principal.actor, tenant=principal.tenant,
                                      object_id=video_id, data={"status_at_delete": job.status}))
        if cancelled:
            self._audit.append(AuditEvent(event="video.failed", actor=principal.actor, tenant=principal.tenant,
                                          object_id=video_id, data={"code": "cancelled",
                                                                    "error": "deleted before it was generated"}))

    def purge_prompts(self, *, now: datetime | None = None, retention_days: int | None = None) -> int:
        """Blank the prompt of every deleted job and of every job that ended more than the retention period ago
        (0 days: as soon as it ends); returns how many rows changed. The worker runs this at start, hourly and
        after each job; ``hallmark jobs purge-prompts`` on demand."""
        keep = self._prompt_retention if retention_days is None else timedelta(days=retention_days)
        cutoff = (now or utcnow()).astimezone(timezone.utc) - keep  # stored as UTC wall time
        with self._db.session.begin() as session:
            return session.execute(
                update(VideoJob).where(VideoJob.prompt != "", or_(
                    VideoJob.deleted_at.is_not(None),
                    VideoJob.status.in_(("completed", "failed")) & (VideoJob.completed_at <= cutoff),
                )).values(prompt="")
            ).rowcount

    # -- queries -------------------------------------------------------------------------------
    def get(self, principal: Principal, video_id: str) -> VideoJob:
        with self._db.session() as session:
            job = session.get(VideoJob, video_id)
        # Another tenant's job is reported exactly like a missing one: ids must not leak across tenants.
        if job is None or job.deleted_at is not None or job.tenant != principal.tenant:
            raise NotFound(f"No video found with id '{video_id}'.", param="video_id")
        return job

    def list(self, principal: Principal, *, after: str | None, limit: int, order: str) -> tuple[list[VideoJob], bool]:
        if not 1 <= limit <= 100:
            raise InvalidRequest("limit must be between 1 and 100.", param="limit")
        if order not in ("asc", "desc"):
            raise InvalidRequest("order must be 'asc' or 'desc'.", param="order")
        with self._db.session() as session:
            query = select(VideoJob).where(VideoJob.tenant == principal.tenant, VideoJob.deleted_at.is_(None))
            if after:
                cursor = session.get(VideoJob, after)
                if cursor is None or cursor.tenant != principal.tenant:
                    raise InvalidRequest(f"'after' names no video of yours: '{after}'.", param="after")
                query = query.where(VideoJob.seq > cursor.seq if order == "asc" else VideoJob.seq < cursor.seq)
            query = query.order_by(VideoJob.seq.asc() if order == "asc" else VideoJob.seq.desc()).limit(limit + 1)
            rows = list(session.scalars(query))
        return rows[:limit], len(rows) > limit

    def content(self, principal: Principal, video_id: str, variant: str) -> tuple[bytes, str]:
        if variant not in ("video", "thumbnail"):
            raise InvalidRequest("variant must be 'video' or 'thumbnail'.", param="variant")
        job = self.get(principal, video_id)
        if job.status != "completed":
            raise NotReady(f"Video '{video_id}' is {job.status}; content is available once it is completed.",
                           param="video_id")
        name = job.video_path if variant == "video" else job.thumbnail_path
        if not name or not self._assets.exists(name):
            raise NotFound(f"The {variant} of '{video_id}' is no longer stored.", param="video_id")
        return self._assets.get(name), "video/mp4" if variant == "video" else "image/jpeg"

    # -- review (an operator decides on jobs the policy sent to review) -------------------------
    def pending_reviews(self) -> list[VideoJob]:
        with self._db.session() as session:
            return list(session.scalars(select(VideoJob).where(VideoJob.review == "pending",
                                                               VideoJob.deleted_at.is_(None))
                                        .order_by(VideoJob.seq)))

    def decide_review(self, video_id: str, *, approve: bool, actor: str, reason: str = "") -> VideoJob:
        """Approve (the job becomes runnable) or reject (the job ends: ``review.rejected``, then its terminal
        ``video.failed`` with ``moderation_blocked``)."""
        message = "Rejected on review" + (f": {reason}" if reason else ".")
        values: dict = {"review": "approved"} if approve else {
            "review": "rejected", "status": "failed", "error_code": "moderation_blocked", "error_message": message,
            "completed_at": utcnow()}
        with self._db.session.begin() as session:
            job = session.get(VideoJob, video_id)
            # Conditional: two operators deciding at once, or a delete in between, decide (and audit) once.
            decided = job is not None and session.execute(
                update(VideoJob).where(VideoJob.id == video_id, VideoJob.deleted_at.is_(None),
                                       VideoJob.review == "pending").values(**values)
            ).rowcount
        if not decided:
            raise NotFound(f"No video awaiting review with id '{video_id}'.", param="video_id")
        self._audit.append(AuditEvent(event="review.approved" if approve else "review.rejected", actor=actor,
                                      tenant=job.tenant, object_id=video_id,
                                      data={"decision_id": job.decision_id, "reason": reason}))
        if approve:
            self._queue.notify()
        else:
            self._audit.append(AuditEvent(event="video.failed", actor=actor, tenant=job.tenant, object_id=video_id,
                                          data={"code": "moderation_blocked", "error": message}))
            if not self._prompt_retention:
                self.purge_prompts()
        with self._db.session() as session:
            return session.get(VideoJob, video_id)

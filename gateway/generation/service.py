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
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

from sqlalchemy import or_, select, update

from ..audit import AuditEvent, AuditLog
from ..core import request_id
from ..core.auth import Principal
from ..core.errors import InvalidRequest, NotFound, NotReady
from ..core.ids import new_content_id, prompt_sha256, video_id_for
from ..core.lazy import Lazy
from ..moderation import Moderation, ModerationService
from ..store.assets import AssetStore
from ..store.db import Database, VideoJob, next_job_seq, utcnow
from ..store.queue import JobQueue
from .models import OPENAI_DEFAULT_SIZE, ModelCatalog, ResolvedModel
from .pipeline import GenerationJob, ProducedVideo, Producer, Progress
from .quotas import TenantQuotas
from .requests import (
    MAX_SECONDS,
    RequestDefaults,
    SourceForm,
    VideoForm,
    parse_prompt,
    parse_seconds,
    parse_seed,
    parse_video_form,
)
from .sources import MAX_EXTENDED_SECONDS, output_size_for, source_seconds

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
    operation: str = "create"  # remix | edit | extend: video-to-video from ``source``
    source: bytes | None = None  # the source clip's file, as sent or as we stored it
    source_video_id: str | None = None  # when the source is one of our videos
    requested_model: str | None = None  # the alias the request named, if it named one


@dataclass(frozen=True)
class GeneratedNow:
    video_id: str
    content_id: int
    video: ProducedVideo


def reference_original_name(reference_path: str) -> str:
    """Where a job keeps its reference upload as sent (for the manifest's ingredient), beside the stored PNG."""
    return reference_path.removesuffix(".png") + ".original"


def expires_at(job: VideoJob, retention_hours: int) -> datetime | None:
    """When a completed video's files stop being served (None: kept until deleted)."""
    if not retention_hours or job.status != "completed" or job.completed_at is None:
        return None
    completed = job.completed_at if job.completed_at.tzinfo else job.completed_at.replace(tzinfo=timezone.utc)
    return completed + timedelta(hours=retention_hours)


class GenerationService:
    def __init__(self, *, db: Database, assets: AssetStore, audit: AuditLog, queue: JobQueue,
                 moderation: ModerationService, generator: Lazy[VideoGenerator], producer: Producer,
                 defaults: RequestDefaults, quotas: TenantQuotas, prompt_retention_days: int = 30,
                 models: ModelCatalog | None = None, review_timeout: int = 0, video_retention_hours: int = 0) -> None:
        """``review_timeout``: seconds a held job waits for an operator (0: until decided);
        ``video_retention_hours``: how long a completed video's files are served (0: until deleted)."""
        self._quotas = quotas
        self._models = models or ModelCatalog([])
        self._review_timeout = timedelta(seconds=review_timeout)
        self.video_retention_hours = video_retention_hours
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
        model = self.resolve_model(form.model)
        # Code written for OpenAI's API that names no size expects OpenAI's default shape back.
        spec = parse_video_form(form, self._defaults, default_size=OPENAI_DEFAULT_SIZE if model.openai_name else None)
        self._quotas.check_new_job(principal.tenant, seconds=spec.seconds, size=spec.size)
        # Decoded (415/422 here), screened for faces and read for a C2PA manifest; stored re-encoded as PNG.
        reference = (self._moderation.inspect_reference(form.input_reference)
                     if form.input_reference is not None else None)
        decision = self._moderation.moderate(prompt=spec.prompt, tenant=principal.tenant, actor=principal.actor,
                                             reference=reference, hold_review=True, characters=form.characters)
        return self.create(principal, NewVideo(prompt=spec.prompt, model=model.name, seconds=spec.seconds,
                                               size=spec.size, seed=spec.seed,
                                               reference_png=reference.png if reference else None,
                                               reference_original=reference.original if reference else None,
                                               requested_model=model.alias),
                           decision)

    def resolve_model(self, requested: str | None) -> ResolvedModel:
        """The served model, reached by its own name or an alias (400 ``model_not_found`` otherwise)."""
        return self._models.resolve(requested, self._generator.get().name)

    def model_aliases(self, served: str) -> list[tuple[str, str]]:
        """(alias pattern, model it runs) for each configured alias that reaches the served model."""
        return self._models.listed(served)

    def remix(self, principal: Principal, video_id: str, prompt: str | None, *, model: str | None = None,
              seed: str | None = None) -> VideoJob:
        """OpenAI's remix: one of the tenant's completed videos, re-made under a new prompt (video-to-video)."""
        return self.derive(principal, "remix", SourceForm(prompt=prompt, video_id=video_id, model=model, seed=seed))

    def derive(self, principal: Principal, operation: str, form: SourceForm) -> VideoJob:
        """remix / edit (the source is transformed under the prompt) or extend (new seconds continue it): moderate
        the prompt and the source's frames, then queue a job that keeps the source clip for the worker."""
        from generator import CONTINUE, TRANSFORM, capabilities_of

        prompt = parse_prompt(form.prompt, self._defaults.max_prompt_chars)
        seed = parse_seed(form.seed)
        model = self.resolve_model(form.model)
        generator = self._generator.get()
        needed = CONTINUE if operation == "extend" else TRANSFORM
        if needed not in capabilities_of(generator):
            raise InvalidRequest(f"Model {generator.name!r} cannot {operation} videos (it has no video-to-video "
                                 f"'{needed}' mode).", param="model", code="unsupported_operation")
        if (form.video is None) == (form.video_id is None):
            raise InvalidRequest("'video' must be either an uploaded video file or {\"id\": \"<video id>\"} naming "
                                 "one of your completed videos.", param="video",
                                 code="missing_required_parameter" if form.video is None else "invalid_value")
        if form.video_id is not None:  # one of the tenant's completed videos (404 for anyone else's)
            data, _mime = self.content(principal, form.video_id, "video")
        else:
            data = form.video
        clip = self._moderation.inspect_source(data, param="video")
        if clip.seconds > MAX_SECONDS + 0.5:
            raise InvalidRequest(f"The source video is {clip.seconds:.1f} s long; a source may be at most "
                                 f"{MAX_SECONDS} s.", param="video")
        size = output_size_for(clip.width, clip.height)
        clip_seconds = source_seconds(clip.seconds)
        if operation == "extend":
            if form.seconds is None or not form.seconds.strip():
                raise InvalidRequest("'seconds' (the length of the new segment) is required to extend a video.",
                                     param="seconds", code="missing_required_parameter")
            new_seconds = parse_seconds(form.seconds, self._defaults.seconds)
            seconds = clip_seconds + new_seconds
            if seconds > MAX_EXTENDED_SECONDS:
                raise InvalidRequest(f"The extended video would be {seconds} s long; at most {MAX_EXTENDED_SECONDS} s "
                                     f"are allowed.", param="seconds")
        else:
            seconds = clip_seconds
        self._quotas.check_new_job(principal.tenant, seconds=seconds, size=size)
        decision = self._moderation.moderate(prompt=prompt, tenant=principal.tenant, actor=principal.actor,
                                             reference=clip, hold_review=True)
        return self.create(principal, NewVideo(prompt=prompt, model=model.name, seconds=seconds, size=size,
                                               seed=seed, operation=operation, source=data,
                                               source_video_id=form.video_id, requested_model=model.alias),
                           decision)

    def create(self, principal: Principal, request: NewVideo, moderation: Moderation) -> VideoJob:
        """Store a job the policy has allowed (or sent to review) and wake a worker."""
        content_id = new_content_id()
        video_id = video_id_for(content_id)
        reference_path = source_path = None
        if request.source is not None:
            source_path = f"{video_id}.source"
            self._assets.put(source_path, request.source)
        if request.reference_png is not None:
            reference_path = f"{video_id}.reference.png"
            self._assets.put(reference_path, request.reference_png)
            if request.reference_original is not None:
                self._assets.put(reference_original_name(reference_path), request.reference_original)
        try:
            with self._create_lock, self._db.session.begin() as session:
                seq = next_job_seq(session)
                job = VideoJob(
                    id=video_id, seq=seq, tenant=principal.tenant, status="queued", progress=0,
                    prompt=request.prompt, prompt_sha256=prompt_sha256(request.prompt), model=request.model,
                    seconds=str(request.seconds), size=f"{request.size[0]}x{request.size[1]}", seed=request.seed,
                    content_id=f"{content_id:016x}", policy=moderation.policy, decision_id=moderation.decision_id,
                    reference_path=reference_path, created_at=utcnow(),
                    review="pending" if moderation.action == "review" else None,
                    operation=request.operation, source_path=source_path, source_video_id=request.source_video_id,
                    request_id=request_id.current(),
                )
                session.add(job)
        except BaseException:
            # No job row, so nothing may stay behind that only a job would clean up.
            if source_path is not None:
                self._assets.delete(source_path)
            if reference_path is not None:
                self._assets.delete(reference_path)
                self._assets.delete(reference_original_name(reference_path))
            raise
        self._audit.append(AuditEvent(
            event="video.queued", actor=principal.actor, tenant=principal.tenant, object_id=video_id,
            data={"decision_id": moderation.decision_id, "model": request.model, "seconds": request.seconds,
                  "size": job.size, "seed": request.seed, "has_reference": reference_path is not None,
                  "review": job.review, "operation": request.operation, "source_video_id": request.source_video_id,
                  "requested_model": request.requested_model},
        ))
        self._queue.notify(job.id, job.model)
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
        for name in (job.video_path, job.thumbnail_path, job.spritesheet_path, job.reference_path, original,
                     job.source_path):
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

    def housekeeping(self) -> None:
        """What the worker runs at start, after each job and hourly: prompts past retention, reviews past their
        timeout, video files past theirs."""
        self.purge_prompts()
        self.expire_reviews()
        self.expire_content()

    def expire_reviews(self, *, tenant: str | None = None, video_id: str | None = None) -> int:
        """Fail every job held for review longer than the review timeout (``moderation_review_timeout``), so a
        client polling it (the OpenAI SDK's ``create_and_poll`` has no timeout of its own) gets an answer. The
        review leaves the operator's queue as ``expired``. Returns how many jobs ended."""
        if not self._review_timeout:
            return 0
        cutoff = utcnow() - self._review_timeout
        held = [VideoJob.review == "pending", VideoJob.status == "queued", VideoJob.created_at <= cutoff]
        if tenant is not None:
            held.append(VideoJob.tenant == tenant)
        if video_id is not None:
            held.append(VideoJob.id == video_id)
        seconds = int(self._review_timeout.total_seconds())
        message = (f"No operator reviewed this request within {seconds} s (HALLMARK_REVIEW_TIMEOUT); it was not "
                   "generated. Ask the operator to review such requests sooner, or send it again later.")
        ended = []
        with self._db.session.begin() as session:
            for job in session.scalars(select(VideoJob).where(*held)):
                # Conditional, per job: an operator deciding at this moment wins or loses cleanly.
                # (No in-session sync: SQLite hands back naive datetimes that cannot be compared with the cutoff.)
                if session.execute(update(VideoJob).where(VideoJob.id == job.id, *held).values(
                        review="expired", status="failed", error_code="moderation_review_timeout",
                        error_message=message, completed_at=utcnow())
                        .execution_options(synchronize_session=False)).rowcount:
                    ended.append((job.id, job.tenant, job.decision_id))
        for job_id, job_tenant, decision_id in ended:
            self._audit.append(AuditEvent(event="review.expired", actor="system", tenant=job_tenant, object_id=job_id,
                                          data={"decision_id": decision_id, "timeout_seconds": seconds}))
            self._audit.append(AuditEvent(event="video.failed", actor="system", tenant=job_tenant, object_id=job_id,
                                          data={"code": "moderation_review_timeout", "error": message}))
        return len(ended)

    def expire_content(self, *, now: datetime | None = None) -> int:
        """Delete the files of every completed video older than the video retention (the job row, the registry
        record and the audit trail stay: the video can still be verified). Returns how many videos lost files."""
        if not self.video_retention_hours:
            return 0
        cutoff = (now or utcnow()).astimezone(timezone.utc) - timedelta(hours=self.video_retention_hours)
        with self._db.session.begin() as session:
            jobs = list(session.scalars(select(VideoJob).where(
                VideoJob.status == "completed", VideoJob.completed_at <= cutoff, VideoJob.video_path.is_not(None))))
            # The names are read before the update clears them on these same objects.
            files = [name for job in jobs for name in (job.video_path, job.thumbnail_path, job.spritesheet_path,
                                                       job.source_path) if name]
            session.execute(update(VideoJob).where(VideoJob.id.in_([job.id for job in jobs])).values(
                video_path=None, thumbnail_path=None, spritesheet_path=None, source_path=None))
        for name in files:
            self._assets.delete(name)
        return len(jobs)

    # -- queries -------------------------------------------------------------------------------
    def get(self, principal: Principal, video_id: str) -> VideoJob:
        with self._db.session() as session:
            job = session.get(VideoJob, video_id)
        # Another tenant's job is reported exactly like a missing one: ids must not leak across tenants.
        if job is None or job.deleted_at is not None or job.tenant != principal.tenant:
            raise NotFound(f"No video found with id '{video_id}'.", param="video_id")
        if job.review == "pending" and self.expire_reviews(video_id=job.id):
            with self._db.session() as session:
                job = session.get(VideoJob, video_id)
        return job

    def list(self, principal: Principal, *, after: str | None, limit: int, order: str) -> tuple[list[VideoJob], bool]:
        if not 1 <= limit <= 100:
            raise InvalidRequest("limit must be between 1 and 100.", param="limit")
        if order not in ("asc", "desc"):
            raise InvalidRequest("order must be 'asc' or 'desc'.", param="order")
        self.expire_reviews(tenant=principal.tenant)
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
        pieces, media_type = self.content_stream(principal, video_id, variant)
        return b"".join(pieces), media_type

    def content_stream(self, principal: Principal, video_id: str, variant: str) -> tuple[Iterator[bytes], str]:
        """The content in pieces, as the store reads it (a download never holds a whole video in memory)."""
        job, name = self._stored_content(principal, video_id, variant)
        if name is None:  # a video made before spritesheets were kept
            return iter([self._spritesheet_from_video(job)]), "image/jpeg"
        try:
            pieces = self._assets.stream(name)
        except FileNotFoundError:  # deleted between the check and the read
            raise NotFound(f"The {variant} of '{video_id}' is no longer stored.", param="video_id") from None
        return pieces, "video/mp4" if variant == "video" else "image/jpeg"

    def content_url(self, principal: Principal, video_id: str, variant: str) -> str | None:
        """Where the client may fetch the content straight from the object store (a presigned URL), or None when
        the API serves it itself. The same checks as ``content``."""
        _job, name = self._stored_content(principal, video_id, variant)
        return None if name is None else self._assets.download_url(name)

    def _stored_content(self, principal: Principal, video_id: str, variant: str) -> tuple[VideoJob, str | None]:
        """The job and the asset name of its ``variant`` (None: a spritesheet to make from the stored video)."""
        if variant not in ("video", "thumbnail", "spritesheet"):
            raise InvalidRequest("variant must be 'video', 'thumbnail' or 'spritesheet'.", param="variant")
        job = self.get(principal, video_id)
        if job.status != "completed":
            raise NotReady(f"Video '{video_id}' is {job.status}; content is available once it is completed.",
                           param="video_id")
        expiry = expires_at(job, self.video_retention_hours)
        if expiry is not None and expiry <= utcnow():
            raise NotFound(f"The files of '{video_id}' expired at {expiry.isoformat()} and are no longer served.",
                           param="video_id", code="video_expired")
        name = {"video": job.video_path, "thumbnail": job.thumbnail_path, "spritesheet": job.spritesheet_path}[variant]
        if variant == "spritesheet" and not name and job.video_path and self._assets.exists(job.video_path):
            return job, None
        if not name or not self._assets.exists(name):
            raise NotFound(f"The {variant} of '{video_id}' is no longer stored.", param="video_id")
        return job, name

    def _spritesheet_from_video(self, job: VideoJob) -> bytes:
        from ..media import decode_media, spritesheet_jpeg

        return spritesheet_jpeg(decode_media(self._assets.get(job.video_path)).frames)

    # -- review (an operator decides on jobs the policy sent to review) -------------------------
    def pending_reviews(self) -> list[VideoJob]:
        self.expire_reviews()
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
            self._queue.notify(job.id, job.model)
        else:
            self._audit.append(AuditEvent(event="video.failed", actor=actor, tenant=job.tenant, object_id=video_id,
                                          data={"code": "moderation_blocked", "error": message}))
            if not self._prompt_retention:
                self.purge_prompts()
        with self._db.session() as session:
            return session.get(VideoJob, video_id)

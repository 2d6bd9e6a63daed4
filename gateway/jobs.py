"""Video jobs: creation, queries, and the in-process worker that runs the pipeline.

Jobs live in the database, so a restart loses nothing: queued jobs still run, and a job that was
``in_progress`` when the process died is queued again (or failed with a reason once it has used
``max_attempts`` runs) — never left ``in_progress`` forever.
"""

from __future__ import annotations

import io
import logging
import threading
import time
from dataclasses import dataclass

import numpy as np
from PIL import Image
from sqlalchemy import func, or_, select, update

from .audit import AuditEvent
from .auth import Principal
from .db import VideoJob, utcnow
from .errors import GatewayError, InvalidRequest, NotFound, NotReady
from .pipeline import GenerationJob, Moderation, new_content_id, produce, prompt_sha256, video_id_for
from .runtime import Runtime

log = logging.getLogger("hallmark.jobs")


class JobCancelled(Exception):
    """The job was deleted while it ran."""


@dataclass(frozen=True)
class NewVideo:
    prompt: str
    model: str
    seconds: int
    size: tuple[int, int]
    seed: int
    reference_png: bytes | None = None
    reference_original: bytes | None = None  # the upload as sent, kept when it carries a C2PA manifest


def reference_original_name(reference_path: str) -> str:
    """Where a job keeps its reference upload as sent (for the manifest's ingredient), beside the stored PNG."""
    return reference_path.removesuffix(".png") + ".original"


class JobService:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self._wake = threading.Event()
        self._create_lock = threading.Lock()  # creation order (seq) is assigned one at a time

    # -- commands ------------------------------------------------------------------------------
    def create(self, principal: Principal, request: NewVideo, moderation: Moderation) -> VideoJob:
        content_id = new_content_id()
        video_id = video_id_for(content_id)
        reference_path = None
        if request.reference_png is not None:
            reference_path = f"{video_id}.reference.png"
            self.rt.assets.put(reference_path, request.reference_png)
            if request.reference_original is not None:
                self.rt.assets.put(reference_original_name(reference_path), request.reference_original)
        with self._create_lock, self.rt.db.session.begin() as session:
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
        self.rt.audit.append(AuditEvent(
            event="video.queued", actor=principal.actor, tenant=principal.tenant, object_id=video_id,
            data={"decision_id": moderation.decision_id, "model": request.model, "seconds": request.seconds,
                  "size": job.size, "seed": request.seed, "has_reference": reference_path is not None,
                  "review": job.review},
        ))
        self._wake.set()
        return job

    def get(self, principal: Principal, video_id: str) -> VideoJob:
        with self.rt.db.session() as session:
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
        with self.rt.db.session() as session:
            query = select(VideoJob).where(VideoJob.tenant == principal.tenant, VideoJob.deleted_at.is_(None))
            if after:
                cursor = session.get(VideoJob, after)
                if cursor is None or cursor.tenant != principal.tenant:
                    raise InvalidRequest(f"'after' names no video of yours: '{after}'.", param="after")
                query = query.where(VideoJob.seq > cursor.seq if order == "asc" else VideoJob.seq < cursor.seq)
            query = query.order_by(VideoJob.seq.asc() if order == "asc" else VideoJob.seq.desc()).limit(limit + 1)
            rows = list(session.scalars(query))
        return rows[:limit], len(rows) > limit

    def delete(self, principal: Principal, video_id: str) -> None:
        job = self.get(principal, video_id)
        with self.rt.db.session.begin() as session:
            session.execute(update(VideoJob).where(VideoJob.id == job.id).values(deleted_at=utcnow()))
        original = reference_original_name(job.reference_path) if job.reference_path else None
        for name in (job.video_path, job.thumbnail_path, job.reference_path, original):
            if name:
                self.rt.assets.delete(name)
        # The registry record and audit entries stay: the video can still be verified as ours.
        self.rt.audit.append(AuditEvent(event="video.deleted", actor=principal.actor, tenant=principal.tenant,
                                        object_id=video_id, data={"status_at_delete": job.status}))

    def content(self, principal: Principal, video_id: str, variant: str) -> tuple[bytes, str]:
        if variant not in ("video", "thumbnail"):
            raise InvalidRequest("variant must be 'video' or 'thumbnail'.", param="variant")
        job = self.get(principal, video_id)
        if job.status != "completed":
            raise NotReady(f"Video '{video_id}' is {job.status}; content is available once it is completed.",
                           param="video_id")
        name = job.video_path if variant == "video" else job.thumbnail_path
        if not name or not self.rt.assets.exists(name):
            raise NotFound(f"The {variant} of '{video_id}' is no longer stored.", param="video_id")
        data = self.rt.assets.get(name)
        return data, "video/mp4" if variant == "video" else "image/jpeg"

    # -- worker side ---------------------------------------------------------------------------
    def recover(self) -> None:
        """Run at start-up: requeue interrupted jobs, or fail those that used all their attempts."""
        limit = self.rt.settings.max_attempts
        with self.rt.db.session.begin() as session:
            stuck = list(session.scalars(select(VideoJob).where(VideoJob.status == "in_progress")))
            for job in stuck:
                if job.attempts >= limit:
                    job.status = "failed"
                    job.error_code = "interrupted"
                    job.error_message = (f"The gateway stopped while this video was being generated, "
                                         f"{job.attempts} time(s); it was not retried again.")
                    job.completed_at = utcnow()
                else:
                    job.status = "queued"
                    job.progress = 0
        for job in stuck:
            log.warning("job %s was interrupted; now %s", job.id, job.status)

    def claim_next(self) -> VideoJob | None:
        with self.rt.db.session.begin() as session:
            job = session.scalars(
                select(VideoJob).where(VideoJob.status == "queued", VideoJob.deleted_at.is_(None),
                                       or_(VideoJob.review.is_(None), VideoJob.review == "approved"))
                .order_by(VideoJob.seq).limit(1)
            ).first()
            if job is None:
                return None
            # Conditional update: with several workers (or processes) only one claims the job.
            claimed = session.execute(
                update(VideoJob).where(VideoJob.id == job.id, VideoJob.status == "queued")
                .values(status="in_progress", attempts=VideoJob.attempts + 1, progress=1)
            ).rowcount
        if not claimed:
            return None
        with self.rt.db.session() as session:
            return session.get(VideoJob, job.id)

    def run(self, job: VideoJob) -> None:
        last = {"value": -1, "time": 0.0}

        def progress(percent: int) -> None:
            now = time.monotonic()
            if percent == last["value"] or (now - last["time"] < 0.2 and percent < 99):
                return
            last.update(value=percent, time=now)
            with self.rt.db.session.begin() as session:
                deleted = session.scalar(select(VideoJob.deleted_at).where(VideoJob.id == job.id))
                if deleted is not None:
                    raise JobCancelled(job.id)
                session.execute(update(VideoJob).where(VideoJob.id == job.id)
                                .values(progress=max(1, min(99, percent))))

        width, height = (int(v) for v in job.size.split("x"))
        reference = original = None
        if job.reference_path:
            reference = np.asarray(Image.open(io.BytesIO(self.rt.assets.get(job.reference_path))).convert("RGB"))
            if self.rt.assets.exists(reference_original_name(job.reference_path)):
                original = self.rt.assets.get(reference_original_name(job.reference_path))
        task = GenerationJob(
            video_id=job.id, content_id=int(job.content_id, 16), tenant=job.tenant, actor="worker",
            prompt=job.prompt, seconds=int(job.seconds), size=(width, height), seed=job.seed,
            policy=job.policy, decision_id=job.decision_id, reference_image=reference, reference_original=original,
        )
        try:
            result = produce(self.rt, task, progress)
        except JobCancelled:
            log.info("job %s deleted while running", job.id)
            self._finish(job.id, status="failed", error_code="cancelled",
                         error_message="The video was deleted while it was being generated.")
            return
        except GatewayError as exc:  # a refusal with its own code (e.g. the output matches a registered work)
            self._finish(job.id, status="failed", error_code=exc.code or "generation_failed", error_message=exc.message)
            return
        except Exception as exc:  # the job fails with a reason; the worker lives on
            log.exception("job %s failed", job.id)
            self._finish(job.id, status="failed", error_code="generation_failed",
                         error_message=f"{type(exc).__name__}: {exc}")
            self.rt.audit.append(AuditEvent(event="video.failed", actor="worker", tenant=job.tenant,
                                            object_id=job.id, data={"error": f"{type(exc).__name__}: {exc}"}))
            return
        self.rt.assets.put(f"{job.id}.mp4", result.mp4)
        self.rt.assets.put(f"{job.id}.jpg", result.thumbnail)
        self._finish(job.id, status="completed", video_path=f"{job.id}.mp4", thumbnail_path=f"{job.id}.jpg")

    def _finish(self, video_id: str, **values) -> None:
        with self.rt.db.session.begin() as session:
            values.setdefault("progress", 100)
            session.execute(update(VideoJob).where(VideoJob.id == video_id)
                            .values(completed_at=utcnow(), **values))

    # -- review (an operator decides on jobs the policy sent to review) -------------------------
    def pending_reviews(self) -> list[VideoJob]:
        with self.rt.db.session() as session:
            return list(session.scalars(select(VideoJob).where(VideoJob.review == "pending",
                                                               VideoJob.deleted_at.is_(None))
                                        .order_by(VideoJob.seq)))

    def decide_review(self, video_id: str, *, approve: bool, actor: str, reason: str = "") -> VideoJob:
        with self.rt.db.session.begin() as session:
            job = session.get(VideoJob, video_id)
            if job is None or job.deleted_at is not None or job.review != "pending":
                raise NotFound(f"No video awaiting review with id '{video_id}'.", param="video_id")
            job.review = "approved" if approve else "rejected"
            if not approve:
                job.status = "failed"
                job.error_code = "moderation_blocked"
                job.error_message = "Rejected on review" + (f": {reason}" if reason else ".")
                job.completed_at = utcnow()
        self.rt.audit.append(AuditEvent(event="review.approved" if approve else "review.rejected", actor=actor,
                                        tenant=job.tenant, object_id=video_id,
                                        data={"decision_id": job.decision_id, "reason": reason}))
        self._wake.set()
        with self.rt.db.session() as session:
            return session.get(VideoJob, video_id)

    def wait_for_work(self, timeout: float) -> None:
        self._wake.wait(timeout)
        self._wake.clear()


class Worker:
    """In-process worker threads. Generation is CPU-bound torch work; one thread is the default."""

    def __init__(self, jobs: JobService, count: int) -> None:
        self.jobs = jobs
        self.count = count
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        self.jobs.recover()
        for n in range(self.count):
            thread = threading.Thread(target=self._loop, name=f"hallmark-worker-{n}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self.jobs._wake.set()
        for thread in self._threads:
            thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                job = self.jobs.claim_next()
            except Exception:  # database briefly unavailable: back off, keep the worker alive
                log.exception("claiming a job failed")
                job = None
            if job is None:
                self.jobs.wait_for_work(1.0)
                continue
            self.jobs.run(job)

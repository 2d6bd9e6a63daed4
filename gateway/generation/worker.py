"""Running jobs: claim the next runnable job, run the pipeline on it, store what it made, and recover after a crash.

Jobs live in the database, so a restart loses nothing: queued jobs still run, and a job that was ``in_progress`` when
the process died is queued again (or failed with a reason once it has used ``max_attempts`` runs) — never left
``in_progress`` forever."""

from __future__ import annotations

import io
import logging
import threading
import time
from datetime import datetime
from typing import Callable

import numpy as np
from PIL import Image
from sqlalchemy import func, or_, select, update

from ..audit import AuditEvent, AuditLog
from ..core.errors import GatewayError
from ..core.redact import without_paths
from ..store.assets import AssetStore
from ..store.db import Database, TenantScheduleRow, VideoJob, utcnow
from ..store.queue import JobQueue
from .pipeline import GenerationJob, Producer
from .service import reference_original_name

log = logging.getLogger("hallmark.jobs")


class JobCancelled(Exception):
    """The job was deleted while it ran."""


class JobRunner:
    def __init__(self, *, db: Database, assets: AssetStore, audit: AuditLog, producer: Producer,
                 max_attempts: int, running_limit: Callable[[str], int] = lambda _tenant: 0) -> None:
        """``running_limit``: how many of a tenant's jobs may run at once (0: no limit)."""
        self._db = db
        self._assets = assets
        self._audit = audit
        self._producer = producer
        self._max_attempts = max_attempts
        self._running_limit = running_limit

    def recover(self) -> None:
        """Run at start-up: requeue interrupted jobs, or fail those that used all their attempts."""
        with self._db.session.begin() as session:
            stuck = list(session.scalars(select(VideoJob).where(VideoJob.status == "in_progress")))
            for job in stuck:
                if job.deleted_at is not None:  # deleted while it ran, and no worker lived to see it
                    job.status = "failed"
                    job.error_code = "cancelled"
                    job.error_message = "The video was deleted while it was being generated."
                    job.completed_at = utcnow()
                elif job.attempts >= self._max_attempts:
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
            if job.status == "failed":
                self._audit.append(AuditEvent(event="video.failed", actor="system", tenant=job.tenant,
                                              object_id=job.id, data={"code": job.error_code,
                                                                      "attempts": job.attempts,
                                                                      "error": job.error_message}))

    def claim_next(self) -> VideoJob | None:
        """Claim the oldest runnable job of the tenant served longest ago (among tenants under their running
        limit); None when nothing can run now."""
        runnable = (VideoJob.status == "queued", VideoJob.deleted_at.is_(None),
                    or_(VideoJob.review.is_(None), VideoJob.review == "approved"))
        with self._db.session.begin() as session:
            oldest = dict(session.execute(select(VideoJob.tenant, func.min(VideoJob.seq)).where(*runnable)
                                          .group_by(VideoJob.tenant)).all())
            if not oldest:
                return None
            running = dict(session.execute(select(VideoJob.tenant, func.count()).where(
                VideoJob.status == "in_progress", VideoJob.tenant.in_(list(oldest))).group_by(VideoJob.tenant)).all())
            eligible = [t for t in oldest if not (limit := self._running_limit(t)) or running.get(t, 0) < limit]
            if not eligible:
                return None
            # The tenant served longest ago goes first (never served: first of all), so one tenant's backlog delays
            # another's next job by at most the jobs already running.
            served = dict(session.execute(select(TenantScheduleRow.tenant, TenantScheduleRow.last_claimed_at)
                                          .where(TenantScheduleRow.tenant.in_(eligible))).all())
            tenant = min(eligible, key=lambda t: (served[t].replace(tzinfo=None) if t in served else datetime.min,
                                                  oldest[t]))
            job = session.scalars(select(VideoJob).where(VideoJob.tenant == tenant, VideoJob.seq == oldest[tenant],
                                                         *runnable)).first()
            if job is None:
                return None
            # Conditional update: with several workers (or processes) only one claims the job.
            claimed = session.execute(
                update(VideoJob).where(VideoJob.id == job.id, VideoJob.status == "queued")
                .values(status="in_progress", attempts=VideoJob.attempts + 1, progress=1)
            ).rowcount
            if claimed:
                session.merge(TenantScheduleRow(tenant=tenant, last_claimed_at=utcnow()))
        if not claimed:
            return None
        with self._db.session() as session:
            return session.get(VideoJob, job.id)

    def run(self, job: VideoJob) -> None:
        last = {"value": -1, "time": 0.0}

        def progress(percent: int) -> None:
            now = time.monotonic()
            if percent == last["value"] or (now - last["time"] < 0.2 and percent < 99):
                return
            last.update(value=percent, time=now)
            with self._db.session.begin() as session:
                deleted = session.scalar(select(VideoJob.deleted_at).where(VideoJob.id == job.id))
                if deleted is not None:
                    raise JobCancelled(job.id)
                session.execute(update(VideoJob).where(VideoJob.id == job.id)
                                .values(progress=max(1, min(99, percent))))

        try:
            result = self._producer.produce(self._task(job), progress)
        except JobCancelled:
            log.info("job %s deleted while running", job.id)
            self._fail(job, "cancelled", "The video was deleted while it was being generated.")
            return
        except GatewayError as exc:  # a refusal with its own code (e.g. the output matches a registered work)
            self._fail(job, exc.code or "generation_failed", exc.message)
            return
        except Exception as exc:  # the job fails with a reason; the worker lives on
            log.exception("job %s failed", job.id)  # the full text, paths included, stays in the server's log
            self._fail(job, "generation_failed", f"{type(exc).__name__}: {without_paths(str(exc))}")
            return
        video, thumbnail = f"{job.id}.mp4", f"{job.id}.jpg"
        self._assets.put(video, result.mp4)
        self._assets.put(thumbnail, result.thumbnail)
        # A delete after the last progress report must not leave a completed job whose files nobody can reach.
        if not self._finish(job.id, status="completed", video_path=video, thumbnail_path=thumbnail,
                            unless_deleted=True):
            self._assets.delete(video)
            self._assets.delete(thumbnail)
            self._fail(job, "cancelled", "The video was deleted while it was being generated.")
            return
        self._audit.append(AuditEvent(event="video.completed", actor="worker", tenant=job.tenant, object_id=job.id,
                                      data={"content_id": job.content_id, "attempts": job.attempts}))

    def _task(self, job: VideoJob) -> GenerationJob:
        width, height = (int(v) for v in job.size.split("x"))
        reference = original = None
        if job.reference_path:
            reference = np.asarray(Image.open(io.BytesIO(self._assets.get(job.reference_path))).convert("RGB"))
            if self._assets.exists(reference_original_name(job.reference_path)):
                original = self._assets.get(reference_original_name(job.reference_path))
        return GenerationJob(
            video_id=job.id, content_id=int(job.content_id, 16), tenant=job.tenant, actor="worker",
            prompt=job.prompt, seconds=int(job.seconds), size=(width, height), seed=job.seed,
            policy=job.policy, decision_id=job.decision_id, reference_image=reference, reference_original=original,
        )

    def _fail(self, job: VideoJob, code: str, message: str) -> None:
        """End the job as failed and record its terminal ``video.failed`` entry (once, whoever ends it)."""
        if self._finish(job.id, status="failed", error_code=code, error_message=message):
            self._audit.append(AuditEvent(event="video.failed", actor="worker", tenant=job.tenant, object_id=job.id,
                                          data={"code": code, "error": message}))

    def _finish(self, video_id: str, *, unless_deleted: bool = False, **values) -> bool:
        """Move a running job to its end state; False when it was not running (already ended elsewhere) or, with
        ``unless_deleted``, was deleted meanwhile."""
        values.setdefault("progress", 100)
        condition = [VideoJob.id == video_id, VideoJob.status == "in_progress"]
        if unless_deleted:
            condition.append(VideoJob.deleted_at.is_(None))
        with self._db.session.begin() as session:
            return bool(session.execute(update(VideoJob).where(*condition)
                                        .values(completed_at=utcnow(), **values)).rowcount)


class Worker:
    """In-process worker threads. Generation is CPU-bound torch work; one thread is the default.

    ``housekeeping`` (the prompt purge) runs at start, after each job and at least every ``housekeeping_every``
    seconds while idle, so a retention of 0 days takes effect as a job ends and longer ones within the hour."""

    def __init__(self, runner: JobRunner, queue: JobQueue, count: int,
                 housekeeping: Callable[[], object] | None = None, housekeeping_every: float = 3600.0) -> None:
        self.runner = runner
        self.queue = queue
        self.count = count
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._housekeeping = housekeeping
        self._housekeeping_every = housekeeping_every
        self._housekeeping_due = 0.0
        self._housekeeping_lock = threading.Lock()

    def housekeep(self, *, only_if_due: bool = False) -> None:
        if self._housekeeping is None:
            return
        with self._housekeeping_lock:
            if only_if_due and time.monotonic() < self._housekeeping_due:
                return
            self._housekeeping_due = time.monotonic() + self._housekeeping_every
            try:
                self._housekeeping()
            except Exception:  # retried at the next turn; the worker lives on
                log.exception("housekeeping failed")

    def start(self) -> None:
        self.runner.recover()
        self.housekeep()
        for n in range(self.count):
            thread = threading.Thread(target=self._loop, name=f"hallmark-worker-{n}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self.queue.notify()
        for thread in self._threads:
            thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                job = self.runner.claim_next()
            except Exception:  # database briefly unavailable: back off, keep the worker alive
                log.exception("claiming a job failed")
                job = None
            if job is None:
                self.housekeep(only_if_due=True)
                self.queue.wait(1.0)
                continue
            self.runner.run(job)
            self.housekeep()

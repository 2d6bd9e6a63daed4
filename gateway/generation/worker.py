"""Running jobs: claim the next runnable job, run the pipeline on it, store what it made, and recover after a crash.

Jobs live in the database, so a restart loses nothing: queued jobs still run, and a job that was ``in_progress`` when
the process died is queued again (or failed with a reason once it has used ``max_attempts`` runs) — never left
``in_progress`` forever."""

from __future__ import annotations

import io
import logging
import threading
import time

import numpy as np
from PIL import Image
from sqlalchemy import or_, select, update

from ..audit import AuditEvent, AuditLog
from ..core.errors import GatewayError
from ..store.assets import AssetStore
from ..store.db import Database, VideoJob, utcnow
from ..store.queue import JobQueue
from .pipeline import GenerationJob, Producer
from .service import reference_original_name

log = logging.getLogger("hallmark.jobs")


class JobCancelled(Exception):
    """The job was deleted while it ran."""


class JobRunner:
    def __init__(self, *, db: Database, assets: AssetStore, audit: AuditLog, producer: Producer,
                 max_attempts: int) -> None:
        self._db = db
        self._assets = assets
        self._audit = audit
        self._producer = producer
        self._max_attempts = max_attempts

    def recover(self) -> None:
        """Run at start-up: requeue interrupted jobs, or fail those that used all their attempts."""
        with self._db.session.begin() as session:
            stuck = list(session.scalars(select(VideoJob).where(VideoJob.status == "in_progress")))
            for job in stuck:
                if job.attempts >= self._max_attempts:
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
        with self._db.session.begin() as session:
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

        width, height = (int(v) for v in job.size.split("x"))
        reference = original = None
        if job.reference_path:
            reference = np.asarray(Image.open(io.BytesIO(self._assets.get(job.reference_path))).convert("RGB"))
            if self._assets.exists(reference_original_name(job.reference_path)):
                original = self._assets.get(reference_original_name(job.reference_path))
        task = GenerationJob(
            video_id=job.id, content_id=int(job.content_id, 16), tenant=job.tenant, actor="worker",
            prompt=job.prompt, seconds=int(job.seconds), size=(width, height), seed=job.seed,
            policy=job.policy, decision_id=job.decision_id, reference_image=reference, reference_original=original,
        )
        try:
            result = self._producer.produce(task, progress)
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
            self._audit.append(AuditEvent(event="video.failed", actor="worker", tenant=job.tenant,
                                          object_id=job.id, data={"error": f"{type(exc).__name__}: {exc}"}))
            return
        self._assets.put(f"{job.id}.mp4", result.mp4)
        self._assets.put(f"{job.id}.jpg", result.thumbnail)
        self._finish(job.id, status="completed", video_path=f"{job.id}.mp4", thumbnail_path=f"{job.id}.jpg")

    def _finish(self, video_id: str, **values) -> None:
        with self._db.session.begin() as session:
            values.setdefault("progress", 100)
            session.execute(update(VideoJob).where(VideoJob.id == video_id)
                            .values(completed_at=utcnow(), **values))


class Worker:
    """In-process worker threads. Generation is CPU-bound torch work; one thread is the default."""

    def __init__(self, runner: JobRunner, queue: JobQueue, count: int) -> None:
        self.runner = runner
        self.queue = queue
        self.count = count
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        self.runner.recover()
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
                self.queue.wait(1.0)
                continue
            self.runner.run(job)

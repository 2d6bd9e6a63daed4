"""Running jobs: claim the next runnable job, run the pipeline on it, store what it made, and recover after a crash.

Jobs live in the database, so a restart loses nothing: queued jobs still run, and a job that was ``in_progress`` when
the process died is queued again (or failed with a reason once it has used ``max_attempts`` runs) — never left
``in_progress`` forever."""

from __future__ import annotations

import io
import logging
import os
import socket
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from typing import Callable, Literal

import numpy as np
from PIL import Image
from sqlalchemy import func, or_, select, update

from ..audit import AuditEvent, AuditLog
from ..core import request_id
from ..core.errors import GatewayError
from ..core.redact import without_paths
from ..media import decode_media, evenly_spaced, probe_mp4
from ..provenance import carries_manifest
from ..store.assets import AssetStore
from ..store.db import Database, TenantScheduleRow, VideoJob, utcnow
from ..store.queue import JobQueue
from .pipeline import GenerationJob, JobSource, Producer
from .service import reference_original_name

log = logging.getLogger("hallmark.jobs")

# A source is at most 20 s (gateway.generation.sources); this covers it at 60 fps.
MAX_SOURCE_FRAMES = 1200
SOURCE_FPS = 24


class JobCancelled(Exception):
    """The job was deleted while it ran."""


class LeaseLost(Exception):
    """This worker's lease on the job ran out and the job was given to another run: stop without writing."""


def _pid_namespace() -> str:
    """This process's PID namespace (Linux), so that containers sharing a host name (host networking) never take
    each other's process ids for their own; "" where unknown (then only the lease's expiry counts)."""
    try:
        return "".join(ch for ch in os.readlink("/proc/self/ns/pid") if ch.isdigit())
    except OSError:
        return ""


def lease_owner_name() -> str:
    """Names one runner: host, process, PID namespace and a random part (several runners may share a process)."""
    return f"{socket.gethostname()}:{os.getpid()}:{_pid_namespace()}:{uuid.uuid4().hex[:8]}"


def _owner_gone(owner: str) -> bool:
    """Whether ``owner`` was a process of this host and PID namespace that no longer exists: a restart after a
    crash need not wait for that process's leases to run out. Other owners are judged by their lease alone."""
    host, pid, namespace, *_ = (owner.split(":") + ["", "", ""])[:4]
    here = _pid_namespace()
    if host != socket.gethostname() or not pid.isdigit() or not here or namespace != here:
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)  # SQLite returns naive UTC


# A job the queue can run: queued, not deleted, and not held for review.
RUNNABLE = (VideoJob.status == "queued", VideoJob.deleted_at.is_(None),
            or_(VideoJob.review.is_(None), VideoJob.review == "approved"))


class JobRunner:
    def __init__(self, *, db: Database, assets: AssetStore, audit: AuditLog, producer: Producer,
                 max_attempts: int, running_limit: Callable[[str], int] = lambda _tenant: 0,
                 lease_seconds: float = 60.0, owner: str | None = None) -> None:
        """``running_limit``: how many of a tenant's jobs may run at once (0: no limit). ``lease_seconds``: how long
        a claim holds without renewal (renewed every third of it while the job runs)."""
        self._db = db
        self._assets = assets
        self._audit = audit
        self._producer = producer
        self._max_attempts = max_attempts
        self._running_limit = running_limit
        self.lease = timedelta(seconds=lease_seconds)
        self.owner = owner or lease_owner_name()

    def recover(self) -> list[VideoJob]:
        """Requeue jobs whose worker died — lease run out, or its process on this host gone — or fail those that
        used all their attempts; returns the requeued jobs (for the queue to send again). Runs at start and then
        periodically in every worker, so a job is never taken from a live worker nor left ``in_progress``
        forever; each job is ended by one caller only (conditional updates)."""
        now = utcnow()
        stuck, requeued = [], []
        with self._db.session.begin() as session:
            running = list(session.scalars(select(VideoJob).where(VideoJob.status == "in_progress")))
            session.expunge_all()  # detached: the decisions below are written only by the conditional updates
            for job in running:
                owner, expires = job.lease_owner, job.lease_expires_at
                gone = owner is not None and _owner_gone(owner)
                if not (owner is None or expires is None or _utc(expires) < now or gone):
                    continue  # a live worker holds it
                condition = [VideoJob.id == job.id, VideoJob.status == "in_progress",
                             VideoJob.lease_owner.is_(None) if owner is None else VideoJob.lease_owner == owner]
                if not gone and owner is not None and expires is not None:
                    condition.append(VideoJob.lease_expires_at < now)  # not renewed meanwhile
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
                changed = session.execute(update(VideoJob).where(*condition).values(
                    status=job.status, progress=job.progress, error_code=job.error_code,
                    error_message=job.error_message, completed_at=job.completed_at, lease_owner=None,
                    lease_expires_at=None).execution_options(synchronize_session=False)).rowcount
                if changed:
                    stuck.append(job)
                    if job.status == "queued":
                        requeued.append(job)
        for job in stuck:
            log.warning("job %s was interrupted; now %s", job.id, job.status)
            if job.status == "failed":
                self._audit.append(AuditEvent(event="video.failed", actor="system", tenant=job.tenant,
                                              object_id=job.id, data={"code": job.error_code,
                                                                      "attempts": job.attempts,
                                                                      "error": job.error_message}))
        return requeued

    def stale_queued(self, older_than: float) -> list[VideoJob]:
        """Runnable jobs queued more than ``older_than`` seconds ago (a distributed queue whose message was lost
        sends these again; a duplicate message is harmless, its claim fails). Jobs of a tenant at its running
        limit are left out: their messages are waiting for a slot, not lost."""
        cutoff = utcnow() - timedelta(seconds=older_than)
        with self._db.session() as session:
            jobs = list(session.scalars(select(VideoJob).where(*RUNNABLE, VideoJob.created_at < cutoff)
                                        .order_by(VideoJob.seq).limit(1000)))
            running = dict(session.execute(select(VideoJob.tenant, func.count()).where(
                VideoJob.status == "in_progress", VideoJob.tenant.in_({job.tenant for job in jobs}))
                .group_by(VideoJob.tenant)).all()) if jobs else {}
        return [job for job in jobs
                if not (limit := self._running_limit(job.tenant)) or running.get(job.tenant, 0) < limit]

    def _take(self, session, job: VideoJob) -> bool:
        """The conditional update that claims ``job`` with a lease: with any number of workers and processes only
        one claims it."""
        claimed = session.execute(
            update(VideoJob).where(VideoJob.id == job.id, *RUNNABLE)
            .values(status="in_progress", attempts=VideoJob.attempts + 1, progress=1, lease_owner=self.owner,
                    lease_expires_at=utcnow() + self.lease)
            .execution_options(synchronize_session=False)
        ).rowcount
        if claimed:
            session.merge(TenantScheduleRow(tenant=job.tenant, last_claimed_at=utcnow()))
        return bool(claimed)

    def claim(self, video_id: str) -> VideoJob | Literal["busy"] | None:
        """Claim this job (a distributed queue's message names it): the job, "busy" when its tenant is at its
        running limit, or None when it is not runnable (taken, ended, deleted, held for review)."""
        with self._db.session.begin() as session:
            job = session.scalars(select(VideoJob).where(VideoJob.id == video_id, *RUNNABLE)).first()
            if job is None:
                return None
            if limit := self._running_limit(job.tenant):
                running = session.scalar(select(func.count()).where(VideoJob.status == "in_progress",
                                                                    VideoJob.tenant == job.tenant))
                if running >= limit:
                    return "busy"
            if not self._take(session, job):
                return None
        with self._db.session() as session:
            return session.get(VideoJob, video_id)

    def run_by_id(self, video_id: str) -> Literal["done", "busy"]:
        """A distributed queue's task: claim the job and run it; "busy" asks the queue to try again shortly."""
        job = self.claim(video_id)
        if job == "busy":
            return "busy"
        if job is None:
            log.info("job %s: nothing to run here (taken, ended, deleted or held for review)", video_id)
        else:
            self.run(job)
        return "done"

    def claim_next(self) -> VideoJob | None:
        """Claim the oldest runnable job of the tenant served longest ago (among tenants under their running
        limit); None when nothing can run now."""
        runnable = RUNNABLE
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
            claimed = self._take(session, job)
        if not claimed:
            return None
        with self._db.session() as session:
            return session.get(VideoJob, job.id)

    def _renew(self, video_id: str) -> bool:
        """Extend this runner's lease on the job; False when it no longer holds it."""
        with self._db.session.begin() as session:
            return bool(session.execute(
                update(VideoJob).where(VideoJob.id == video_id, VideoJob.status == "in_progress",
                                       VideoJob.lease_owner == self.owner)
                .values(lease_expires_at=utcnow() + self.lease).execution_options(synchronize_session=False)
            ).rowcount)

    def _heartbeat(self, video_id: str, stop: threading.Event, lost: threading.Event) -> None:
        """Renews the lease every third of its length while the job runs, whatever the model reports."""
        while not stop.wait(self.lease.total_seconds() / 3):
            try:
                if not self._renew(video_id):
                    lost.set()
                    return
            except Exception:  # the database briefly unreachable: try again; the lease has two more thirds
                log.exception("renewing the lease of job %s failed", video_id)

    def run(self, job: VideoJob) -> None:
        stop, lost = threading.Event(), threading.Event()
        beat = threading.Thread(target=self._heartbeat, args=(job.id, stop, lost), daemon=True,
                                name=f"hallmark-lease-{job.id}")
        beat.start()
        token = request_id.bind(job.request_id)  # this job's log lines and audit entries name its request
        try:
            self._run(job, lost)
        except LeaseLost:
            log.warning("job %s: lease lost to another run; this run stops without writing", job.id)
        finally:
            request_id.unbind(token)
            stop.set()

    def _run(self, job: VideoJob, lost: threading.Event) -> None:
        last = {"value": -1, "time": 0.0}

        def progress(percent: int) -> None:
            if lost.is_set():
                raise LeaseLost(job.id)
            now = time.monotonic()
            if percent == last["value"] or (now - last["time"] < 0.2 and percent < 99):
                return
            last.update(value=percent, time=now)
            with self._db.session.begin() as session:
                deleted = session.scalar(select(VideoJob.deleted_at).where(VideoJob.id == job.id))
                if deleted is not None:
                    raise JobCancelled(job.id)
                held = session.execute(update(VideoJob).where(VideoJob.id == job.id,
                                                              VideoJob.lease_owner == self.owner)
                                       .values(progress=max(1, min(99, percent)))).rowcount
                if not held:
                    raise LeaseLost(job.id)

        try:
            result = self._producer.produce(self._task(job), progress)
        except (JobCancelled, LeaseLost) as exc:
            if isinstance(exc, LeaseLost):
                raise
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
        video, thumbnail, sprites = f"{job.id}.mp4", f"{job.id}.jpg", f"{job.id}.sprites.jpg"
        self._assets.put(video, result.mp4)
        self._assets.put(thumbnail, result.thumbnail)
        self._assets.put(sprites, result.spritesheet)
        # A delete after the last progress report must not leave a completed job whose files nobody can reach.
        if not self._finish(job.id, status="completed", video_path=video, thumbnail_path=thumbnail,
                            spritesheet_path=sprites, unless_deleted=True):
            if lost.is_set() or not self._renew(job.id):  # another run holds the job; these names are its files too
                raise LeaseLost(job.id)
            for name in (video, thumbnail, sprites):
                self._assets.delete(name)
            self._fail(job, "cancelled", "The video was deleted while it was being generated.")
            return
        self._audit.append(AuditEvent(event="video.completed", actor="worker", tenant=job.tenant, object_id=job.id,
                                      data={"content_id": job.content_id, "attempts": job.attempts}))
        self._drop_source(job)

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
            source=self._source(job),
        )

    def _source(self, job: VideoJob) -> JobSource | None:
        if not job.source_path:
            return None
        data = self._assets.get(job.source_path)
        width, height = (int(v) for v in job.size.split("x"))
        # At most SOURCE_FPS frames a second, at the output's size at most: what the generator and the stitching
        # use, and a bound on memory for a long high-rate source.
        rate = probe_mp4(data)["fps"] or SOURCE_FPS
        media = decode_media(data, max_frames=MAX_SOURCE_FRAMES, max_pixels=width * height,
                             select=lambda total, _h, _w: evenly_spaced(
                                 total, max(1, round(total * min(1.0, SOURCE_FPS / rate)))).tolist())
        fps = media.frames.shape[0] / (media.total_frames / media.fps)
        parent_content_id = None
        if job.source_video_id:
            with self._db.session() as session:
                parent = session.get(VideoJob, job.source_video_id)
            parent_content_id = int(parent.content_id, 16) if parent is not None else None
        # Whether c2pa-rs will find a manifest to copy into the parent ingredient (it validates it itself at signing).
        return JobSource(operation=job.operation, data=data, frames=media.frames, fps=fps,
                         has_manifest=carries_manifest(data), parent_content_id=parent_content_id)

    def _fail(self, job: VideoJob, code: str, message: str) -> None:
        """End the job as failed and record its terminal ``video.failed`` entry (once, whoever ends it)."""
        if self._finish(job.id, status="failed", error_code=code, error_message=message):
            self._audit.append(AuditEvent(event="video.failed", actor="worker", tenant=job.tenant, object_id=job.id,
                                          data={"code": code, "error": message}))
            self._drop_source(job)

    def _drop_source(self, job: VideoJob) -> None:
        """A video-to-video source is kept only while its job can still run: an uploaded clip is the client's
        footage, and what the new video needs of it is in its manifest (the parent ingredient)."""
        if job.source_path:
            self._assets.delete(job.source_path)
            with self._db.session.begin() as session:
                session.execute(update(VideoJob).where(VideoJob.id == job.id).values(source_path=None))

    def _finish(self, video_id: str, *, unless_deleted: bool = False, **values) -> bool:
        """Move a running job to its end state; False when it was not running (already ended elsewhere) or, with
        ``unless_deleted``, was deleted meanwhile."""
        values.setdefault("progress", 100)
        condition = [VideoJob.id == video_id, VideoJob.status == "in_progress", VideoJob.lease_owner == self.owner]
        if unless_deleted:
            condition.append(VideoJob.deleted_at.is_(None))
        with self._db.session.begin() as session:
            return bool(session.execute(update(VideoJob).where(*condition)
                                        .values(completed_at=utcnow(), lease_expires_at=None, **values)).rowcount)


class Sweeper:
    """Finds jobs whose worker died (``JobRunner.recover``) and queues them again; with a distributed queue, also
    sends again the messages of jobs queued long ago when the broker holds none (a publish that failed), since a
    duplicate costs only a failed claim. Every worker process runs one, so no single node is needed for it."""

    def __init__(self, runner: JobRunner, queue: JobQueue, *, republish_after: float | None = None,
                 pending_messages: Callable[[], int] | None = None) -> None:
        self.runner = runner
        self.queue = queue
        self.every = runner.lease.total_seconds() / 2
        self._republish_after = republish_after
        self._pending_messages = pending_messages
        self._due = 0.0
        self._lock = threading.Lock()
        self._stop = threading.Event()

    def sweep(self, *, only_if_due: bool = False) -> None:
        with self._lock:
            if only_if_due and time.monotonic() < self._due:
                return
            self._due = time.monotonic() + self.every
            try:
                for job in self.runner.recover():
                    self.queue.notify(job.id, job.model)
                if self._republish_after is not None and (self._pending_messages is None
                                                          or self._pending_messages() == 0):
                    for job in self.runner.stale_queued(self._republish_after):
                        self.queue.notify(job.id, job.model)
            except Exception:  # the database or broker briefly unreachable: the next sweep tries again
                log.exception("sweeping for interrupted jobs failed")

    def start(self) -> threading.Thread:
        def loop() -> None:
            while not self._stop.wait(self.every):
                self.sweep()

        self.sweep()
        thread = threading.Thread(target=loop, name="hallmark-sweeper", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self._stop.set()


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
        self.sweeper = Sweeper(runner, queue)

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
        self.sweeper.sweep()
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
                self.sweeper.sweep(only_if_due=True)  # a job left by a process that died meanwhile
                self.housekeep(only_if_due=True)
                self.queue.wait(1.0)
                continue
            self.runner.run(job)
            self.housekeep()

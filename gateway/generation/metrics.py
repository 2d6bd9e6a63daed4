"""What ``/metrics`` reports about jobs and the audit log, read from the database at scrape time: the job rows are
the source of truth shared by every API replica and worker, so any replica answers for the whole deployment."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select

from ..audit import AuditLog
from ..store.db import Database, VideoJob
from ..store.queue import JobQueue


@dataclass(frozen=True)
class JobStats:
    jobs: dict[tuple[str, str], int]  # (status, model) → jobs
    durations: dict[tuple[str, str], tuple[int, float]]  # (status, model) → (ended jobs, seconds created→ended)
    audit_entries: int
    queue_depth: dict[str, int] = field(default_factory=dict)  # broker queue → messages waiting


class JobMetrics:
    def __init__(self, *, db: Database, audit: AuditLog, queue: JobQueue) -> None:
        self._db = db
        self._audit = audit
        self._queue = queue

    def snapshot(self) -> JobStats:
        with self._db.session() as session:
            jobs = {(status, model): count for status, model, count in session.execute(
                select(VideoJob.status, VideoJob.model, func.count()).group_by(VideoJob.status, VideoJob.model))}
            if session.get_bind().dialect.name == "postgresql":
                seconds = func.extract("epoch", VideoJob.completed_at - VideoJob.created_at)
            else:  # SQLite
                seconds = (func.julianday(VideoJob.completed_at) - func.julianday(VideoJob.created_at)) * 86400.0
            durations = {(status, model): (count, float(total or 0.0)) for status, model, count, total in
                         session.execute(select(VideoJob.status, VideoJob.model, func.count(), func.sum(seconds))
                                         .where(VideoJob.completed_at.is_not(None))
                                         .group_by(VideoJob.status, VideoJob.model))}
        depth_of = getattr(self._queue, "depth", None)  # a broker-backed queue knows its backlog
        return JobStats(jobs=jobs, durations=durations, audit_entries=self._audit.size(),
                        queue_depth=depth_of() if depth_of else {})

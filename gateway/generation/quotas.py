"""What each tenant may use: requests per API key, queued and running jobs, and a daily budget of generated
seconds x pixels. Refusals are RateLimited (429 with Retry-After), so OpenAI's SDK backs off by itself."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select

from ..core.auth import Principal
from ..core.errors import RateLimited
from ..core.ratelimit import RateLimiter
from ..core.settings import Quota
from ..store.db import Database, VideoJob

# How long a client whose queue is full should wait before asking again: about one short job.
QUEUE_FULL_RETRY_SECONDS = 30


def _pixel_seconds(seconds: int | str, size: tuple[int, int] | str) -> int:
    if isinstance(size, str):
        width, height = (int(v) for v in size.split("x"))
    else:
        width, height = size
    return int(seconds) * width * height


class TenantQuotas:
    def __init__(self, *, db: Database, limiter: RateLimiter, default: Quota, overrides: dict[str, Quota]) -> None:
        self._db = db
        self._limiter = limiter
        self._default = default
        self._overrides = dict(overrides)

    def quota(self, tenant: str) -> Quota:
        return self._overrides.get(tenant, self._default)

    def count_request(self, principal: Principal) -> None:
        """One API request by this key (every authenticated route)."""
        rate = RateLimiter.parse(self.quota(principal.tenant).requests)  # parsed once per rate (cached)
        self._limiter.hit(rate, "key", principal.key_id, what="requests for this API key")

    def check_new_job(self, tenant: str, *, seconds: int, size: tuple[int, int], now: datetime | None = None) -> None:
        """Refuse a job the tenant's queue or daily budget cannot take (checked before anything is stored)."""
        quota = self.quota(tenant)
        now = now or datetime.now(timezone.utc)
        now = now if now.tzinfo else now.replace(tzinfo=timezone.utc)
        # Compared as an aware UTC time: PostgreSQL would read a naive one in its session's time zone.
        day = now.astimezone(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
        with self._db.session() as session:
            if quota.queued_jobs:
                queued = session.scalar(select(func.count()).select_from(VideoJob).where(
                    VideoJob.tenant == tenant, VideoJob.status == "queued", VideoJob.deleted_at.is_(None))) or 0
                if queued >= quota.queued_jobs:
                    raise RateLimited(f"Tenant {tenant!r} already has {queued} queued videos (the limit is "
                                      f"{quota.queued_jobs}); wait for some to finish.",
                                      retry_after=QUEUE_FULL_RETRY_SECONDS, code="queued_jobs_limit")
            if quota.daily_pixel_seconds:
                rows = session.execute(select(VideoJob.seconds, VideoJob.size).where(
                    VideoJob.tenant == tenant, VideoJob.created_at >= day)).all()
                used = sum(_pixel_seconds(s, z) for s, z in rows)
                wanted = _pixel_seconds(seconds, size)
                if used + wanted > quota.daily_pixel_seconds:
                    tomorrow = day + timedelta(days=1)
                    raise RateLimited(f"Tenant {tenant!r} has used {used:,} of its {quota.daily_pixel_seconds:,} "
                                      f"pixel-seconds today; this video needs {wanted:,}. The budget renews at "
                                      "00:00 UTC.", retry_after=(tomorrow - now).total_seconds(),
                                      code="daily_budget_exceeded")

    def running_limit(self, tenant: str) -> int:
        return self.quota(tenant).running_jobs

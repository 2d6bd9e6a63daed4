"""Quotas and fairness: request rates per key, failed logins per address, queued jobs, a daily budget, and a worker
that serves the tenant waiting longest."""

from __future__ import annotations

from datetime import datetime, timezone

import httpx
import openai
import pytest

from gateway.bootstrap import Runtime
from gateway.core.auth import Principal
from gateway.core.errors import RateLimited
from gateway.core.settings import Settings
from gateway.generation.service import NewVideo
from gateway.moderation import Moderation
from gateway.store.db import VideoJob

KEY = "hm-quota-a"
OTHER = "hm-quota-b"


def _moderation() -> Moderation:
    return Moderation(decision_id="dec_test", action="allow", policy="default@1", flagged=[], categories={},
                      reasons=[])


def _request(seconds: int = 1) -> NewVideo:
    return NewVideo(prompt="a red circle", model="m", seconds=seconds, size=(128, 128), seed=1)


def test_requests_per_key_get_429_with_retry_after_and_the_sdk_error(start_gateway, tmp_path):
    settings = Settings(data_dir=tmp_path, api_keys=f"{KEY}:tenant-q,{OTHER}:tenant-r", rate_limit="4/minute",
                        tenant_quotas="tenant-r:requests=100/minute")
    with start_gateway(settings) as base:
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {KEY}"}) as http:
            assert [http.get("/v1/videos").status_code for _ in range(4)] == [200] * 4
            refused = http.get("/v1/videos")
        assert refused.status_code == 429
        assert int(refused.headers["retry-after"]) >= 1
        assert refused.json()["error"]["code"] == "rate_limit_exceeded"
        client = openai.OpenAI(base_url=f"{base}/v1", api_key=KEY, max_retries=0)
        with pytest.raises(openai.RateLimitError):
            client.videos.list()
        # another tenant's key has its own count (and its own, larger, quota)
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {OTHER}"}) as http:
            assert all(http.get("/v1/videos").status_code == 200 for _ in range(6))


def test_failed_authentication_is_throttled_per_address(start_gateway, tmp_path):
    settings = Settings(data_dir=tmp_path, api_keys=f"{KEY}:tenant-q", auth_failure_limit="3/minute")
    with start_gateway(settings) as base:
        with httpx.Client(base_url=base) as http:
            wrong = [http.get("/v1/videos", headers={"Authorization": f"Bearer hm-wrong-{n}"}).status_code
                     for n in range(3)]
            assert wrong == [401, 401, 401]
            throttled = http.get("/v1/videos", headers={"Authorization": "Bearer hm-wrong-again"})
            assert throttled.status_code == 429 and "retry-after" in throttled.headers
            # from this address even a right key waits until the window passes
            assert http.get("/v1/videos", headers={"Authorization": f"Bearer {KEY}"}).status_code == 429


def test_the_daily_budget_refuses_before_anything_is_stored(start_gateway, tmp_path):
    settings = Settings(data_dir=tmp_path, api_keys=f"{KEY}:tenant-q", default_size="128x128",
                        tenant_quotas=f"tenant-q:daily={128 * 128 * 2}")
    with start_gateway(settings) as base:
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {KEY}"}, timeout=60) as http:
            too_big = http.post("/v1/videos", data={"prompt": "a green square", "seconds": "3"})
            assert too_big.status_code == 429, too_big.text
            assert too_big.json()["error"]["code"] == "daily_budget_exceeded"
            assert int(too_big.headers["retry-after"]) <= 24 * 3600
            assert http.get("/v1/videos").json()["data"] == []
            decisions = [e for e in http.get("/v1/audit/entries").json()["data"] if e["event"] == "policy.decision"]
            assert decisions == []  # refused before moderation: nothing to audit but nothing done
            assert http.post("/v1/videos", data={"prompt": "a green square", "seconds": "2"}).status_code == 200
            again = http.post("/v1/videos", data={"prompt": "a green square", "seconds": "1"})
            assert again.status_code == 429


def test_queued_jobs_are_capped_per_tenant(tmp_path):
    rt = Runtime(Settings(data_dir=tmp_path, tenant_quotas="t:queued=2"))
    try:
        jobs = rt.generation
        principal = Principal(tenant="t", role="user", key_id="x")
        for _ in range(2):
            jobs.create(principal, _request(), _moderation())
        with pytest.raises(RateLimited) as caught:
            rt.quotas.check_new_job("t", seconds=1, size=(128, 128))
        assert caught.value.code == "queued_jobs_limit" and caught.value.headers["Retry-After"]
        rt.quotas.check_new_job("someone-else", seconds=1, size=(128, 128))  # other tenants are not affected
        jobs.delete(principal, jobs.list(principal, after=None, limit=10, order="asc")[0][0].id)
        rt.quotas.check_new_job("t", seconds=1, size=(128, 128))
    finally:
        rt.close()


def test_the_budget_counts_today_only(tmp_path):
    rt = Runtime(Settings(data_dir=tmp_path, tenant_quotas=f"t:daily={128 * 128 * 4}"))
    try:
        principal = Principal(tenant="t", role="user", key_id="x")
        rt.generation.create(principal, _request(seconds=4), _moderation())
        with pytest.raises(RateLimited):
            rt.quotas.check_new_job("t", seconds=1, size=(128, 128))
        tomorrow = datetime.now(timezone.utc).replace(hour=0, minute=0, second=1).timestamp() + 24 * 3600
        rt.quotas.check_new_job("t", seconds=4, size=(128, 128),
                                now=datetime.fromtimestamp(tomorrow, timezone.utc))
    finally:
        rt.close()


def _finish(rt: Runtime, job: VideoJob) -> None:
    with rt.db.session.begin() as session:
        session.get(VideoJob, job.id).status = "completed"


def test_the_worker_serves_the_tenant_waiting_longest(tmp_path):
    rt = Runtime(Settings(data_dir=tmp_path))
    try:
        busy, quiet = (Principal(tenant=t, role="user", key_id=t) for t in ("busy", "quiet"))
        backlog = [rt.generation.create(busy, _request(), _moderation()).id for _ in range(5)]
        late = rt.generation.create(quiet, _request(), _moderation()).id
        first = rt.runner.claim_next()
        assert first.id == backlog[0]
        _finish(rt, first)
        second = rt.runner.claim_next()
        assert second.id == late  # not the busy tenant's second job
        _finish(rt, second)
        assert [rt.runner.claim_next().id for _ in range(4)] == backlog[1:]
    finally:
        rt.close()


def test_a_tenant_at_its_running_limit_waits(tmp_path):
    rt = Runtime(Settings(data_dir=tmp_path, tenant_quotas="busy:running=1"))
    try:
        busy, quiet = (Principal(tenant=t, role="user", key_id=t) for t in ("busy", "quiet"))
        for _ in range(2):
            rt.generation.create(busy, _request(), _moderation())
        assert rt.runner.claim_next().tenant == "busy"
        assert rt.runner.claim_next() is None  # its second job waits for the first
        rt.generation.create(quiet, _request(), _moderation())
        assert rt.runner.claim_next().tenant == "quiet"
    finally:
        rt.close()


def test_fairness_holds_across_worker_processes(tmp_path):
    # Two runtimes on one database stand for two worker processes: what one served, the other knows.
    first, second = Runtime(Settings(data_dir=tmp_path)), Runtime(Settings(data_dir=tmp_path))
    try:
        busy, quiet = (Principal(tenant=t, role="user", key_id=t) for t in ("busy", "quiet"))
        backlog = [first.generation.create(busy, _request(), _moderation()).id for _ in range(3)]
        late = first.generation.create(quiet, _request(), _moderation()).id
        assert first.runner.claim_next().id == backlog[0]
        assert second.runner.claim_next().id == late
        assert second.runner.claim_next().id == backlog[1]
    finally:
        first.close()
        second.close()

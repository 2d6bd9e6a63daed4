"""``/metrics`` in the Prometheus text format: this replica's requests (count and latency per route and status) and
the deployment's jobs (per status and model, with their durations), queue depth and audit log size, read from the
shared database when scraped. Each API process keeps its own request counters (one uvicorn process per replica),
so no multiprocess directory is needed; scrape every replica."""

from __future__ import annotations

import re
import time

from fastapi import APIRouter, Depends, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, SummaryMetricFamily

from ..core.auth import Principal
from ..core.errors import Forbidden
from ..generation.metrics import JobMetrics
from .deps import get_job_metrics, get_principal

router = APIRouter(tags=["system"])
_CONVERTER = re.compile(r"\{(\w+):\w+\}")  # "/v1/videos/{video_id:video_id}" is labelled "/v1/videos/{video_id}"


class RequestMetrics:
    """The request counters of one app (a registry of its own, so several apps in one process do not collide)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("hallmark_http_requests", "HTTP requests answered", ["method", "route", "status"],
                                registry=self.registry)
        self.latency = Histogram("hallmark_http_request_duration_seconds", "Time to answer a request",
                                 ["method", "route"], registry=self.registry,
                                 buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))


class MetricsMiddleware:
    """Counts every answered request by its route's template (``/v1/videos/{video_id}``, never the id itself)."""

    def __init__(self, app, metrics: RequestMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        status = {"code": 500}

        async def counting_send(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, counting_send)
        finally:
            route = _CONVERTER.sub(r"{\1}", getattr(scope.get("route"), "path", None) or "unmatched")
            self.metrics.requests.labels(scope["method"], route, str(status["code"])).inc()
            self.metrics.latency.labels(scope["method"], route).observe(time.perf_counter() - started)


class _DeploymentCollector:
    def __init__(self, jobs: JobMetrics) -> None:
        self.jobs = jobs

    def collect(self):
        stats = self.jobs.snapshot()
        jobs = GaugeMetricFamily("hallmark_jobs", "Jobs by status and model", labels=["status", "model"])
        for (status, model), count in sorted(stats.jobs.items()):
            jobs.add_metric([status, model], count)
        yield jobs
        durations = SummaryMetricFamily("hallmark_job_duration_seconds", "From request to end, ended jobs",
                                        labels=["status", "model"])
        for (status, model), (count, total) in sorted(stats.durations.items()):
            durations.add_metric([status, model], count_value=count, sum_value=total)
        yield durations
        depth = GaugeMetricFamily("hallmark_queue_depth", "Job messages waiting in the broker", labels=["queue"])
        for queue, count in sorted(stats.queue_depth.items()):
            depth.add_metric([queue], count)
        yield depth
        yield CounterMetricFamily("hallmark_audit_appends", "Entries ever appended to the audit log",
                                  value=stats.audit_entries)


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request, principal: Principal = Depends(get_principal),
            jobs: JobMetrics = Depends(get_job_metrics)) -> Response:
    """Prometheus scrape target; needs an ``auditor`` or ``admin`` key (Prometheus sends it as a bearer token)."""
    if principal.role not in ("auditor", "admin"):
        raise Forbidden("GET /metrics needs an API key with the 'auditor' or 'admin' role.")
    registry = CollectorRegistry()
    registry.register(_DeploymentCollector(jobs))
    body = generate_latest(request.app.state.request_metrics.registry) + generate_latest(registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)

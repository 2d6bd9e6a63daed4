"""Injected dependencies: the runtime, the job service and the authenticated principal."""

from __future__ import annotations

from fastapi import Request

from ..auth import Principal
from ..jobs import JobService
from ..runtime import Runtime


def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime


def get_jobs(request: Request) -> JobService:
    return request.app.state.jobs


def get_principal(request: Request) -> Principal:
    runtime: Runtime = request.app.state.runtime
    return runtime.keys.authenticate(request.headers.get("authorization"))

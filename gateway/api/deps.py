"""Injected dependencies: the runtime, the job service and the authenticated principal."""

from __future__ import annotations

from fastapi import Depends, Request

from ..auth import Principal
from ..errors import Forbidden
from ..jobs import JobService
from ..runtime import Runtime


def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime


def get_jobs(request: Request) -> JobService:
    return request.app.state.jobs


def get_principal(request: Request) -> Principal:
    runtime: Runtime = request.app.state.runtime
    return runtime.keys.authenticate(request.headers.get("authorization"))


def require_admin(request: Request, principal: Principal = Depends(get_principal)) -> Principal:
    """Operator endpoints (registered works, reviews, policy packs) need a key with the ``admin`` role."""
    if principal.role != "admin":
        raise Forbidden(f"{request.method} {request.url.path} needs an API key with the 'admin' role "
                        "(HALLMARK_API_KEYS entries 'key:tenant:admin').")
    return principal

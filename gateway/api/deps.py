"""Injected dependencies: the services a route calls, the settings it parses with, and the authenticated principal.
The only API module that knows the composition root."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from fastapi import Depends, Request

from ..audit.queries import AuditQueries
from ..bootstrap import Runtime
from ..core.auth import Principal
from ..core.errors import Forbidden, NotFound, Unauthorized
from ..core.settings import Settings
from ..generation.metrics import JobMetrics
from ..generation.service import GenerationService
from ..moderation import ModerationService, PolicyService
from ..moderation.characters import CharacterService
from ..moderation.hashlists import HashListService
from ..registry import WorkRegistry
from ..verification import VerificationService
from ..verification.public import PublicChecks

log = logging.getLogger("hallmark.api")


@contextmanager
def running_gateway(settings: Settings, *, start_worker: bool, announce: Callable[[str], None]) -> Iterator[Runtime]:
    """The gateway's parts for the life of the app: the development CA, key and policy packs made or checked before
    serving, the in-process worker and a thread that loads the models in the background."""
    runtime = Runtime(settings)
    _ = runtime.signing  # first start: make the development CA now, not on the first request
    if runtime.dev_root_trusted:
        log.warning("Trusting the development root CA (%s): anyone who can read that directory can make files verify "
                    "as 'trusted'. Outside development set HALLMARK_TRUST_DEV_ROOT=false or configure "
                    "HALLMARK_SIGNING_CERT_CHAIN.", settings.keys_dir)
    # Build the services before serving, so concurrent first requests share one of each; this also loads (and
    # audits any change of) the policy packs.
    _ = (runtime.generation, runtime.verification, runtime.audit_queries)
    key = runtime.ensure_dev_key()
    if key:
        announce(f"Development API key for tenant 'dev' (shown once; also in {settings.data_dir}/dev-api-key.txt):"
                 f"\n    {key}")
    worker = runtime.worker()
    if start_worker:
        worker.start()
        threading.Thread(target=_warm, args=(runtime,), name="hallmark-warm", daemon=True).start()
    try:
        yield runtime
    finally:
        worker.stop()
        runtime.close()


def _warm(runtime: Runtime) -> None:
    """Load the models in the background so the first request does not pay for it."""
    try:
        _ = runtime.classifier
        _ = runtime.generator
    except Exception:  # surfaced again, with its reason, on the first request that needs the model
        log.exception("warming the models failed")


def _runtime(request: Request) -> Runtime:
    return request.app.state.runtime


def get_settings(request: Request) -> Settings:
    return _runtime(request).settings


def get_generation(request: Request) -> GenerationService:
    return _runtime(request).generation


def get_moderation(request: Request) -> ModerationService:
    return _runtime(request).moderation


def get_verification(request: Request) -> VerificationService:
    return _runtime(request).verification


def get_policies(request: Request) -> PolicyService:
    return _runtime(request).policies


def get_works(request: Request) -> WorkRegistry:
    return _runtime(request).works


def get_characters(request: Request) -> CharacterService:
    return _runtime(request).characters


def get_hash_lists(request: Request) -> HashListService:
    return _runtime(request).hash_lists


def get_audit(request: Request) -> AuditQueries:
    return _runtime(request).audit_queries


def get_job_metrics(request: Request) -> JobMetrics:
    return _runtime(request).job_metrics


def get_principal(request: Request) -> Principal:
    """The caller's key, counted against its tenant's request rate. Failed authentications are counted per client
    address; past the limit that address gets 429 before its keys are even looked at."""
    runtime = _runtime(request)
    address = request.client.host if request.client else "unknown"
    failures = runtime.limiter.parse(runtime.settings.auth_failure_limit)
    runtime.limiter.check(failures, "auth-failures", address, what="failed authentications from this address")
    try:
        principal = runtime.keys.authenticate(request.headers.get("authorization"))
    except Unauthorized:
        runtime.limiter.hit(failures, "auth-failures", address, what="failed authentications from this address")
        raise
    runtime.quotas.count_request(principal)
    return principal


def get_public(request: Request) -> PublicChecks:
    """The keyless public checks: 404 while HALLMARK_PUBLIC_CHECKS is off, 429 past HALLMARK_PUBLIC_RATE_LIMIT for
    the client address (the proxy's, behind one that does not pass the client's on to uvicorn)."""
    runtime = _runtime(request)
    require_public(request)
    address = request.client.host if request.client else "unknown"
    runtime.limiter.hit(runtime.limiter.parse(runtime.settings.public_rate_limit), "public", address,
                        what="public checks from this address")
    return runtime.public


def require_public(request: Request) -> None:
    if not _runtime(request).settings.public_checks:
        raise NotFound(f"No route {request.url.path}.")


def get_feedback_admin(request: Request) -> PublicChecks:
    return _runtime(request).public


def require_admin(request: Request, principal: Principal = Depends(get_principal)) -> Principal:
    """Operator endpoints (registered works, reviews, policy packs) need a key with the ``admin`` role."""
    if principal.role != "admin":
        raise Forbidden(f"{request.method} {request.url.path} needs an API key with the 'admin' role "
                        "(HALLMARK_API_KEYS entries 'key:tenant:admin').")
    return principal


def dev_root_trusted(request: Request) -> bool:
    """Whether checks count the development root as a trust anchor (said by /healthz, so it is seen)."""
    return _runtime(request).dev_root_trusted


def check_health(request: Request) -> None:
    """Raises when the database cannot be reached."""
    with _runtime(request).db.engine.connect() as connection:
        connection.exec_driver_sql("SELECT 1")


def model_card(request: Request):
    """The video model this gateway serves (loaded on first use)."""
    return _runtime(request).generator

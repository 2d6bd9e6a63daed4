"""POST /v1/content_provenance_checks: what the openai SDK's content_provenance_checks.create calls."""

from __future__ import annotations

import time

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool

from ...core.auth import Principal
from ...core.settings import Settings
from ...verification import VerificationService
from ..deps import get_principal, get_settings, get_verification
from ..forms import file_field, read_form
from ..openapi import AUTHENTICATED, errors, multipart_body
from ..schemas import ProvenanceCheck

router = APIRouter(prefix="/v1", tags=["provenance"], responses=AUTHENTICATED)


@router.post("/content_provenance_checks", response_model=ProvenanceCheck, responses=errors(413, 415, 422),
             openapi_extra=multipart_body({"file": {"type": "string", "format": "binary"}}, required=["file"]))
async def create_check(request: Request, principal: Principal = Depends(get_principal),
                       settings: Settings = Depends(get_settings),
                       verification: VerificationService = Depends(get_verification)) -> ProvenanceCheck:
    form = await read_form(request, max_bytes=settings.max_upload_bytes)
    data = await file_field(form, "file", max_bytes=settings.max_upload_bytes, required=True)
    verdict = await run_in_threadpool(lambda: verification.verify(data, tenant=principal.tenant,
                                                                  actor=principal.actor))
    return ProvenanceCheck(id=verdict.check_id, created_at=int(time.time()),
                           generated_by_this_gateway=verdict.generated_here,
                           verdict=verdict.assessment.to_dict(), results=verdict.results(),
                           timeline=verdict.timeline_dicts())

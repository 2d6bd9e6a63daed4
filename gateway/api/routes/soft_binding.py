"""The C2PA Soft Binding Resolution API (v1): find a manifest from a watermark, a fingerprint or the content."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from ...core.auth import Principal
from ...core.errors import InvalidRequest, NotFound, PayloadTooLarge
from ...core.settings import Settings
from ...registry import RegistryMatch
from ...verification import VerificationService
from ..deps import get_principal, get_settings, get_verification
from ..openapi import AUTHENTICATED, binary, errors

router = APIRouter(tags=["c2pa soft binding resolution"], responses=AUTHENTICATED)


class BindingQuery(BaseModel):
    alg: str
    value: str


def _matches(found: list[RegistryMatch]) -> dict:
    out = []
    for match in found:
        if not match.manifest_id:
            continue
        score = 100 if match.distance is None else max(0, round(100 * (1 - match.distance / 64)))
        out.append({"manifestId": match.manifest_id, "similarityScore": score})
    return {"matches": out}


@router.get("/services/supportedAlgorithms")
def supported_algorithms(principal: Principal = Depends(get_principal)) -> dict:
    return VerificationService.supported_algorithms()


@router.get("/matches/byBinding")
def matches_by_binding(alg: str, value: str, maxResults: int = Query(10, ge=1, le=100),
                       principal: Principal = Depends(get_principal),
                       verification: VerificationService = Depends(get_verification)) -> dict:
    return _matches(verification.by_binding(alg, value, maxResults))


@router.post("/matches/byBinding")
def matches_by_binding_post(query: BindingQuery, maxResults: int = Query(10, ge=1, le=100),
                            principal: Principal = Depends(get_principal),
                            verification: VerificationService = Depends(get_verification)) -> dict:
    return _matches(verification.by_binding(query.alg, query.value, maxResults))


@router.post("/matches/byContent", responses=errors(413, 415, 422), openapi_extra={"requestBody": {
    "required": True, "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}})
async def matches_by_content(request: Request, maxResults: int = Query(10, ge=1, le=100),
                             principal: Principal = Depends(get_principal),
                             settings: Settings = Depends(get_settings),
                             verification: VerificationService = Depends(get_verification)) -> dict:
    limit = settings.max_upload_bytes
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            raise PayloadTooLarge(f"The asset is larger than the {limit} byte upload limit.")
    if not body:
        raise InvalidRequest("Send the asset's bytes as the request body.", code="empty_file")
    verdict = await run_in_threadpool(lambda: verification.verify(bytes(body), tenant=principal.tenant,
                                                                  actor=principal.actor))
    return _matches([verdict.registry] if verdict.registry else [])


@router.get("/manifests/{manifest_id}", response_class=Response,
            responses={**binary(["application/c2pa"], "The signed C2PA manifest store"), **errors(404)})
def get_manifest(manifest_id: str, principal: Principal = Depends(get_principal),
                 verification: VerificationService = Depends(get_verification)) -> Response:
    store = verification.manifest_store(manifest_id)
    if not store:
        raise NotFound(f"No manifest with id '{manifest_id}'.", param="manifestId")
    return Response(content=store, media_type="application/c2pa")

"""The C2PA Soft Binding Resolution API (v1): find a manifest from a watermark, a fingerprint or the content."""

from __future__ import annotations

import base64
import binascii

import watermark
from fastapi import APIRouter, Depends, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from ...auth import Principal
from ...errors import InvalidRequest, NotFound, PayloadTooLarge
from ...registry import FINGERPRINT_ALG, Registry, RegistryMatch
from ...runtime import Runtime
from ...verification import verify_bytes
from ..deps import get_principal, get_runtime

router = APIRouter(tags=["c2pa soft binding resolution"])

FINGERPRINT_SBR_ALG = f"com.hallmark.{FINGERPRINT_ALG}"


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


def _decode_value(value: str, *, size: int) -> bytes:
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidRequest("'value' must be base64.", param="value")
    if len(raw) != size:
        raise InvalidRequest(f"'value' must decode to {size} bytes, got {len(raw)}.", param="value")
    return raw


def _by_binding(rt: Runtime, alg: str, value: str, max_results: int) -> dict:
    if not 1 <= max_results <= 100:
        raise InvalidRequest("maxResults must be between 1 and 100.", param="maxResults")
    registry = Registry(rt.db)
    if alg == watermark.ALGORITHM:
        match = registry.by_content_id(int.from_bytes(_decode_value(value, size=8), "big"))
        return _matches([match] if match else [])
    if alg == FINGERPRINT_SBR_ALG:
        match = registry.by_fingerprint([_decode_value(value, size=8).hex()])
        return _matches([match] if match else [])
    raise InvalidRequest(f"Unsupported algorithm {alg!r}; see /services/supportedAlgorithms.", param="alg",
                         code="unsupported_algorithm")


@router.get("/services/supportedAlgorithms")
def supported_algorithms(principal: Principal = Depends(get_principal)) -> dict:
    return {"watermarks": [{"alg": watermark.ALGORITHM}], "fingerprints": [{"alg": FINGERPRINT_SBR_ALG}]}


@router.get("/matches/byBinding")
def matches_by_binding(alg: str, value: str, maxResults: int = 10, principal: Principal = Depends(get_principal),
                       rt: Runtime = Depends(get_runtime)) -> dict:
    return _by_binding(rt, alg, value, maxResults)


@router.post("/matches/byBinding")
def matches_by_binding_post(query: BindingQuery, maxResults: int = 10, principal: Principal = Depends(get_principal),
                            rt: Runtime = Depends(get_runtime)) -> dict:
    return _by_binding(rt, query.alg, query.value, maxResults)


@router.post("/matches/byContent")
async def matches_by_content(request: Request, maxResults: int = 10, principal: Principal = Depends(get_principal),
                             rt: Runtime = Depends(get_runtime)) -> dict:
    limit = rt.settings.max_upload_bytes
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            raise PayloadTooLarge(f"The asset is larger than the {limit} byte upload limit.")
    if not body:
        raise InvalidRequest("Send the asset's bytes as the request body.", code="empty_file")
    verdict = await run_in_threadpool(verify_bytes, rt, bytes(body), tenant=principal.tenant, actor=principal.actor)
    return _matches([verdict.registry] if verdict.registry else [])


@router.get("/manifests/{manifest_id}")
def get_manifest(manifest_id: str, principal: Principal = Depends(get_principal),
                 rt: Runtime = Depends(get_runtime)) -> Response:
    store = Registry(rt.db).manifest_store(manifest_id)
    if not store:
        raise NotFound(f"No manifest with id '{manifest_id}'.", param="manifestId")
    return Response(content=store, media_type="application/c2pa")

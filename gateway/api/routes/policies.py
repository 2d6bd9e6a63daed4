"""/v1/policies: the policy pack active for each scope, and reloading packs without a restart (admin role)."""

from __future__ import annotations

from fastapi import APIRouter, Body, Depends
from fastapi.concurrency import run_in_threadpool

from ...core.auth import Principal
from ...moderation import PolicyService
from ..deps import get_policies, require_admin
from ..openapi import AUTHENTICATED, errors

router = APIRouter(prefix="/v1/policies", tags=["policy"], responses={**AUTHENTICATED, **errors(403)})


@router.get("")
def list_policies(principal: Principal = Depends(require_admin),
                  policies: PolicyService = Depends(get_policies)) -> dict:
    return {"object": "list", "data": policies.describe()}


@router.post("/reload", responses=errors(404, 422, described={422: "A pack failed validation; the previous one stays active"}))
async def reload_policies(scope: str | None = Body(None, embed=True), principal: Principal = Depends(require_admin),
                          policies: PolicyService = Depends(get_policies)) -> dict:
    reloaded = await run_in_threadpool(lambda: policies.reload(scope, actor=principal.actor))
    return {"object": "list", "data": [p.to_dict() for p in reloaded]}

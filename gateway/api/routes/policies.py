"""/v1/policies: the policy pack active for each scope, and reloading packs without a restart (admin role)."""

from __future__ import annotations

from fastapi import APIRouter, Body, Depends
from fastapi.concurrency import run_in_threadpool

from ...auth import Principal
from ...runtime import Runtime
from ..deps import get_runtime, require_admin

router = APIRouter(prefix="/v1/policies", tags=["policy"])


@router.get("")
def list_policies(principal: Principal = Depends(require_admin), rt: Runtime = Depends(get_runtime)) -> dict:
    service = rt.policies
    return {"object": "list",
            "data": [{**p.to_dict(), "pack": service.pack(None if p.scope == "*" else p.scope).to_dict()}
                     for p in service.active()]}


@router.post("/reload")
async def reload_policies(scope: str | None = Body(None, embed=True), principal: Principal = Depends(require_admin),
                          rt: Runtime = Depends(get_runtime)) -> dict:
    reloaded = await run_in_threadpool(lambda: rt.policies.reload(scope, actor=principal.actor))
    return {"object": "list", "data": [p.to_dict() for p in reloaded]}

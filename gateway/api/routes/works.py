"""/v1/registered_works: rights holders' references (admin role)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool

from ...auth import Principal
from ...errors import Forbidden
from ...runtime import Runtime
from ...works import WorkRegistry
from ..deps import get_principal, get_runtime
from ..forms import file_field, read_form, text_field

router = APIRouter(prefix="/v1/registered_works", tags=["registered works"])


def require_admin(principal: Principal = Depends(get_principal)) -> Principal:
    if principal.role != "admin":
        raise Forbidden("Managing registered works needs an API key with the 'admin' role (HALLMARK_API_KEYS).")
    return principal


@router.post("")
async def add_work(request: Request, principal: Principal = Depends(require_admin),
                   rt: Runtime = Depends(get_runtime)) -> dict:
    form = await read_form(request, max_bytes=rt.settings.max_upload_bytes)
    data = await file_field(form, "file", max_bytes=rt.settings.max_upload_bytes, required=True)
    title = text_field(form, "title") or ""
    owner = text_field(form, "owner") or ""
    return await run_in_threadpool(lambda: WorkRegistry(rt).add(data=data, title=title, owner=owner,
                                                                actor=principal.actor))


@router.get("")
def list_works(principal: Principal = Depends(require_admin), rt: Runtime = Depends(get_runtime)) -> dict:
    return {"object": "list", "data": WorkRegistry(rt).list()}


@router.delete("/{work_id}")
def remove_work(work_id: str, principal: Principal = Depends(require_admin), rt: Runtime = Depends(get_runtime)) -> dict:
    WorkRegistry(rt).remove(work_id, actor=principal.actor)
    return {"id": work_id, "object": "registered_work.deleted", "deleted": True}

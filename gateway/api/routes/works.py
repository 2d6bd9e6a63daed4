"""/v1/registered_works: rights holders' references (admin role)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool

from ...core.auth import Principal
from ...core.settings import Settings
from ...registry import WorkRegistry
from ..deps import get_settings, get_works, require_admin
from ..forms import file_field, read_form, text_field
from ..openapi import AUTHENTICATED, errors, multipart_body

router = APIRouter(prefix="/v1/registered_works", tags=["registered works"], responses={**AUTHENTICATED, **errors(403)})


@router.post("", responses=errors(413, 415, 422),
             openapi_extra=multipart_body({"file": {"type": "string", "format": "binary"},
                                           "title": {"minLength": 1}, "owner": {}},
                                          required=["file", "title"]))
async def add_work(request: Request, principal: Principal = Depends(require_admin),
                   settings: Settings = Depends(get_settings), works: WorkRegistry = Depends(get_works)) -> dict:
    form = await read_form(request, max_bytes=settings.max_upload_bytes)
    data = await file_field(form, "file", max_bytes=settings.max_upload_bytes, required=True)
    title = text_field(form, "title") or ""
    owner = text_field(form, "owner") or ""
    return await run_in_threadpool(lambda: works.add(data=data, title=title, owner=owner, actor=principal.actor))


@router.get("")
def list_works(principal: Principal = Depends(require_admin), works: WorkRegistry = Depends(get_works)) -> dict:
    return {"object": "list", "data": works.list()}


@router.delete("/{work_id}", responses=errors(404))
def remove_work(work_id: str, principal: Principal = Depends(require_admin),
                works: WorkRegistry = Depends(get_works)) -> dict:
    works.remove(work_id, actor=principal.actor)
    return {"id": work_id, "object": "registered_work.deleted", "deleted": True}

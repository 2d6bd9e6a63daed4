"""/v1/hash_lists (admin): operators' lists of known-harmful images as PDQ hashes; every reference image and sampled
output frame is matched against them."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool

from ...core.auth import Principal
from ...core.settings import Settings
from ...moderation.hashlists import HashListService
from ..deps import get_hash_lists, get_settings, require_admin
from ..forms import file_field, read_form, text_field
from ..openapi import AUTHENTICATED, errors, multipart_body

router = APIRouter(prefix="/v1/hash_lists", tags=["hash lists"], responses={**AUTHENTICATED, **errors(403)})


@router.post("", responses=errors(413),
             openapi_extra=multipart_body({"name": {"pattern": "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"},
                                           "action": {"enum": ["block", "review"]},
                                           "file": {"type": "string", "format": "binary",
                                                    "description": "hex PDQ hashes, one a line, or a CSV column"}},
                                          required=["name", "file"]))
async def import_hash_list(request: Request, principal: Principal = Depends(require_admin),
                           settings: Settings = Depends(get_settings),
                           hash_lists: HashListService = Depends(get_hash_lists)) -> dict:
    form = await read_form(request, max_bytes=settings.max_upload_bytes)
    name = text_field(form, "name") or ""
    action = text_field(form, "action") or "block"
    upload = form.get("file")
    source = getattr(upload, "filename", None) or ""
    data = await file_field(form, "file", max_bytes=settings.max_upload_bytes, required=True)
    return await run_in_threadpool(lambda: hash_lists.import_list(name=name, action=action, data=data,
                                                                  source=source, actor=principal.actor))


@router.get("")
def list_hash_lists(principal: Principal = Depends(require_admin),
                    hash_lists: HashListService = Depends(get_hash_lists)) -> dict:
    return {"object": "list", "data": hash_lists.list()}


@router.delete("/{name}", responses=errors(404))
def remove_hash_list(name: str, principal: Principal = Depends(require_admin),
                     hash_lists: HashListService = Depends(get_hash_lists)) -> dict:
    hash_lists.remove(name, actor=principal.actor)
    return {"name": name, "object": "hash_list.deleted", "deleted": True}

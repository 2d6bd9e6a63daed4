"""/v1/videos/characters: a consenting person's likeness (OpenAI's ``videos.create_character`` and
``get_character``), its sharing with other accounts and its revocation; /v1/protected_persons (admin): people nobody
may depict. Registered before /v1/videos/{video_id}, so "characters" is never read as a video id."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from ...core.auth import Principal
from ...core.settings import Settings
from ...moderation.characters import CharacterService
from ..deps import get_characters, get_principal, get_settings, require_admin
from ..forms import file_field, read_form, text_field
from ..openapi import AUTHENTICATED, errors, multipart_body

router = APIRouter(prefix="/v1/videos/characters", tags=["characters"], responses=AUTHENTICATED)
admin_router = APIRouter(prefix="/v1/protected_persons", tags=["characters"],
                         responses={**AUTHENTICATED, **errors(403)})


_REGISTER_ERRORS = errors(409, 413, 415, 422, described={
    409: "The face is already registered (another account's character or a protected person)"})


class Share(BaseModel):
    tenant: str


@router.post("", responses=_REGISTER_ERRORS,
             openapi_extra=multipart_body({"name": {"minLength": 1, "maxLength": 80},
                                           "video": {"type": "string", "format": "binary",
                                                     "description": "a video (or image) of the person, face visible"}},
                                          required=["name", "video"]))
async def create_character(request: Request, principal: Principal = Depends(get_principal),
                           settings: Settings = Depends(get_settings),
                           characters: CharacterService = Depends(get_characters)) -> dict:
    form = await read_form(request, max_bytes=settings.max_upload_bytes)
    name = text_field(form, "name")
    video = await file_field(form, "video", max_bytes=settings.max_upload_bytes, required=True)
    return await run_in_threadpool(lambda: characters.create(principal, name=name, video=video))


@router.get("/{character_id}", responses=errors(404))
def get_character(character_id: str, principal: Principal = Depends(get_principal),
                  characters: CharacterService = Depends(get_characters)) -> dict:
    return characters.get(principal, character_id)


@router.delete("/{character_id}", responses=errors(404))
def revoke_character(character_id: str, principal: Principal = Depends(get_principal),
                     characters: CharacterService = Depends(get_characters)) -> dict:
    characters.revoke(principal, character_id)
    return {"id": character_id, "object": "character.deleted", "deleted": True}


@router.post("/{character_id}/shares", responses=errors(404))
def share_character(character_id: str, body: Share, principal: Principal = Depends(get_principal),
                    characters: CharacterService = Depends(get_characters)) -> dict:
    return characters.share(principal, character_id, body.tenant)


@router.delete("/{character_id}/shares/{tenant}", responses=errors(404))
def unshare_character(character_id: str, tenant: str, principal: Principal = Depends(get_principal),
                      characters: CharacterService = Depends(get_characters)) -> dict:
    return characters.unshare(principal, character_id, tenant)


@admin_router.post("", responses=_REGISTER_ERRORS,
                   openapi_extra=multipart_body({"name": {"minLength": 1, "maxLength": 80},
                                                 "file": {"type": "string", "format": "binary"}},
                                                required=["name", "file"]))
async def add_protected_person(request: Request, principal: Principal = Depends(require_admin),
                               settings: Settings = Depends(get_settings),
                               characters: CharacterService = Depends(get_characters)) -> dict:
    form = await read_form(request, max_bytes=settings.max_upload_bytes)
    name = text_field(form, "name")
    data = await file_field(form, "file", max_bytes=settings.max_upload_bytes, required=True)
    return await run_in_threadpool(lambda: characters.protect(name=name, data=data, actor=principal.actor))


@admin_router.get("")
def list_protected_persons(principal: Principal = Depends(require_admin),
                           characters: CharacterService = Depends(get_characters)) -> dict:
    return {"object": "list", "data": characters.protected()}


@admin_router.delete("/{person_id}", responses=errors(404))
def remove_protected_person(person_id: str, principal: Principal = Depends(require_admin),
                            characters: CharacterService = Depends(get_characters)) -> dict:
    characters.unprotect(person_id, actor=principal.actor)
    return {"id": person_id, "object": "protected_person.deleted", "deleted": True}

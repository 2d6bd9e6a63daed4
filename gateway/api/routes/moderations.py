"""POST /v1/moderations in OpenAI's shape, so moderation clients can use the prompt classifier directly."""

from __future__ import annotations

import secrets
from dataclasses import asdict

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from ...core.auth import Principal
from ...moderation import ModerationService
from ..deps import get_moderation, get_principal
from ..openapi import AUTHENTICATED

router = APIRouter(prefix="/v1", tags=["moderation"], responses=AUTHENTICATED)


class ModerationRequest(BaseModel):
    input: str | list[str]
    model: str | None = None


@router.post("/moderations")
async def create_moderation(body: ModerationRequest, principal: Principal = Depends(get_principal),
                            moderation: ModerationService = Depends(get_moderation)) -> dict:
    texts = [body.input] if isinstance(body.input, str) else list(body.input)
    checked = await run_in_threadpool(lambda: moderation.moderate_texts(texts, tenant=principal.tenant,
                                                                        actor=principal.actor))
    return {"id": "modr-" + secrets.token_hex(12), "model": checked.model,
            "results": [asdict(result) for result in checked.results]}

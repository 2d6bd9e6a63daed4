"""POST /v1/moderations in OpenAI's shape: text (the prompt classifier) and images (the image classifier), so
moderation clients can use Hallmark's classifiers directly."""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from dataclasses import asdict
from typing import Literal

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from ...core.auth import Principal
from ...core.errors import InvalidRequest
from ...moderation import ModerationService
from ...moderation.service import ModerationInput
from ..deps import get_moderation, get_principal
from ..openapi import AUTHENTICATED

router = APIRouter(prefix="/v1", tags=["moderation"], responses=AUTHENTICATED)

_DATA_URL = re.compile(r"data:image/[A-Za-z0-9.+-]+;base64,(?P<data>[A-Za-z0-9+/=\s]*)", re.S)


class ImageUrl(BaseModel):
    url: str


class TextPart(BaseModel):
    type: Literal["text"]
    text: str


class ImagePart(BaseModel):
    type: Literal["image_url"]
    image_url: ImageUrl


class ModerationRequest(BaseModel):
    # A string, a list of strings (one result each), or one multimodal input: a list of text and image parts
    # (one result for all of them), as OpenAI's API takes them.
    input: str | list[str] | list[TextPart | ImagePart]
    model: str | None = None


def _image_bytes(url: str) -> bytes:
    """A data URL's image bytes. Remote URLs are not fetched: the gateway reaches out to nobody on a client's say."""
    match = _DATA_URL.fullmatch(url.strip())
    if match is None:
        raise InvalidRequest("image_url.url must be a data URL (data:image/...;base64,...); remote images are not "
                             "fetched.", param="input")
    try:
        return base64.b64decode(match["data"], validate=False)
    except (binascii.Error, ValueError):
        raise InvalidRequest("image_url.url holds invalid base64.", param="input") from None


def _inputs(body: ModerationRequest) -> list[ModerationInput]:
    if isinstance(body.input, str):
        return [ModerationInput(text=body.input)]
    if all(isinstance(item, str) for item in body.input):
        return [ModerationInput(text=text) for text in body.input]
    if any(isinstance(item, str) for item in body.input):
        raise InvalidRequest("'input' mixes strings and parts; send a list of strings or a list of parts.",
                             param="input")
    texts = [part.text for part in body.input if isinstance(part, TextPart)]
    images = tuple(_image_bytes(part.image_url.url) for part in body.input if isinstance(part, ImagePart))
    return [ModerationInput(text="\n".join(texts) if texts else None, images=images)]


@router.post("/moderations")
async def create_moderation(body: ModerationRequest, principal: Principal = Depends(get_principal),
                            moderation: ModerationService = Depends(get_moderation)) -> dict:
    inputs = _inputs(body)
    checked = await run_in_threadpool(lambda: moderation.moderate_inputs(inputs, tenant=principal.tenant,
                                                                         actor=principal.actor))
    # The requested model is echoed (OpenAI answers with the model asked for); the classifiers that did the work
    # are named in ``hallmark_model``.
    return {"id": "modr-" + secrets.token_hex(12), "model": body.model or checked.model,
            "hallmark_model": checked.model, "results": [asdict(result) for result in checked.results]}

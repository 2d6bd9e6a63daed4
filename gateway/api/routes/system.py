"""Health and the model list."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from ...core.auth import Principal
from ..deps import check_health, get_principal, model_card
from ..schemas import Model

router = APIRouter(tags=["system"])


@router.get("/healthz")
def healthz(_healthy: None = Depends(check_health)) -> dict:
    return {"status": "ok"}


@router.get("/v1/models")
def list_models(principal: Principal = Depends(get_principal), generator=Depends(model_card)) -> dict:
    model = Model(id=generator.name, created=0, owned_by="hallmark", description=generator.description)
    return {"object": "list", "data": [model.model_dump()]}

"""Health and the model list."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from ...core.auth import Principal
from ..deps import check_health, dev_root_trusted, get_principal, model_card
from ..openapi import AUTHENTICATED
from ..schemas import Model

router = APIRouter(tags=["system"])


@router.get("/healthz")
def healthz(_healthy: None = Depends(check_health), trust_dev_root: bool = Depends(dev_root_trusted)) -> dict:
    return {"status": "ok", "trust_dev_root": trust_dev_root}


@router.get("/v1/models", responses=AUTHENTICATED)
def list_models(principal: Principal = Depends(get_principal), generator=Depends(model_card)) -> dict:
    model = Model(id=generator.name, created=0, owned_by="hallmark", description=generator.description)
    return {"object": "list", "data": [model.model_dump()]}

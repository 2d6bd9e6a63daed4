"""Health and the model list."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from ...auth import Principal
from ...runtime import Runtime
from ..deps import get_principal, get_runtime
from ..schemas import Model

router = APIRouter(tags=["system"])


@router.get("/healthz")
def healthz(rt: Runtime = Depends(get_runtime)) -> dict:
    with rt.db.engine.connect() as connection:
        connection.exec_driver_sql("SELECT 1")
    return {"status": "ok"}


@router.get("/v1/models")
def list_models(principal: Principal = Depends(get_principal), rt: Runtime = Depends(get_runtime)) -> dict:
    generator = rt.generator
    model = Model(id=generator.name, created=0, owned_by="hallmark", description=generator.description)
    return {"object": "list", "data": [model.model_dump()]}

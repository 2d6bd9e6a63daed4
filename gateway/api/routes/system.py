"""Health and the model list."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from ...core.auth import Principal
from ...generation.models import OPENAI_SIZES
from ...generation.service import GenerationService
from ..deps import check_health, dev_root_trusted, get_generation, get_principal, model_card
from ..openapi import AUTHENTICATED
from ..schemas import Model

router = APIRouter(tags=["system"])


@router.get("/healthz")
def healthz(_healthy: None = Depends(check_health), trust_dev_root: bool = Depends(dev_root_trusted)) -> dict:
    return {"status": "ok", "trust_dev_root": trust_dev_root}


@router.get("/v1/models", responses=AUTHENTICATED)
def list_models(principal: Principal = Depends(get_principal), generator=Depends(model_card),
                generation: GenerationService = Depends(get_generation)) -> dict:
    from generator import SUPPORTED_SIZES, capabilities_of

    info = getattr(generator, "info", {}) or {}
    native = info.get("native")
    sizes = {"min_side": SUPPORTED_SIZES.min_side, "max_side": SUPPORTED_SIZES.max_side,
             "multiple": SUPPORTED_SIZES.multiple, "openai_sizes": list(OPENAI_SIZES),
             "scaling": ("sampled at the native size, then resized (bicubic) to the requested size and "
                         "blended in time: no detail beyond the native size is added") if native else None}
    served = Model(id=generator.name, created=0, owned_by="hallmark", description=generator.description,
                   capabilities=sorted(capabilities_of(generator)), native=native, sizes=sizes)
    aliases = [Model(id=pattern.rstrip("*"), created=0, owned_by="hallmark", alias_of=target, matches=pattern,
                     description=f"An alias: requests naming it run {target}.",
                     capabilities=served.capabilities, native=native, sizes=sizes)
               for pattern, target in generation.model_aliases(generator.name)]
    return {"object": "list", "data": [m.model_dump() for m in (served, *aliases)]}

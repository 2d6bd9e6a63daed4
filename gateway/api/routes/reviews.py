"""/v1/reviews: jobs the policy sent to review wait here until an operator (admin role) approves or rejects them."""

from __future__ import annotations

from fastapi import APIRouter, Body, Depends

from ...core.auth import Principal
from ...generation.service import GenerationService
from ..deps import get_generation, require_admin
from ..openapi import AUTHENTICATED, errors
from ..schemas import Video

router = APIRouter(prefix="/v1/reviews", tags=["review"], responses={**AUTHENTICATED, **errors(403)})


@router.get("")
def list_reviews(principal: Principal = Depends(require_admin),
                 generation: GenerationService = Depends(get_generation)) -> dict:
    data = [{**Video.from_job(job).model_dump(), "tenant": job.tenant, "policy": job.policy,
             "decision_id": job.decision_id} for job in generation.pending_reviews()]
    return {"object": "list", "data": data}


@router.post("/{video_id}/approve", response_model=Video, responses=errors(404))
def approve(video_id: str, principal: Principal = Depends(require_admin),
            generation: GenerationService = Depends(get_generation)) -> Video:
    return Video.from_job(generation.decide_review(video_id, approve=True, actor=principal.actor))


@router.post("/{video_id}/reject", response_model=Video, responses=errors(404))
def reject(video_id: str, reason: str = Body("", embed=True), principal: Principal = Depends(require_admin),
           generation: GenerationService = Depends(get_generation)) -> Video:
    return Video.from_job(generation.decide_review(video_id, approve=False, actor=principal.actor, reason=reason))

"""POST /v1/moderations in OpenAI's shape, so moderation clients can use the prompt classifier directly."""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from ...audit import AuditEvent
from ...auth import Principal
from ...errors import InvalidRequest
from ...runtime import Runtime
from ..deps import get_principal, get_runtime

router = APIRouter(prefix="/v1", tags=["moderation"])
MAX_INPUTS = 64


class ModerationRequest(BaseModel):
    input: str | list[str]
    model: str | None = None


def _moderate(rt: Runtime, tenant: str, texts: list[str]) -> list[dict]:
    from classifiers import normalize_text

    engine = rt.policy_engine(tenant)
    results = []
    for text, scores in zip(texts, rt.classifier.score_batch(texts)):
        decision = engine.evaluate(text=normalize_text(text), scores=scores)
        results.append({
            "flagged": decision.action != "allow",
            "categories": {category: category in decision.flagged for category in scores},
            "category_scores": {category: round(float(score), 6) for category, score in scores.items()},
            "action": decision.action,
            "policy": decision.policy,
        })
    return results


@router.post("/moderations")
async def create_moderation(body: ModerationRequest, principal: Principal = Depends(get_principal),
                            rt: Runtime = Depends(get_runtime)) -> dict:
    texts = [body.input] if isinstance(body.input, str) else list(body.input)
    if not texts or len(texts) > MAX_INPUTS:
        raise InvalidRequest(f"'input' must hold 1 to {MAX_INPUTS} strings.", param="input")
    if any(len(text) > rt.settings.max_prompt_chars for text in texts):
        raise InvalidRequest(f"Each input must be at most {rt.settings.max_prompt_chars} characters.", param="input")
    results = await run_in_threadpool(_moderate, rt, principal.tenant, texts)
    rt.audit.append(AuditEvent(event="moderation.check", actor=principal.actor, tenant=principal.tenant,
                               data={"inputs": len(texts), "flagged": sum(r["flagged"] for r in results)}))
    return {"id": "modr-" + secrets.token_hex(12), "model": rt.classifier.name, "results": results}

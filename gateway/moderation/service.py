"""Moderation at request time: a prompt (and a reference image) is scored, the tenant's policy pack decides, and the
decision is audited. ``POST /v1/videos`` (through generation), ``hallmark generate`` and ``POST /v1/moderations``
all come here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from ..audit import AuditEvent, AuditLog
from ..core.errors import InvalidRequest, ModerationBlocked
from ..core.ids import new_decision_id
from ..core.lazy import Lazy
from ..registry.works import WorkRegistry
from .policies import PolicyService
from .references import ReferenceImage, inspect_reference

if TYPE_CHECKING:  # the classifier package imports torch; the CLI's audit commands should not pay for that
    from classifiers import PromptClassifier

MAX_TEXTS = 64


def _normalized(text: str) -> str:
    from classifiers import normalize_text

    return normalize_text(text)


@dataclass(frozen=True)
class Moderation:
    decision_id: str
    action: str
    policy: str
    flagged: list[str]
    categories: dict[str, float]
    reasons: list[str]


@dataclass(frozen=True)
class TextModeration:
    """One text's result in the shape of OpenAI's moderation API (plus the action and the pack that decided)."""

    flagged: bool
    categories: dict[str, bool]
    category_scores: dict[str, float]
    action: str
    policy: str


@dataclass(frozen=True)
class TextModerations:
    model: str
    results: list[TextModeration]


class ModerationService:
    def __init__(self, *, classifier: Lazy[PromptClassifier], policies: PolicyService, works: WorkRegistry,
                 audit: AuditLog, trust_anchors: Callable[[], str | None], max_prompt_chars: int) -> None:
        self._classifier = classifier
        self._policies = policies
        self._works = works
        self._audit = audit
        self._trust_anchors = trust_anchors
        self.max_prompt_chars = max_prompt_chars

    def inspect_reference(self, data: bytes, *, param: str = "input_reference") -> ReferenceImage:
        """Decode a reference image (415/422 for what is not one), look for faces, read its C2PA manifest."""
        return inspect_reference(data, trust_anchors_pem=self._trust_anchors(), param=param)

    def moderate(self, *, prompt: str, tenant: str, actor: str, reference: ReferenceImage | None = None,
                 hold_review: bool = False) -> Moderation:
        """Score the prompt (and the reference image: registered works → ``ip``, faces → ``real_person``), let the
        policy decide, audit the decision with the reference image's findings; refuse a block — and a review too,
        unless the caller can hold the job for an operator."""
        classifier = self._classifier.get()
        scores = dict(classifier.score(prompt))
        work = self._works.match(reference.frames) if reference is not None else None
        if work is not None and work.work_id is not None:
            scores["ip"] = max(scores["ip"], work.similarity)
        if reference is not None:  # a face in the reference image: the video may depict a real person
            scores["real_person"] = max(scores.get("real_person", 0.0), reference.real_person_score)
        # Deny/allow phrases match the normalised text, so "n4k3d" meets the same rules as "naked".
        decision = self._policies.engine(tenant).evaluate(text=_normalized(prompt), scores=scores)
        result = Moderation(
            decision_id=new_decision_id(), action=decision.action, policy=decision.policy,
            flagged=list(decision.flagged),
            categories={k: round(float(v), 4) for k, v in decision.categories.items()},
            reasons=[rule.reason for rule in decision.matched_rules],
        )
        self._audit.append(AuditEvent(
            event="policy.decision", actor=actor, tenant=tenant, object_id=result.decision_id,
            data={"action": result.action, "policy": result.policy, "flagged": result.flagged,
                  "scores": result.categories, "reasons": result.reasons,
                  "classifier": classifier.name,
                  "registered_work": work.to_dict() if work is not None and work.work_id else None,
                  "reference_image": reference.audit() if reference is not None else None},
            prompt=prompt,  # recorded as its SHA-256 (and sealed with AES-GCM in encrypted mode), never in clear
        ))
        if result.action == "block" or (result.action == "review" and not hold_review):
            verb = "blocked" if result.action == "block" else "held for review"
            raise ModerationBlocked(
                f"Your request was {verb} by policy {result.policy}: "
                + ("; ".join(result.reasons) or "no reason recorded"),
                param="prompt",
                code="moderation_blocked",
                extra={"categories": result.flagged, "decision_id": result.decision_id, "action": result.action},
            )
        return result

    def moderate_texts(self, texts: list[str], *, tenant: str, actor: str) -> TextModerations:
        """Score and decide each text without generating anything (``POST /v1/moderations``); audited as one
        ``moderation.check`` entry with counts only."""
        if not texts or len(texts) > MAX_TEXTS:
            raise InvalidRequest(f"'input' must hold 1 to {MAX_TEXTS} strings.", param="input")
        if any(len(text) > self.max_prompt_chars for text in texts):
            raise InvalidRequest(f"Each input must be at most {self.max_prompt_chars} characters.", param="input")
        classifier = self._classifier.get()
        engine = self._policies.engine(tenant)
        results = []
        for text, scores in zip(texts, classifier.score_batch(texts)):
            decision = engine.evaluate(text=_normalized(text), scores=scores)
            results.append(TextModeration(
                flagged=decision.action != "allow",
                categories={category: category in decision.flagged for category in scores},
                category_scores={category: round(float(score), 6) for category, score in scores.items()},
                action=decision.action, policy=decision.policy,
            ))
        self._audit.append(AuditEvent(event="moderation.check", actor=actor, tenant=tenant,
                                      data={"inputs": len(texts), "flagged": sum(r.flagged for r in results)}))
        return TextModerations(model=classifier.name, results=results)

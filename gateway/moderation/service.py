"""Moderation at request time: a prompt (and a reference image) is scored, the tenant's policy pack decides, and the
decision is audited. ``POST /v1/videos`` (through generation), ``hallmark generate`` and ``POST /v1/moderations``
all come here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from policies import CATEGORIES
from policies.visual import combine_decisions

from ..audit import AuditEvent, AuditLog
from ..core.errors import InvalidRequest, ModerationBlocked
from ..core.ids import new_decision_id
from ..core.lazy import Lazy
from ..registry.works import WorkRegistry
from .policies import PolicyService
from .references import ReferenceImage, SourceClip, inspect_reference, inspect_source_video
from .visual import VisualScreen

if TYPE_CHECKING:  # the classifier package imports torch; the CLI's audit commands should not pay for that
    from classifiers import PromptClassifier

MAX_TEXTS = 64
MAX_IMAGES = 16


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
class ModerationInput:
    """One input of ``POST /v1/moderations``: a text, images (the bytes of decoded data URLs), or both."""

    text: str | None = None
    images: tuple[bytes, ...] = ()


@dataclass(frozen=True)
class TextModeration:
    """One input's result in the shape of OpenAI's moderation API (plus the action and the pack that decided).
    ``category_applied_input_types`` says, per category, which of the input's kinds (text, image) it was judged on:
    an image is judged only for ``sexual`` (and ``sexual/minors`` when the text suggests a minor), the only thing
    the image classifier sees."""

    flagged: bool
    categories: dict[str, bool]
    category_scores: dict[str, float]
    category_applied_input_types: dict[str, list[str]]
    action: str
    policy: str


@dataclass(frozen=True)
class TextModerations:
    model: str
    results: list[TextModeration]


class ModerationService:
    def __init__(self, *, classifier: Lazy[PromptClassifier], policies: PolicyService, works: WorkRegistry,
                 audit: AuditLog, trust_anchors: Callable[[], str | None], max_prompt_chars: int,
                 visual: VisualScreen | None = None) -> None:
        """``visual``: screens reference pictures (image classifier, hash lists, registered likenesses)."""
        self._classifier = classifier
        self._visual = visual
        self._policies = policies
        self._works = works
        self._audit = audit
        self._trust_anchors = trust_anchors
        self.max_prompt_chars = max_prompt_chars

    def inspect_reference(self, data: bytes, *, param: str = "input_reference") -> ReferenceImage:
        """Decode a reference image (415/422 for what is not one), look for faces, read its C2PA manifest."""
        return inspect_reference(data, trust_anchors_pem=self._trust_anchors(), param=param)

    def inspect_source(self, data: bytes, *, param: str = "video") -> SourceClip:
        """Decode a few frames of a source video (415/422 for what is not one), look for faces, read its manifest."""
        return inspect_source_video(data, trust_anchors_pem=self._trust_anchors(), param=param)

    def moderate(self, *, prompt: str, tenant: str, actor: str, reference: ReferenceImage | SourceClip | None = None,
                 hold_review: bool = False, characters: str | None = None) -> Moderation:
        """Score the prompt (and the reference image: registered works → ``ip``, faces → ``real_person``), let the
        policy decide, audit the decision with the reference image's findings; refuse a block — and a review too,
        unless the caller can hold the job for an operator."""
        # The characters a request names (its ``characters`` field) must be ones this tenant may use (404 otherwise).
        used = self._visual.characters.require_usable(tenant, characters) if self._visual is not None else []
        classifier = self._classifier.get()
        scores = dict(classifier.score(prompt))
        # A consented character named in the prompt is no unconsented real person: judge real_person on the prompt
        # with those names replaced (any other name still counts).
        masked = self._visual.characters.mask_names(prompt, used) if used else []
        if masked:
            scores["real_person"] = max(float(classifier.score(text)["real_person"]) for text in masked)
        work = self._works.match(reference.frames) if reference is not None else None
        if work is not None and work.work_id is not None:
            scores["ip"] = max(scores["ip"], work.similarity)
        visual = (self._visual.screen_reference(reference.frames, tenant=tenant,
                                                minor_score=scores.get("sexual/minors"))
                  if reference is not None and self._visual is not None else None)
        # A face in the reference image: the video may depict a real person — unless every face found is a
        # character this tenant may use, which its owner consented to.
        if reference is not None and not (visual is not None and visual.only_consented_faces):
            scores["real_person"] = max(scores.get("real_person", 0.0), reference.real_person_score)
        # Deny/allow phrases match the normalised text, so "n4k3d" meets the same rules as "naked".
        decision = self._policies.engine(tenant).evaluate(text=_normalized(prompt), scores=scores)
        if visual is not None:
            decision = combine_decisions(decision, visual.decision)
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
                  "reference_image": reference.audit() if reference is not None else None,
                  "visual": visual.audit() if visual is not None else None, "characters": used,
                  "character_names_in_prompt": bool(masked)},
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
        return self.moderate_inputs([ModerationInput(text=t) for t in texts], tenant=tenant, actor=actor)

    def moderate_inputs(self, inputs: list[ModerationInput], *, tenant: str, actor: str) -> TextModerations:
        """Score and decide each input — text with the prompt classifier, images with the image classifier —
        without generating anything (``POST /v1/moderations``); audited as one ``moderation.check`` entry with
        counts only. Images are not matched against hash lists or likenesses here: this endpoint must not become
        an oracle for what those lists hold."""
        if not inputs or len(inputs) > MAX_TEXTS:
            raise InvalidRequest(f"'input' must hold 1 to {MAX_TEXTS} strings.", param="input")
        if any(item.text is not None and len(item.text) > self.max_prompt_chars for item in inputs):
            raise InvalidRequest(f"Each input must be at most {self.max_prompt_chars} characters.", param="input")
        if sum(len(item.images) for item in inputs) > MAX_IMAGES:
            raise InvalidRequest(f"At most {MAX_IMAGES} images per request.", param="input")
        if any(item.text is None and not item.images for item in inputs):
            raise InvalidRequest("Each input needs a text or an image.", param="input")
        from policies.visual import VisualSignals

        from ..media import decode_upload

        pictures = [[decode_upload(data, param="input", images_only=True).frames[0] for data in item.images]
                    for item in inputs]
        texts = [item.text for item in inputs if item.text is not None]
        classifier = self._classifier.get()
        text_scores = iter(classifier.score_batch(texts) if texts else [])
        engine = self._policies.engine(tenant)
        sexual_scorer = self._visual.scorer if self._visual is not None and any(pictures) else None
        results = []
        for item, images in zip(inputs, pictures):
            scores = dict(next(text_scores)) if item.text is not None else {}
            applied = {category: (["text"] if item.text is not None else []) for category in CATEGORIES}
            decision = engine.evaluate(text=_normalized(item.text), scores=scores) if scores else None
            if images and sexual_scorer is not None:
                image_sexual = float(sexual_scorer.score(images).max())
                seen = engine.visual.evaluate(VisualSignals(sexual=image_sexual, sexual_where="image",
                                                            minor_score=scores.get("sexual/minors")))
                decision = combine_decisions(decision, seen) if decision is not None else seen
                for category in seen.categories:
                    applied[category].append("image")
                    scores[category] = max(scores.get(category, 0.0), image_sexual)
            scores = {category: scores.get(category, 0.0) for category in CATEGORIES}
            results.append(TextModeration(
                flagged=decision.action != "allow",
                categories={category: category in decision.flagged for category in scores},
                category_scores={category: round(float(score), 6) for category, score in scores.items()},
                category_applied_input_types=applied, action=decision.action, policy=decision.policy,
            ))
        self._audit.append(AuditEvent(event="moderation.check", actor=actor, tenant=tenant,
                                      data={"inputs": len(inputs), "images": sum(map(len, pictures)),
                                            "flagged": sum(r.flagged for r in results)}))
        model = classifier.name + (f"+{sexual_scorer.name}" if sexual_scorer is not None else "")
        return TextModerations(model=model, results=results)

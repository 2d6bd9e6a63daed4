"""The generation pipeline, in the order of ARCHITECTURE.md:

policy decision (prompt + reference image) → generate → screen the output (registered works)
→ labels (visible label if the pack asks) → watermark (payload = content id) → encode H.264 MP4
(with the AIGC implicit label) → C2PA sign (soft binding, SB 942 disclosure) → registry record → audit entry.

The API's worker and ``hallmark generate`` both run exactly this module.
"""

from __future__ import annotations

import dataclasses
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable

import numpy as np

import watermark
from generator import GenerationRequest

from . import __version__
from .audit import AuditEvent
from .errors import ModerationBlocked, OutputBlocked
from .labels import Disclosure, draw_visible_label
from .marking import mark_and_encode
from .media import thumbnail_jpeg
from .provenance import (
    GenerationClaim,
    SigningError,
    build_manifest,
    content_id_binding_value,
    describe_material,
    read_provenance,
    sign_asset_with_store,
)
from .reference_images import ReferenceImage, png_bytes, reference_ingredient
from .registry import Registry, content_id_hex, fingerprint_frames
from .runtime import Runtime
from .works import WorkRegistry

Progress = Callable[[int], None]


def prompt_sha256(prompt: str) -> str:
    return hashlib.sha256(prompt.encode("utf-8")).hexdigest()


def new_content_id() -> int:
    return secrets.randbits(64)


def video_id_for(content_id: int) -> str:
    return f"video_{content_id_hex(content_id)}"


@dataclass(frozen=True)
class Moderation:
    decision_id: str
    action: str
    policy: str
    flagged: list[str]
    categories: dict[str, float]
    reasons: list[str]


def moderate(rt: Runtime, *, prompt: str, tenant: str, actor: str, reference: ReferenceImage | None = None,
             hold_review: bool = False) -> Moderation:
    """Score the prompt (and the reference image: registered works → ``ip``, faces → ``real_person``), let the
    policy decide, audit the decision with the reference image's findings; refuse a block — and a review too,
    unless the caller can hold the job for an operator."""
    from classifiers import normalize_text

    scores = dict(rt.classifier.score(prompt))
    work = WorkRegistry(rt).matcher().score(reference.frames) if reference is not None else None
    if work is not None and work.work_id is not None:
        scores["ip"] = max(scores["ip"], work.similarity)
    if reference is not None:  # a face in the reference image: the video may depict a real person
        scores["real_person"] = max(scores.get("real_person", 0.0), reference.real_person_score)
    # Deny/allow phrases match the normalised text, so "n4k3d" meets the same rules as "naked".
    decision = rt.policy_engine(tenant).evaluate(text=normalize_text(prompt), scores=scores)
    result = Moderation(
        decision_id="dec_" + secrets.token_hex(12), action=decision.action, policy=decision.policy,
        flagged=list(decision.flagged), categories={k: round(float(v), 4) for k, v in decision.categories.items()},
        reasons=[rule.reason for rule in decision.matched_rules],
    )
    rt.audit.append(AuditEvent(
        event="policy.decision", actor=actor, tenant=tenant, object_id=result.decision_id,
        data={"action": result.action, "policy": result.policy, "flagged": result.flagged,
              "scores": result.categories, "reasons": result.reasons,
              "classifier": rt.classifier.name,
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


def screen_output(rt: Runtime, job: "GenerationJob", frames: np.ndarray) -> None:
    """classifiers.output: match the generated frames against registered works; the policy decides."""
    work = WorkRegistry(rt).matcher().score(frames)
    if work.work_id is None or work.similarity <= 0:
        return
    decision = rt.policy_engine(job.tenant).evaluate(text="", scores={"ip": work.similarity})
    rt.audit.append(AuditEvent(
        event="policy.output_decision", actor=job.actor, tenant=job.tenant, object_id=job.video_id,
        data={"action": decision.action, "policy": decision.policy, "registered_work": work.to_dict(),
              "reasons": [rule.reason for rule in decision.matched_rules]},
    ))
    if decision.action != "allow":
        raise OutputBlocked(f"The generated video matches the registered work '{work.title}' ({work.work_id}, "
                            f"similarity {work.similarity:.2f}); policy {decision.policy} says {decision.action}.",
                            code="registered_work_match")


@dataclass(frozen=True)
class GenerationJob:
    video_id: str
    content_id: int
    tenant: str
    actor: str
    prompt: str
    seconds: int
    size: tuple[int, int]
    seed: int
    policy: str
    decision_id: str
    reference_image: np.ndarray | None = None
    reference_original: bytes | None = None  # the upload as sent, when it carried a C2PA manifest


@dataclass(frozen=True)
class MarkedVideo:
    mp4: bytes
    thumbnail: bytes
    manifest: dict
    fps: float
    frames: int


def produce(rt: Runtime, job: GenerationJob, progress: Progress = lambda _p: None) -> MarkedVideo:
    """Generate, watermark, encode, sign and record one video. Progress is reported in percent."""
    progress(2)
    model = rt.generator
    clip = model.generate(
        GenerationRequest(prompt=job.prompt, seconds=float(job.seconds), size=job.size, seed=job.seed,
                          reference_image=job.reference_image),
        progress=lambda fraction: progress(2 + int(68 * fraction)),
    )
    progress(70)
    screen_output(rt, job, clip.frames)
    labels = set(rt.policies.pack(job.tenant).labels)
    created_at = datetime.now(timezone.utc)
    model_version = str(getattr(model, "version", "1"))
    disclosure = Disclosure(provider=rt.settings.organization, system_name=model.name,
                            system_version=model_version, created_at=created_at,
                            content_id=content_id_hex(job.content_id), software=f"Hallmark {__version__}")
    if "visible_label_zh" in labels:  # GB 45438 §5.4: "AI生成" for operators serving Chinese users
        frames = draw_visible_label(clip.frames, clip.fps, language="zh")
    elif "visible_label" in labels:
        frames = draw_visible_label(clip.frames, clip.fps)
    else:
        frames = clip.frames
    progress(75)
    metadata = disclosure.aigc_metadata() if "aigc_metadata" in labels else None
    issued = mark_and_encode(frames, clip.fps, job.content_id, strength=rt.settings.watermark_strength,
                             crf=rt.settings.mp4_crf, metadata=metadata)
    marked, mp4 = issued.frames, issued.mp4
    progress(92)
    claim = GenerationClaim(
        content_id=job.content_id, video_id=job.video_id, model=model.name,
        model_version=model_version, seed=job.seed, policy=job.policy,
        decision_id=job.decision_id, prompt_sha256=prompt_sha256(job.prompt),
        created_at=created_at, watermark_alg=watermark.ALGORITHM,
        watermark_value=content_id_binding_value(job.content_id),
        software_version=__version__,
    )
    reference = reference_ingredient(rt, job.reference_image, job.reference_original)
    manifest = build_manifest(claim, reference=reference)
    manifest["assertions"].extend(disclosure.manifest_assertions(include_aigc="aigc_metadata" in labels))
    try:
        signed_asset = sign_asset_with_store(mp4, "video/mp4", manifest, rt.signing,
                                             ingredients=[reference] if reference else [])
    except SigningError:
        if reference is None or not reference.has_manifest:
            raise
        # c2pa-rs could not take the reference's own manifest (malformed): record the image without it.
        reference = dataclasses.replace(reference, data=png_bytes(job.reference_image), mime="image/png",
                                        has_manifest=False)
        signed_asset = sign_asset_with_store(mp4, "video/mp4", manifest, rt.signing, ingredients=[reference])
    signed = signed_asset.data
    manifest_id = read_provenance(signed, "video/mp4", trust_anchors_pem=None).active_manifest_id
    progress(96)
    Registry(rt.db).record(
        content_id=job.content_id, video_id=job.video_id, tenant=job.tenant, model=model.name,
        asset=signed, frame_hashes=fingerprint_frames(marked), watermark_alg=watermark.ALGORITHM,
        manifest_id=manifest_id, manifest_store=signed_asset.manifest_store,
    )
    rt.audit.append(AuditEvent(
        event="video.generated", actor=job.actor, tenant=job.tenant, object_id=job.video_id,
        data={"content_id": content_id_hex(job.content_id), "model": model.name, "seed": job.seed,
              "policy": job.policy, "decision_id": job.decision_id,
              "prompt_sha256": prompt_sha256(job.prompt), "asset_sha256": hashlib.sha256(signed).hexdigest(),
              "signer": _signer_fingerprint(rt), "watermark_alg": watermark.ALGORITHM,
              "watermark_strength": issued.strength, "watermark_reads_back": issued.verified,
              "manifest_id": manifest_id, "labels": sorted(labels),
              "reference_ingredient": _ingredient_audit(reference)},
    ))
    progress(99)
    return MarkedVideo(mp4=signed, thumbnail=thumbnail_jpeg(marked), manifest=manifest,
                       fps=clip.fps, frames=int(marked.shape[0]))


def _ingredient_audit(reference) -> dict | None:
    if reference is None:
        return None
    return {"format": reference.mime, "c2pa_manifest": reference.has_manifest,
            "watermark_content_id": reference.content_id, "registry_manifest_id": reference.registry_manifest_id}


def _signer_fingerprint(rt: Runtime) -> str:
    return str(describe_material(rt.signing).get("sha256_fingerprint", ""))

"""The generation pipeline, in the order of ARCHITECTURE.md:

policy decision → generate → watermark (payload = content id) → encode H.264 MP4 → C2PA sign
→ registry record → audit entry.

The API's worker and ``hallmark generate`` both run exactly this module.
"""

from __future__ import annotations

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
from .errors import ModerationBlocked
from .media import encode_mp4, thumbnail_jpeg
from .provenance import GenerationClaim, build_manifest, content_id_binding_value, describe_material, sign_asset
from .registry import Registry, content_id_hex, fingerprints
from .runtime import Runtime

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


def moderate(rt: Runtime, *, prompt: str, tenant: str, actor: str, raise_on_block: bool = True) -> Moderation:
    """Score the prompt, let the tenant's policy decide, audit the decision; refuse what is not allowed."""
    from classifiers import normalize_text

    scores = rt.classifier.score(prompt)
    # Deny/allow phrases match the normalised text, so "n4k3d" meets the same rules as "naked".
    decision = rt.policy_engine().evaluate(text=normalize_text(prompt), scores=scores)
    result = Moderation(
        decision_id="dec_" + secrets.token_hex(12), action=decision.action, policy=decision.policy,
        flagged=list(decision.flagged), categories={k: round(float(v), 4) for k, v in decision.categories.items()},
        reasons=[rule.reason for rule in decision.matched_rules],
    )
    rt.audit.append(AuditEvent(
        event="policy.decision", actor=actor, tenant=tenant, object_id=result.decision_id,
        data={"action": result.action, "policy": result.policy, "flagged": result.flagged,
              "scores": result.categories, "reasons": result.reasons,
              "classifier": rt.classifier.name, "prompt_sha256": prompt_sha256(prompt)},
    ))
    if raise_on_block and result.action != "allow":
        verb = "blocked" if result.action == "block" else "held for review"
        raise ModerationBlocked(
            f"Your request was {verb} by policy {result.policy}: "
            + ("; ".join(result.reasons) or "no reason recorded"),
            param="prompt",
            code="moderation_blocked",
            extra={"categories": result.flagged, "decision_id": result.decision_id, "action": result.action},
        )
    return result


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
    marked = watermark.embed(clip.frames, job.content_id, strength=rt.settings.watermark_strength)
    progress(82)
    mp4 = encode_mp4(marked, clip.fps, crf=rt.settings.mp4_crf)
    progress(92)
    claim = GenerationClaim(
        content_id=job.content_id, video_id=job.video_id, model=model.name,
        model_version=getattr(model, "version", "1"), seed=job.seed, policy=job.policy,
        decision_id=job.decision_id, prompt_sha256=prompt_sha256(job.prompt),
        created_at=datetime.now(timezone.utc), watermark_alg=watermark.ALGORITHM,
        watermark_value=content_id_binding_value(job.content_id),
        software_version=__version__,
    )
    manifest = build_manifest(claim)
    signed = sign_asset(mp4, "video/mp4", manifest, rt.signing)
    progress(96)
    Registry(rt.db).record(
        content_id=job.content_id, video_id=job.video_id, tenant=job.tenant, model=model.name,
        asset=signed, frame_hashes=fingerprints(marked), manifest=manifest,
    )
    rt.audit.append(AuditEvent(
        event="video.generated", actor=job.actor, tenant=job.tenant, object_id=job.video_id,
        data={"content_id": content_id_hex(job.content_id), "model": model.name, "seed": job.seed,
              "policy": job.policy, "decision_id": job.decision_id,
              "prompt_sha256": prompt_sha256(job.prompt), "asset_sha256": hashlib.sha256(signed).hexdigest(),
              "signer": _signer_fingerprint(rt), "watermark_alg": watermark.ALGORITHM},
    ))
    progress(99)
    return MarkedVideo(mp4=signed, thumbnail=thumbnail_jpeg(marked), manifest=manifest,
                       fps=clip.fps, frames=int(marked.shape[0]))


def _signer_fingerprint(rt: Runtime) -> str:
    return str(describe_material(rt.signing).get("sha256_fingerprint", ""))

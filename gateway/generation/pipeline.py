"""The worker-time pipeline, in the order of ARCHITECTURE.md: generate → screen the output (registered works) →
labels (visible label if the pack asks) → watermark (payload = content id) → encode H.264 MP4 (with the AIGC
implicit label) → C2PA sign (soft binding, SB 942 disclosure) → registry record → audit entry.

The API's worker and ``hallmark generate`` both run exactly this. The policy decision on the request was made
before (``gateway.moderation``); a job reaches here only once it is allowed.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Callable

import numpy as np

import watermark

from .. import __version__
from ..audit import AuditEvent, AuditLog
from ..core.errors import OutputBlocked
from ..core.ids import content_id_hex, prompt_sha256
from ..core.lazy import Lazy
from ..media import png_bytes, thumbnail_jpeg
from ..moderation.policies import PolicyService
from ..provenance import (
    GenerationClaim,
    SigningError,
    SigningMaterial,
    active_manifest_label,
    build_manifest,
    content_id_binding_value,
    describe_material,
    sign_asset_with_store,
)
from ..registry import Registry, WorkRegistry, fingerprint_frames
from .ingredients import reference_ingredient
from .labels import Disclosure, draw_visible_label
from .marking import mark_and_encode

if TYPE_CHECKING:  # the generator package imports torch
    from generator.types import VideoGenerator

Progress = Callable[[int], None]


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
class ProducedVideo:
    """What the pipeline hands back for one job: the signed MP4 and what the job row and the CLI report."""

    mp4: bytes
    thumbnail: bytes
    manifest: dict
    fps: float
    frames: int


@dataclass(frozen=True)
class MarkingOptions:
    organization: str  # the provider named in the disclosures
    watermark_strength: float
    mp4_crf: int
    tsa_url: str | None = None  # RFC 3161 time-stamp authority: keeps the manifest valid past the certificate's expiry


class Producer:
    def __init__(self, *, generator: Lazy[VideoGenerator], policies: PolicyService, works: WorkRegistry,
                 registry: Registry, audit: AuditLog, signing: Lazy[SigningMaterial], options: MarkingOptions) -> None:
        self._generator = generator
        self._policies = policies
        self._works = works
        self._registry = registry
        self._audit = audit
        self._signing = signing
        self._options = options

    def produce(self, job: GenerationJob, progress: Progress = lambda _p: None) -> ProducedVideo:
        """Generate, watermark, encode, sign and record one video. Progress is reported in percent."""
        progress(2)
        model = self._generator.get()
        from generator import GenerationRequest

        clip = model.generate(
            GenerationRequest(prompt=job.prompt, seconds=float(job.seconds), size=job.size, seed=job.seed,
                              reference_image=job.reference_image),
            progress=lambda fraction: progress(2 + int(68 * fraction)),
        )
        progress(70)
        self._screen_output(job, clip.frames)
        labels = set(self._policies.pack(job.tenant).labels)
        created_at = datetime.now(timezone.utc)
        model_version = str(getattr(model, "version", "1"))
        disclosure = Disclosure(provider=self._options.organization, system_name=model.name,
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
        issued = mark_and_encode(frames, clip.fps, job.content_id, strength=self._options.watermark_strength,
                                 crf=self._options.mp4_crf, metadata=metadata)
        progress(92)
        claim = GenerationClaim(
            content_id=job.content_id, video_id=job.video_id, model=model.name,
            model_version=model_version, seed=job.seed, policy=job.policy,
            decision_id=job.decision_id, prompt_sha256=prompt_sha256(job.prompt),
            created_at=created_at, watermark_alg=watermark.ALGORITHM,
            watermark_value=content_id_binding_value(job.content_id),
            software_version=__version__,
        )
        reference = reference_ingredient(job.reference_image, job.reference_original, registry=self._registry)
        manifest = build_manifest(claim, reference=reference)
        manifest["assertions"].extend(disclosure.manifest_assertions(include_aigc="aigc_metadata" in labels))
        signing = self._signing.get()
        try:
            signed_asset = sign_asset_with_store(issued.mp4, "video/mp4", manifest, signing,
                                                 tsa_url=self._options.tsa_url,
                                                 ingredients=[reference] if reference else [])
        except SigningError:
            if reference is None or not reference.has_manifest:
                raise
            # c2pa-rs could not take the reference's own manifest (malformed): record the image without it.
            reference = dataclasses.replace(reference, data=png_bytes(job.reference_image), mime="image/png",
                                            has_manifest=False)
            signed_asset = sign_asset_with_store(issued.mp4, "video/mp4", manifest, signing,
                                                 tsa_url=self._options.tsa_url, ingredients=[reference])
        signed = signed_asset.data
        manifest_id = active_manifest_label(signed_asset.manifest_store)
        progress(96)
        self._registry.record(
            content_id=job.content_id, video_id=job.video_id, tenant=job.tenant, model=model.name,
            asset=signed, frame_hashes=fingerprint_frames(issued.frames), watermark_alg=watermark.ALGORITHM,
            manifest_id=manifest_id, manifest_store=signed_asset.manifest_store,
        )
        self._audit.append(AuditEvent(
            event="video.generated", actor=job.actor, tenant=job.tenant, object_id=job.video_id,
            data={"content_id": content_id_hex(job.content_id), "model": model.name, "seed": job.seed,
                  "policy": job.policy, "decision_id": job.decision_id,
                  "prompt_sha256": prompt_sha256(job.prompt), "asset_sha256": hashlib.sha256(signed).hexdigest(),
                  "signer": str(describe_material(signing).get("sha256_fingerprint", "")),
                  "watermark_alg": watermark.ALGORITHM,
                  "watermark_strength": issued.strength, "watermark_reads_back": issued.verified,
                  "manifest_id": manifest_id, "labels": sorted(labels),
                  "reference_ingredient": _ingredient_audit(reference)},
        ))
        progress(99)
        return ProducedVideo(mp4=signed, thumbnail=thumbnail_jpeg(issued.frames), manifest=manifest,
                             fps=clip.fps, frames=int(issued.frames.shape[0]))

    def _screen_output(self, job: GenerationJob, frames: np.ndarray) -> None:
        """Match the generated frames against registered works; the policy decides."""
        work = self._works.match(frames)
        if work.work_id is None or work.similarity <= 0:
            return
        decision = self._policies.engine(job.tenant).evaluate(text="", scores={"ip": work.similarity})
        self._audit.append(AuditEvent(
            event="policy.output_decision", actor=job.actor, tenant=job.tenant, object_id=job.video_id,
            data={"action": decision.action, "policy": decision.policy, "registered_work": work.to_dict(),
                  "reasons": [rule.reason for rule in decision.matched_rules]},
        ))
        if decision.action != "allow":
            raise OutputBlocked(f"The generated video matches the registered work '{work.title}' ({work.work_id}, "
                                f"similarity {work.similarity:.2f}); policy {decision.policy} says {decision.action}.",
                                code="registered_work_match")


def _ingredient_audit(reference) -> dict | None:
    if reference is None:
        return None
    return {"format": reference.mime, "c2pa_manifest": reference.has_manifest,
            "watermark_content_id": reference.content_id, "registry_manifest_id": reference.registry_manifest_id}

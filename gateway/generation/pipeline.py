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
from ..media import png_bytes, spritesheet_jpeg, thumbnail_jpeg
from ..moderation.policies import PolicyService
from ..moderation.visual import VisualScreen
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
from .ingredients import parent_ingredient, reference_ingredient
from .labels import Disclosure, draw_visible_label
from .marking import mark_and_encode
from .sources import extension_seconds, resample

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
    source: JobSource | None = None  # remix, edit, extend


@dataclass(frozen=True)
class JobSource:
    """The source clip of a video-to-video job."""

    operation: str  # remix | edit | extend
    data: bytes  # the file, as sent or as we stored it (the parent ingredient)
    frames: np.ndarray  # all of its frames, T×H×W×3 uint8 RGB
    fps: float
    has_manifest: bool
    parent_content_id: int | None = None  # known when the source is one of our videos (by id)

    @property
    def seconds(self) -> float:
        return self.frames.shape[0] / self.fps


@dataclass(frozen=True)
class ProducedVideo:
    """What the pipeline hands back for one job: the signed MP4 and what the job row and the CLI report."""

    mp4: bytes
    thumbnail: bytes
    spritesheet: bytes
    manifest: dict
    fps: float
    frames: int


@dataclass(frozen=True)
class MarkingOptions:
    organization: str  # the provider named in the disclosures
    watermark_strength: float
    mp4_crf: int
    tsa_url: str | None = None  # RFC 3161 time-stamp authority: keeps the manifest valid past the certificate's expiry
    remix_strength: float | None = None  # how much of a remixed or edited source is re-noised; None: model default


class Producer:
    def __init__(self, *, generator: Lazy[VideoGenerator], policies: PolicyService, works: WorkRegistry,
                 registry: Registry, audit: AuditLog, signing: Lazy[SigningMaterial], options: MarkingOptions,
                 visual: VisualScreen | None = None) -> None:
        """``visual``: screens the generated frames (image classifier, hash lists, likenesses) before marking."""
        self._visual = visual
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

        seconds, source = float(job.seconds), None
        if job.source is not None:
            source = self._source_video(job.source)
            if job.source.operation == "extend":
                seconds = extension_seconds(job.seconds, job.source.seconds)
        clip = model.generate(
            GenerationRequest(prompt=job.prompt, seconds=seconds, size=job.size, seed=job.seed,
                              reference_image=job.reference_image, source=source),
            progress=lambda fraction: progress(2 + int(68 * fraction)),
        )
        if job.source is not None and job.source.operation == "extend":
            # The stitched clip: the source (at the new frames' rate and size) and then what continues it.
            clip = dataclasses.replace(clip, frames=np.concatenate(
                [resample(job.source.frames, job.source.fps, clip.fps, job.size), clip.frames]))
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
        parent = parent_mark = None
        if job.source is not None:
            parent, parent_mark = parent_ingredient(job.source.data, job.source.frames,
                                                    has_manifest=job.source.has_manifest, registry=self._registry,
                                                    known_content_id=job.source.parent_content_id)
        manifest = build_manifest(claim, reference=reference, parent=parent,
                                  operation=job.source.operation if job.source is not None else "create")
        manifest["assertions"].extend(disclosure.manifest_assertions(include_aigc="aigc_metadata" in labels))
        signing = self._signing.get()
        ingredients = [i for i in (parent, reference) if i is not None]
        try:
            signed_asset = sign_asset_with_store(issued.mp4, "video/mp4", manifest, signing,
                                                 tsa_url=self._options.tsa_url, ingredients=ingredients)
        except SigningError:
            if reference is None or not reference.has_manifest:
                raise
            # c2pa-rs could not take the reference's own manifest (malformed): record the image without it.
            reference = dataclasses.replace(reference, data=png_bytes(job.reference_image), mime="image/png",
                                            has_manifest=False)
            signed_asset = sign_asset_with_store(issued.mp4, "video/mp4", manifest, signing,
                                                 tsa_url=self._options.tsa_url,
                                                 ingredients=[i for i in (parent, reference) if i is not None])
        signed = signed_asset.data
        manifest_id = active_manifest_label(signed_asset.manifest_store)
        progress(96)
        self._registry.record(
            content_id=job.content_id, video_id=job.video_id, tenant=job.tenant, model=model.name,
            asset=signed, frame_hashes=fingerprint_frames(issued.frames), watermark_alg=watermark.ALGORITHM,
            manifest_id=manifest_id, manifest_store=signed_asset.manifest_store,
            parent_content_id=parent_mark.content_id if parent_mark is not None else None,
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
                  "reference_ingredient": _ingredient_audit(reference),
                  "operation": job.source.operation if job.source is not None else "create",
                  "parent_ingredient": _ingredient_audit(parent)},
        ))
        progress(99)
        return ProducedVideo(mp4=signed, thumbnail=thumbnail_jpeg(issued.frames),
                             spritesheet=spritesheet_jpeg(issued.frames), manifest=manifest,
                             fps=clip.fps, frames=int(issued.frames.shape[0]))

    def _source_video(self, source: JobSource):
        from generator import CONTINUE, TRANSFORM, SourceVideo

        mode = CONTINUE if source.operation == "extend" else TRANSFORM
        return SourceVideo(frames=source.frames, fps=source.fps, mode=mode, strength=self._options.remix_strength)

    def _screen_output(self, job: GenerationJob, frames: np.ndarray) -> None:
        """Screen the generated frames (sexual content, hash lists, likenesses; then registered works); the policy
        decides, and a refusal raises before anything is marked, stored or signed."""
        if self._visual is not None:
            self._visual.screen_output(frames, tenant=job.tenant, actor=job.actor, video_id=job.video_id,
                                       prompt=job.prompt)
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

"""The layers of a provenance check — the C2PA manifest, the watermark, the registry record — and the verdict record
that holds what each found. Each layer is read on its own; ``gateway.verification.service`` runs them in order."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import watermark

from ..core.ids import content_id_hex
from ..provenance import ProvenanceReport
from ..registry import RegistryMatch
from .assessment import Assessment, assess
from .trust import TrustSource


@dataclass(frozen=True)
class WatermarkResult:
    detected: bool
    content_id: str | None
    confidence: float
    note: str | None = None

    def to_dict(self) -> dict:
        out = {"type": "watermark", "outcome": "detected" if self.detected else "not_detected",
               "algorithm": watermark.ALGORITHM, "content_id": self.content_id,
               "confidence": round(self.confidence, 4)}
        if self.note:
            out["note"] = self.note
        return out


@dataclass(frozen=True)
class Verdict:
    mime: str
    sha256: str
    c2pa: ProvenanceReport
    watermark: WatermarkResult
    registry: RegistryMatch | None
    recovered: ProvenanceReport | None = None  # the registry's manifest store, validated against this file
    check_id: str = ""
    kept_as: str | None = None  # where the upload was kept (HALLMARK_KEEP_CHECK_UPLOADS), else None
    # What vouched for a ``trusted`` manifest ("trust anchors" or "development root"); None when not trusted.
    trust: TrustSource | None = None
    recovered_trust: TrustSource | None = None
    # Per-segment findings (gateway.verification.timeline.Segment), in time order; empty when not asked for.
    timeline: tuple = ()

    @property
    def generated_here(self) -> bool:
        return self.registry is not None or (self.c2pa.state == "trusted" and self.c2pa.generation is not None)

    @property
    def assessment(self) -> Assessment:
        """The overall verdict over the three layers (gateway.verification.assessment)."""
        return assess(self)

    def results(self) -> list[dict]:
        c2pa = {
            "type": "c2pa",
            "outcome": "not_detected" if self.c2pa.state == "not_present" else "detected",
            "validation_state": self.c2pa.state,
            "trust": self.trust,
            "issuer": self.c2pa.issuer,
            "signed_at": self.c2pa.signed_at,
            "time_stamped": self.c2pa.time_stamped,
            "generated_at": self.c2pa.generated_at,
            "claim_generator": self.c2pa.claim_generator,
            "actions": list(self.c2pa.actions),
            "ingredients": list(self.c2pa.ingredients),
            "model": (self.c2pa.generation or {}).get("model"),
            "content_id": (self.c2pa.generation or {}).get("content_id"),
            "validation_codes": list(self.c2pa.validation_codes),
        }
        registry = {"type": "registry", "outcome": "matched" if self.registry else "not_matched"}
        if self.registry:
            registry.update(self.registry.to_dict())
        if self.recovered is not None:
            # Durable content credentials: the original manifest, checked against the bytes submitted.
            # The manifest itself comes with it (as c2pa-rs reads it); its signed bytes are at `manifest_url`.
            store = self.recovered.manifest_json or {}
            registry["recovered_manifest"] = {"validation_state": self.recovered.state,
                                              "trust": self.recovered_trust,
                                              "issuer": self.recovered.issuer,
                                              "validation_codes": list(self.recovered.validation_codes),
                                              "actions": list(self.recovered.actions),
                                              "ingredients": list(self.recovered.ingredients),
                                              "manifest_url": f"/manifests/{self.registry.manifest_id}",
                                              "manifest": (store.get("manifests") or {}).get(
                                                  self.recovered.active_manifest_id)}
        return [c2pa, self.watermark.to_dict(), registry]

    def timeline_dicts(self) -> list[dict]:
        return [segment.to_dict() for segment in self.timeline]


def extract_watermark(frames: np.ndarray, *, search: bool = True) -> WatermarkResult:
    """The watermark layer: the content id the frames carry, if any (``search``: see ``watermark.extract``)."""
    try:
        detection = watermark.extract(frames, search=search)
    except watermark.WatermarkError as exc:
        return WatermarkResult(detected=False, content_id=None, confidence=0.0, note=str(exc))
    if detection.payload is None:
        return WatermarkResult(detected=False, content_id=None, confidence=float(detection.confidence))
    return WatermarkResult(detected=True, content_id=content_id_hex(detection.payload),
                           confidence=float(detection.confidence))

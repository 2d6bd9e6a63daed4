"""Verification: C2PA state, watermark, registry lookup → a Verdict. Submitted content is not retained."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import watermark

from .audit import AuditEvent
from .provenance import ProvenanceReport, read_provenance
from .registry import Registry, RegistryMatch, content_id_hex, fingerprint_frames
from .runtime import Runtime
from .uploads import decode_upload


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

    @property
    def generated_here(self) -> bool:
        return self.registry is not None or (self.c2pa.state == "trusted" and self.c2pa.generation is not None)

    def results(self) -> list[dict]:
        c2pa = {
            "type": "c2pa",
            "outcome": "not_detected" if self.c2pa.state == "not_present" else "detected",
            "validation_state": self.c2pa.state,
            "issuer": self.c2pa.issuer,
            "generated_at": self.c2pa.generated_at,
            "model": (self.c2pa.generation or {}).get("model"),
            "content_id": (self.c2pa.generation or {}).get("content_id"),
            "validation_codes": list(self.c2pa.validation_codes),
        }
        registry = {"type": "registry", "outcome": "matched" if self.registry else "not_matched"}
        if self.registry:
            registry.update(self.registry.to_dict())
        if self.recovered is not None:
            # Durable content credentials: the original manifest, checked against the bytes submitted.
            registry["recovered_manifest"] = {"validation_state": self.recovered.state,
                                              "issuer": self.recovered.issuer,
                                              "validation_codes": list(self.recovered.validation_codes)}
        return [c2pa, self.watermark.to_dict(), registry]


def verify_bytes(rt: Runtime, data: bytes, *, tenant: str | None, actor: str) -> Verdict:
    media = decode_upload(data, param="file")
    mime = media.mime
    c2pa = read_provenance(data, mime, trust_anchors_pem=rt.trust_anchors_pem)
    wm = _extract(media.frames)
    registry = Registry(rt.db)
    match = None
    if c2pa.active_manifest_id and c2pa.state != "invalid":
        match = registry.by_manifest_id(c2pa.active_manifest_id)
    if match is None and wm.detected and wm.content_id is not None:
        match = registry.by_content_id(int(wm.content_id, 16))
    if match is None:
        match = registry.by_fingerprint(fingerprint_frames(media.frames))
    recovered = None
    if match is not None and c2pa.state == "not_present" and match.manifest_id:
        store = registry.manifest_store(match.manifest_id)
        if store:
            recovered = read_provenance(data, mime, trust_anchors_pem=rt.trust_anchors_pem, manifest_store=store)
    verdict = Verdict(mime=mime, sha256=hashlib.sha256(data).hexdigest(), c2pa=c2pa, watermark=wm, registry=match,
                      recovered=recovered)
    rt.audit.append(AuditEvent(
        event="provenance.check", actor=actor, tenant=tenant, object_id=match.video_id if match else None,
        data={"asset_sha256": verdict.sha256, "mime": mime, "c2pa": c2pa.state,
              "watermark": wm.content_id, "registry": match.method if match else None},
    ))
    return verdict


def _extract(frames) -> WatermarkResult:
    try:
        detection = watermark.extract(frames)
    except watermark.WatermarkError as exc:
        return WatermarkResult(detected=False, content_id=None, confidence=0.0, note=str(exc))
    if detection.payload is None:
        return WatermarkResult(detected=False, content_id=None, confidence=float(detection.confidence))
    return WatermarkResult(detected=True, content_id=content_id_hex(detection.payload),
                           confidence=float(detection.confidence))

"""Verification: C2PA state, watermark, registry lookup → a Verdict. Submitted content is not retained unless the
operator asks for it (``HALLMARK_KEEP_CHECK_UPLOADS``: kept under ``<data dir>/checks/<check id>``)."""

from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import watermark

from .assessment import Assessment, assess
from .audit import AuditEvent
from .provenance import ProvenanceReport, read_provenance
from .registry import Registry, RegistryMatch, content_id_hex, fingerprint_frames, sample_indices
from .runtime import Runtime
from .uploads import decode_upload

# The watermark pools evidence over every frame it is given; a long or large video gives far more than it needs.
# Extraction reads at most this many pixels (evenly spread frames): a 2 s 640x360 clip at 24 fps in full, which is
# what the watermark bench's attacks are measured on; 12 frames of a 720p video. Time grows with it (~20 ms per
# 720p frame), evidence too.
WATERMARK_PIXEL_BUDGET = 48 * 640 * 360
_EXTENSIONS = {"video/mp4": "mp4", "video/quicktime": "mov", "video/webm": "webm", "video/x-matroska": "mkv",
               "image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "image/gif": "gif"}


def watermark_indices(total: int, height: int, width: int) -> np.ndarray:
    """The frames of a `total`-frame video the watermark is extracted from (WATERMARK_PIXEL_BUDGET)."""
    count = max(1, min(total, WATERMARK_PIXEL_BUDGET // max(1, height * width)))
    return np.unique(np.linspace(0, max(total - 1, 0), num=count).round().astype(int))


def _selection(total: int, height: int, width: int) -> list[int]:
    return sorted(set(watermark_indices(total, height, width).tolist()) | set(sample_indices(total).tolist()))


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

    @property
    def generated_here(self) -> bool:
        return self.registry is not None or (self.c2pa.state == "trusted" and self.c2pa.generation is not None)

    @property
    def assessment(self) -> Assessment:
        """The overall verdict over the three layers (gateway.assessment)."""
        return assess(self)

    def results(self) -> list[dict]:
        c2pa = {
            "type": "c2pa",
            "outcome": "not_detected" if self.c2pa.state == "not_present" else "detected",
            "validation_state": self.c2pa.state,
            "issuer": self.c2pa.issuer,
            "signed_at": self.c2pa.signed_at,
            "generated_at": self.c2pa.generated_at,
            "claim_generator": self.c2pa.claim_generator,
            "actions": list(self.c2pa.actions),
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
                                              "issuer": self.recovered.issuer,
                                              "validation_codes": list(self.recovered.validation_codes),
                                              "actions": list(self.recovered.actions),
                                              "manifest_url": f"/manifests/{self.registry.manifest_id}",
                                              "manifest": (store.get("manifests") or {}).get(
                                                  self.recovered.active_manifest_id)}
        return [c2pa, self.watermark.to_dict(), registry]


def new_check_id() -> str:
    return "cpc_" + secrets.token_hex(12)


def verify_bytes(rt: Runtime, data: bytes, *, tenant: str | None, actor: str, check_id: str | None = None) -> Verdict:
    check_id = check_id or new_check_id()
    # Decoded once for every layer: the frames the watermark reads and the frames the fingerprint samples (a video's
    # other frames are not converted, and long ones skip their non-reference frames).
    media = decode_upload(data, param="file", select=_selection)
    mime = media.mime
    c2pa = read_provenance(data, mime, trust_anchors_pem=rt.trust_anchors_pem)
    if media.indices is None:
        wm_frames = fp_frames = media.frames
    else:
        height, width = media.frames.shape[1:3]
        wm_frames = _pick(media, watermark_indices(media.total_frames, height, width))
        fp_frames = _pick(media, sample_indices(media.total_frames))
    wm = _extract(wm_frames)
    registry = Registry(rt.db)
    match = None
    if c2pa.active_manifest_id and c2pa.state != "invalid":
        match = registry.by_manifest_id(c2pa.active_manifest_id)
    if match is None and wm.detected and wm.content_id is not None:
        match = registry.by_content_id(int(wm.content_id, 16))
    if match is None:
        match = registry.by_fingerprint(fingerprint_frames(fp_frames))
    recovered = None
    if match is not None and c2pa.state == "not_present" and match.manifest_id:
        store = registry.manifest_store(match.manifest_id)
        if store:
            recovered = read_provenance(data, mime, trust_anchors_pem=rt.trust_anchors_pem, manifest_store=store)
    kept = _keep(rt, check_id, mime, data) if rt.settings.keep_check_uploads else None
    verdict = Verdict(mime=mime, sha256=hashlib.sha256(data).hexdigest(), c2pa=c2pa, watermark=wm, registry=match,
                      recovered=recovered, check_id=check_id, kept_as=kept)
    event = {"asset_sha256": verdict.sha256, "mime": mime, "c2pa": c2pa.state, "check_id": check_id,
             "watermark": wm.content_id, "registry": match.method if match else None}
    if kept:
        event["kept_as"] = kept
    rt.audit.append(AuditEvent(event="provenance.check", actor=actor, tenant=tenant,
                               object_id=match.video_id if match else None, data=event))
    return verdict


def _pick(media, wanted: np.ndarray) -> np.ndarray:
    """The decoded frames standing for the source indices `wanted` (all of them without a copy, when they are)."""
    positions = np.searchsorted(media.indices, wanted)
    inside = np.minimum(positions, media.indices.size - 1)
    positions = positions[(positions < media.indices.size) & (media.indices[inside] == wanted)]
    if positions.size == media.indices.size:
        return media.frames
    return media.frames[positions]


def checks_dir(rt: Runtime) -> Path:
    return Path(rt.settings.data_dir) / "checks"


def _keep(rt: Runtime, check_id: str, mime: str, data: bytes) -> str:
    """Write the checked upload to <data dir>/checks/<check id>.<ext> (owner-only); returns the path relative to
    the data dir."""
    folder = checks_dir(rt)
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{check_id}.{_EXTENSIONS.get(mime, 'bin')}"
    fd = os.open(folder / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    return f"checks/{name}"


def _extract(frames) -> WatermarkResult:
    try:
        detection = watermark.extract(frames)
    except watermark.WatermarkError as exc:
        return WatermarkResult(detected=False, content_id=None, confidence=0.0, note=str(exc))
    if detection.payload is None:
        return WatermarkResult(detected=False, content_id=None, confidence=float(detection.confidence))
    return WatermarkResult(detected=True, content_id=content_id_hex(detection.payload),
                           confidence=float(detection.confidence))

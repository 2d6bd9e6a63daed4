"""Provenance checks as a use case: a file is decoded once, its layers read (C2PA, watermark, registry by manifest,
watermark id or fingerprint), the result audited. Also the C2PA Soft Binding Resolution lookups, which are registry
reads by watermark or fingerprint.

Submitted content is not retained unless the operator asks for it (``HALLMARK_KEEP_CHECK_UPLOADS``: kept under
``<data dir>/checks/<check id>``)."""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import Callable

import numpy as np

import watermark

from ..audit import AuditEvent, AuditLog
from ..core.errors import InvalidRequest
from ..core.ids import new_check_id
from ..media import decode_upload
from ..media.sampling import watermark_indices
from ..provenance import read_provenance
from ..registry import FINGERPRINT_ALG, Registry, RegistryMatch, sample_indices
from ..registry.fingerprint import frame_fingerprint
from ..store.assets import AssetStore
from .layers import Verdict, extract_watermark
from .timeline import read_timeline, timeline_indices
from .trust import TrustAnchors

_EXTENSIONS = {"video/mp4": "mp4", "video/quicktime": "mov", "video/webm": "webm", "video/x-matroska": "mkv",
               "image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "image/gif": "gif"}

# The Soft Binding Resolution API names our fingerprint algorithm in the reverse-domain form C2PA asks for.
FINGERPRINT_SBR_ALG = f"com.hallmark.{FINGERPRINT_ALG}"


def _selection(total: int, height: int, width: int) -> list[int]:
    """Every frame a check uses: the watermark's and the fingerprint's."""
    return sorted(set(watermark_indices(total, height, width).tolist()) | set(sample_indices(total).tolist()))


def _selection_with_timeline(total: int, height: int, width: int) -> list[int]:
    """The check's frames and the timeline's (gateway.verification.timeline)."""
    return sorted(set(_selection(total, height, width)) | set(timeline_indices(total, height, width).tolist()))


def _pick(media, wanted: np.ndarray) -> np.ndarray:
    """The decoded frames standing for the source indices `wanted` (all of them without a copy, when they are)."""
    positions = np.searchsorted(media.indices, wanted)
    inside = np.minimum(positions, media.indices.size - 1)
    positions = positions[(positions < media.indices.size) & (media.indices[inside] == wanted)]
    if positions.size == media.indices.size:
        return media.frames
    return media.frames[positions]


def _decode_value(value: str, *, size: int) -> bytes:
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidRequest("'value' must be base64.", param="value")
    if len(raw) != size:
        raise InvalidRequest(f"'value' must decode to {size} bytes, got {len(raw)}.", param="value")
    return raw


class VerificationService:
    def __init__(self, *, registry: Registry, audit: AuditLog, trust: Callable[[], TrustAnchors],
                 kept_uploads: AssetStore | None) -> None:
        """``trust``: the roots a check trusts (asked for on first use: the development root is made lazily).
        ``kept_uploads``: where each checked file is kept (the data directory's ``checks/``, owner-only, or
        ``checks/`` under the shared object store); None, the default setting, keeps nothing, since a check should
        not retain what it was given."""
        self._registry = registry
        self._audit = audit
        self._trust = trust
        self.kept_uploads = kept_uploads

    def verify(self, data: bytes, *, tenant: str | None, actor: str, check_id: str | None = None,
               timeline: bool = True) -> Verdict:
        """``timeline``: also read each segment of the clip (``Verdict.timeline``); the whole-clip verdict is the
        same either way."""
        check_id = check_id or new_check_id()
        trust = self._trust()
        anchors = trust.pem
        # Decoded once for every layer: the frames the watermark reads, the frames the fingerprint samples and the
        # timeline's share of each window (a video's other frames are not converted, and long ones skip their
        # non-reference frames).
        media = decode_upload(data, param="file", select=_selection_with_timeline if timeline else _selection)
        mime = media.mime
        c2pa = read_provenance(data, mime, trust_anchors_pem=anchors)
        if media.indices is None:
            wm_frames = media.frames
            fp_indices = np.zeros(1, dtype=int)
        else:
            height, width = media.frames.shape[1:3]
            wm_frames = _pick(media, watermark_indices(media.total_frames, height, width))
            fp_indices = sample_indices(media.total_frames)
            fp_indices = fp_indices[np.isin(fp_indices, media.indices)]
        hashes: dict[int, str] = {}  # source frame index → its fingerprint, shared by the clip and its segments

        def frame_hash(index: int) -> str:
            if index not in hashes:
                position = 0 if media.indices is None else int(np.searchsorted(media.indices, index))
                hashes[index] = frame_fingerprint(media.frames[position])
            return hashes[index]

        wm = extract_watermark(wm_frames)
        registry = self._registry
        match = None
        if c2pa.active_manifest_id and c2pa.state != "invalid":
            match = registry.by_manifest_id(c2pa.active_manifest_id)
        if match is None and wm.detected and wm.content_id is not None:
            match = registry.by_content_id(int(wm.content_id, 16))
        if match is None:
            match = registry.by_fingerprint([frame_hash(int(i)) for i in fp_indices])
        segments = ()
        if timeline:
            segments = tuple(read_timeline(media.frames, media.indices, media.total_frames, media.fps, wm, frame_hash,
                                           registry.by_fingerprint, fp_indices))
        recovered = store = None
        if match is not None and c2pa.state == "not_present" and match.manifest_id:
            store = registry.manifest_store(match.manifest_id)
            if store:
                recovered = read_provenance(data, mime, trust_anchors_pem=anchors, manifest_store=store)
        kept = self._keep(check_id, mime, data) if self.kept_uploads is not None else None
        verdict = Verdict(mime=mime, sha256=hashlib.sha256(data).hexdigest(), c2pa=c2pa, watermark=wm,
                          registry=match, recovered=recovered, check_id=check_id, kept_as=kept,
                          trust=trust.source(c2pa, lambda pem: read_provenance(data, mime, trust_anchors_pem=pem)),
                          recovered_trust=trust.source(recovered, lambda pem: read_provenance(
                              data, mime, trust_anchors_pem=pem, manifest_store=store)),
                          timeline=segments)
        event = {"asset_sha256": verdict.sha256, "mime": mime, "c2pa": c2pa.state, "check_id": check_id,
                 "watermark": wm.content_id, "registry": match.method if match else None}
        if kept:
            event["kept_as"] = kept
        self._audit.append(AuditEvent(event="provenance.check", actor=actor, tenant=tenant,
                                      object_id=match.video_id if match else None, data=event))
        return verdict

    def _keep(self, check_id: str, mime: str, data: bytes) -> str:
        """Store the checked upload as <check id>.<ext>; returns ``checks/<file name>``."""
        name = f"{check_id}.{_EXTENSIONS.get(mime, 'bin')}"
        self.kept_uploads.put(name, data)
        return f"checks/{name}"

    # -- C2PA Soft Binding Resolution ----------------------------------------------------------
    @staticmethod
    def supported_algorithms() -> dict:
        return {"watermarks": [{"alg": watermark.ALGORITHM}], "fingerprints": [{"alg": FINGERPRINT_SBR_ALG}]}

    def by_binding(self, alg: str, value: str, max_results: int) -> list[RegistryMatch]:
        """The records a soft binding (our watermark's content id, or a frame's pHash) names."""
        if not 1 <= max_results <= 100:
            raise InvalidRequest("maxResults must be between 1 and 100.", param="maxResults")
        if alg == watermark.ALGORITHM:
            match = self._registry.by_content_id(int.from_bytes(_decode_value(value, size=8), "big"))
        elif alg == FINGERPRINT_SBR_ALG:
            match = self._registry.by_fingerprint([_decode_value(value, size=8).hex()])
        else:
            raise InvalidRequest(f"Unsupported algorithm {alg!r}; see /services/supportedAlgorithms.", param="alg",
                                 code="unsupported_algorithm")
        return [match] if match else []

    def manifest_store(self, manifest_id: str) -> bytes | None:
        """The signed manifest store (application/c2pa) of a generation, by its manifest id."""
        return self._registry.manifest_store(manifest_id)

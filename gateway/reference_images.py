"""Reference images (``input_reference``): what the gateway finds in one before and after the policy decides.

At upload (``inspect_reference``, in the request): decode it (415 not an image, 422 undecodable or absurdly large,
413 over the byte limit is the form reader's), look for faces (``classifiers.faces`` → a ``real_person`` score for
the policy) and read any C2PA manifest it carries. These findings go into the policy decision's audit entry.

At generation (``reference_ingredient``, in the worker): look for a Hallmark watermark (a full watermark search on
an unmarked image costs seconds of CPU, too slow for the request), then describe the image as the ``inputTo``
ingredient of the new video's manifest: with its own manifest when it had one, with our soft binding when it
carries our watermark, not at all when it has neither.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image

import watermark
from classifiers.faces import FaceResult, default_detector

from .media import sniff_mime
from .provenance import ReferenceIngredient, content_id_binding_value, read_provenance
from .registry import Registry, content_id_hex
from .runtime import Runtime
from .uploads import decode_upload

__all__ = ["ReferenceImage", "inspect_reference", "png_bytes", "reference_ingredient"]


def png_bytes(frame: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(frame).save(out, format="PNG")
    return out.getvalue()


@dataclass(frozen=True)
class ReferenceImage:
    """An uploaded reference image and what was found in it at upload."""

    frames: np.ndarray  # 1×H×W×3 uint8 RGB
    png: bytes  # what the job stores and the generator sees: re-encoded, no metadata carried over
    mime: str
    faces: FaceResult
    c2pa_state: str  # trusted | valid | invalid | not_present
    c2pa_manifest_id: str | None
    original: bytes | None  # the upload as sent, kept only when it carries a C2PA manifest (the ingredient's)

    @property
    def real_person_score(self) -> float:
        return float(self.faces.score)

    def audit(self) -> dict:
        """The findings for the policy decision's audit entry (no pixels, no face crops)."""
        return {"mime": self.mime, "faces": self.faces.count, "face_score": round(self.real_person_score, 4),
                "face_detector": self.faces.detector, "c2pa": self.c2pa_state,
                "c2pa_manifest_id": self.c2pa_manifest_id, "ingredient": self.original is not None}


def inspect_reference(rt: Runtime, data: bytes, *, param: str = "input_reference") -> ReferenceImage:
    media = decode_upload(data, param=param, images_only=True)
    frames = media.frames[:1]
    faces = default_detector().detect(frames[0])
    report = read_provenance(data, media.mime, trust_anchors_pem=rt.trust_anchors_pem)
    return ReferenceImage(frames=frames, png=png_bytes(frames[0]), mime=media.mime, faces=faces,
                          c2pa_state=report.state, c2pa_manifest_id=report.active_manifest_id,
                          original=data if report.detected else None)


def reference_ingredient(rt: Runtime, frame: np.ndarray | None, original: bytes | None) -> ReferenceIngredient | None:
    """The ingredient for a job's reference image (``frame``: H×W×3 as stored; ``original``: the upload when it
    carried a C2PA manifest), or None when the image has neither a manifest nor our watermark."""
    if frame is None:
        return None
    soft_binding = content_id = manifest_id = None
    try:
        found = watermark.extract(np.asarray(frame)[None])
    except watermark.WatermarkError:  # too small to carry the mark
        found = None
    if found is not None and found.payload is not None:
        soft_binding = (watermark.ALGORITHM, content_id_binding_value(found.payload))
        content_id = content_id_hex(found.payload)
        match = Registry(rt.db).by_content_id(found.payload)
        manifest_id = match.manifest_id if match is not None else None
    mime = sniff_mime(original) if original else None
    if original and mime and mime.startswith("image/"):
        return ReferenceIngredient(data=original, mime=mime, has_manifest=True, soft_binding=soft_binding,
                                   content_id=content_id, registry_manifest_id=manifest_id)
    if soft_binding is None:
        return None
    return ReferenceIngredient(data=png_bytes(np.asarray(frame)), mime="image/png", soft_binding=soft_binding,
                               content_id=content_id, registry_manifest_id=manifest_id)

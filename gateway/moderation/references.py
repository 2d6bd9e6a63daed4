"""Reference images (``input_reference``) at upload, before the policy decides: decode it (415 not an image, 422
undecodable or absurdly large, 413 over the byte limit is the form reader's), look for faces (``classifiers.faces``
→ a ``real_person`` score for the policy) and read any C2PA manifest it carries. These findings go into the policy
decision's audit entry. What the image becomes in the video's manifest is generation's business
(``gateway.generation.ingredients``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..media import decode_upload, png_bytes
from ..provenance import read_provenance

if TYPE_CHECKING:
    from classifiers.faces import FaceResult

__all__ = ["ReferenceImage", "inspect_reference"]


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


def inspect_reference(data: bytes, *, trust_anchors_pem: str | None, param: str = "input_reference") -> ReferenceImage:
    from classifiers.faces import default_detector

    media = decode_upload(data, param=param, images_only=True)
    frames = media.frames[:1]
    faces = default_detector().detect(frames[0])
    report = read_provenance(data, media.mime, trust_anchors_pem=trust_anchors_pem)
    return ReferenceImage(frames=frames, png=png_bytes(frames[0]), mime=media.mime, faces=faces,
                          c2pa_state=report.state, c2pa_manifest_id=report.active_manifest_id,
                          original=data if report.detected else None)

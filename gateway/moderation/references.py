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

__all__ = ["ReferenceImage", "SourceClip", "inspect_reference", "inspect_source_video"]


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


# Frames of a source video the request-time checks look at (faces, registered works): start, end and between.
SOURCE_SCREEN_FRAMES = 8


@dataclass(frozen=True)
class SourceClip:
    """A source video sent to ``edit`` or ``extend`` (or one of ours, for ``remix``), and what was found in it before
    the policy decides. Quacks like ``ReferenceImage`` where moderation reads it (``frames``, ``real_person_score``,
    ``audit()``), so the same rules meet a face or a registered work in either."""

    frames: np.ndarray  # a few frames spread over the whole clip, N×H×W×3 uint8 RGB
    mime: str
    fps: float
    total_frames: int
    width: int
    height: int
    faces: FaceResult
    c2pa_state: str
    c2pa_manifest_id: str | None

    @property
    def seconds(self) -> float:
        return self.total_frames / self.fps if self.fps > 0 else 0.0

    @property
    def real_person_score(self) -> float:
        return float(self.faces.score)

    def audit(self) -> dict:
        return {"kind": "source_video", "mime": self.mime, "seconds": round(self.seconds, 3),
                "size": f"{self.width}x{self.height}", "faces": self.faces.count,
                "face_score": round(self.real_person_score, 4), "face_detector": self.faces.detector,
                "c2pa": self.c2pa_state, "c2pa_manifest_id": self.c2pa_manifest_id}


def inspect_source_video(data: bytes, *, trust_anchors_pem: str | None, param: str = "video") -> SourceClip:
    """Decode a few frames of a source video (415 not a video, 422 undecodable), look for faces in each, read its
    C2PA manifest."""
    from classifiers.faces import default_detector

    from ..core.errors import UnsupportedMediaType
    from ..media import evenly_spaced

    media = decode_upload(data, param=param,
                          select=lambda total, _h, _w: evenly_spaced(total, SOURCE_SCREEN_FRAMES).tolist())
    if media.is_image:
        raise UnsupportedMediaType(f"'{param}' must be a video (MP4, MOV or WebM), not an image.", param=param)
    detector = default_detector()
    found = sorted((detector.detect(frame) for frame in media.frames), key=lambda r: (r.score, r.count), reverse=True)
    # The finding of the frame ranked in the middle: a person in the clip is in most of its frames, while the Haar
    # cascade's false faces flicker (a plain circle on black "is" a face in half the frames of a built-in clip), and
    # the strongest frame alone would send ordinary clips to review.
    faces = found[len(found) // 2]
    report = read_provenance(data, media.mime, trust_anchors_pem=trust_anchors_pem)
    height, width = media.frames.shape[1:3]
    return SourceClip(frames=media.frames, mime=media.mime, fps=media.fps, total_frames=media.total_frames,
                      width=int(width), height=int(height), faces=faces, c2pa_state=report.state,
                      c2pa_manifest_id=report.active_manifest_id)

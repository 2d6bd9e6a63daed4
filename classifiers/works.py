"""Registered works: perceptual fingerprints of rights holders' images and clips, and a matcher that scores
reference images and generated frames against them (an ``ip`` score in [0, 1]; the policy decides)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import imagehash
import numpy as np
from PIL import Image

FINGERPRINT_ALG = "phash-64"
SAMPLED_FRAMES = 8
# pHash: an unrelated image differs in ~34 of 64 bits, a 10% crop of the same one in ~11 (REFERENCE.md).
# Similarity falls linearly from 1 (identical) to 0 at 24 bits, so 12 bits — a crop — scores 0.5.
ZERO_SIMILARITY_DISTANCE = 24


def fingerprint_frames(frames: np.ndarray, samples: int = SAMPLED_FRAMES) -> list[str]:
    """pHash (hex) of frames sampled evenly through a T×H×W×3 uint8 clip (T=1 for an image)."""
    count = frames.shape[0]
    picks = np.unique(np.linspace(0, count - 1, num=min(samples, count)).round().astype(int))
    return [str(imagehash.phash(Image.fromarray(frames[i]))) for i in picks]


def clip_distance(query: Sequence[str], stored: Sequence[str], *, any_frame: bool = False) -> int | None:
    """Differing bits between two clips: for each query frame the closest stored frame, then the median over
    the query's frames (the same clip) or, with ``any_frame``, the minimum (some frame reproduces the stored
    work). None if either side is empty."""
    if not query or not stored:
        return None
    stored_hashes = [imagehash.hex_to_hash(h) for h in stored]
    per_frame = [min(imagehash.hex_to_hash(q) - s for s in stored_hashes) for q in query]
    return int(min(per_frame)) if any_frame else int(np.median(per_frame))


def similarity(distance: int | None) -> float:
    if distance is None:
        return 0.0
    return max(0.0, 1.0 - distance / ZERO_SIMILARITY_DISTANCE)


@dataclass(frozen=True)
class RegisteredWork:
    id: str
    title: str
    fingerprints: tuple[str, ...]


@dataclass(frozen=True)
class WorkMatch:
    work_id: str | None
    title: str | None
    similarity: float  # the ``ip`` score this match contributes
    distance: int | None

    def to_dict(self) -> dict:
        return {"work_id": self.work_id, "title": self.title, "similarity": round(self.similarity, 4),
                "distance": self.distance}


NO_MATCH = WorkMatch(work_id=None, title=None, similarity=0.0, distance=None)


class WorkMatcher:
    """Scores frames against every registered work; the closest one wins. One frame that reproduces a work
    is enough: a clip that shows a registered image for a moment still uses it."""

    def __init__(self, works: Sequence[RegisteredWork]) -> None:
        self.works = list(works)

    def score(self, frames: np.ndarray) -> WorkMatch:
        if not self.works:
            return NO_MATCH
        query = fingerprint_frames(frames)
        best = NO_MATCH
        for work in self.works:
            distance = clip_distance(query, work.fingerprints, any_frame=True)
            if distance is not None and (best.distance is None or distance < best.distance):
                best = WorkMatch(work_id=work.id, title=work.title, similarity=similarity(distance), distance=distance)
        return best

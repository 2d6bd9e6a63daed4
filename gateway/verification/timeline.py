"""Per-segment detection: which seconds of a clip carry our watermark or match the registry, so that a clip spliced
from our output and other footage shows which parts are ours. The whole-clip verdict does not depend on it.

A clip is cut into windows of whole seconds (merged so that there are at most MAX_SEGMENTS); an image is one
segment. In each window the watermark is read from a few of the decoded frames, as marked only: the crop and rescale
search costs seconds per window on unmarked footage (bench/verify/timeline.py), so a cropped or rescaled clip shows
its mark in the whole-clip result but not per segment. Each window's fingerprinted frames (the whole-clip query's
samples that fall in it, else its first and last decoded frames) are looked up one at a time, under the registry's
stricter one-frame limits.
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..media import thumbnail_jpeg
from ..media.sampling import evenly_spaced
from ..registry import RegistryMatch
from .layers import WatermarkResult, extract_watermark

__all__ = ["MAX_SEGMENTS", "SEGMENT_PIXEL_BUDGET", "Segment", "read_timeline", "segment_windows",
           "timeline_indices"]

MAX_SEGMENTS = 20
# Pixels the watermark reads per window. One frame of a CRF-23 720p or 360p clip decodes the mark as marked; 128 x 128
# frames need 8 or more (bench/verify/timeline.py measures it). Two 720p frames leave room for harder compression
# and keep a 10 s 720p clip within the timeline's cost bar; small frames get up to a second's worth at 24 fps.
SEGMENT_PIXEL_BUDGET = 2 * 1280 * 720
SEGMENT_MAX_FRAMES = 24


def _frames_per_window(height: int, width: int) -> int:
    return min(SEGMENT_MAX_FRAMES, max(1, SEGMENT_PIXEL_BUDGET // max(1, height * width)))


def timeline_indices(total: int, height: int, width: int) -> np.ndarray:
    """The frames the timeline wants decoded: spread evenly so that every window gets its share whatever the frame
    rate (the decoder's frame selection does not know it)."""
    return evenly_spaced(total, _frames_per_window(height, width) * MAX_SEGMENTS)


def segment_windows(total: int, fps: float) -> list[tuple[int, int]]:
    """[first, end) frame ranges of whole seconds, merged into at most MAX_SEGMENTS windows (one for an unknown
    frame rate)."""
    if total < 1:
        return []
    if not fps or fps <= 0:
        return [(0, total)]
    seconds = math.ceil(total / fps - 1e-9)
    per = max(1, math.ceil(seconds / MAX_SEGMENTS))
    bounds = [min(total, round(k * per * fps)) for k in range(math.ceil(seconds / per) + 1)]
    bounds[-1] = total
    return [(a, b) for a, b in zip(bounds, bounds[1:]) if b > a]


# Thumbnails stay small: up to 20 of them ride in every check's answer (about 2 KB each).
THUMBNAIL_SIDE = 96


@dataclass(frozen=True)
class Segment:
    start: float
    end: float | None  # None when the frame rate is unknown
    watermark: WatermarkResult
    registry: RegistryMatch | None
    frames: tuple[int, ...]  # the fingerprinted frames (source indices)
    matched: tuple[int, ...] = ()  # those the registry record matched
    thumbnail: bytes | None = None  # a small JPEG of the segment's middle frame, to see what was checked


    def to_dict(self) -> dict:
        registry = None
        if self.registry is not None:
            registry = {"content_id": self.registry.content_id, "video_id": self.registry.video_id,
                        "frames": list(self.matched)}
        out = {"start": self.start, "end": self.end,
               "watermark": {"detected": self.watermark.detected, "content_id": self.watermark.content_id,
                             "confidence": round(self.watermark.confidence, 4)},
               "registry": registry, "frames": list(self.frames)}
        if self.thumbnail is not None:
            out["thumbnail"] = "data:image/jpeg;base64," + base64.b64encode(self.thumbnail).decode()
        return out


def read_timeline(frames: np.ndarray, indices: np.ndarray | None, total: int, fps: float,
                  whole: WatermarkResult, frame_hash: Callable[[int], str],
                  lookup: Callable[[list[str]], RegistryMatch | None],
                  sampled: np.ndarray) -> list[Segment]:
    """The segments of decoded media: ``frames`` stand for source ``indices`` (None: an image, one frame);
    ``whole`` is the whole-clip watermark result (an image's one segment reuses it); ``frame_hash(i)`` fingerprints
    source frame i; ``lookup`` is the registry's fingerprint query; ``sampled`` the whole-clip query's frames."""
    if indices is None:
        match = lookup([frame_hash(0)])
        return [Segment(start=0.0, end=0.0, watermark=whole, registry=match, frames=(0,),
                        matched=(0,) if match else (), thumbnail=_thumbnail(frames[:1]))]
    height, width = frames.shape[1:3]
    per_window = _frames_per_window(height, width)
    segments = []
    for first, end in segment_windows(total, fps):
        lo, hi = np.searchsorted(indices, [first, end])
        if hi <= lo:
            continue
        picks = lo + evenly_spaced(int(hi - lo), per_window)
        wm = extract_watermark(frames[picks], search=False)
        checked = [int(i) for i in sampled if first <= i < end and i in indices[lo:hi]]
        if not checked:
            # The registry holds 8 frames of a clip: a window between two of them is checked at both its ends,
            # each nearer to a stored frame than its middle is.
            checked = sorted({int(indices[lo]), int(indices[hi - 1])})
        matches = [(i, lookup([frame_hash(i)])) for i in checked]
        found = [m for _, m in matches if m is not None]
        match = None
        if found:  # the record most of the window's matching frames name
            ids = [m.content_id for m in found]
            match = max(found, key=lambda m: ids.count(m.content_id))
        matched = tuple(i for i, m in matches if m is not None and match is not None
                        and m.content_id == match.content_id)
        segments.append(Segment(start=round(first / fps, 3) if fps else 0.0,
                                end=round(end / fps, 3) if fps else None, watermark=wm, registry=match,
                                frames=tuple(checked), matched=matched,
                                thumbnail=_thumbnail(frames[picks[len(picks) // 2]][None])))
    return segments


def _thumbnail(frames: np.ndarray) -> bytes:
    return thumbnail_jpeg(frames, max_side=THUMBNAIL_SIDE, quality=70)

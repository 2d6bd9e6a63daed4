"""Source clips of video-to-video jobs (remix, edit, extend): the output size a source implies, and the frame
arithmetic of stitching an extension onto its source."""

from __future__ import annotations

import cv2
import numpy as np

from generator import MAX_SECONDS as GEN_MAX_SECONDS
from generator import SUPPORTED_SIZES

OPERATIONS = ("create", "remix", "edit", "extend")
# A source is at most GEN_MAX_SECONDS long and an extension adds at most as much: an extended video can be extended
# again only while the whole stays within a source's limit.
MAX_EXTENDED_SECONDS = 2 * int(GEN_MAX_SECONDS)


def output_size_for(width: int, height: int) -> tuple[int, int]:
    """The supported size closest to a source's, same aspect ratio: scaled into the size range, then each side
    rounded to the size multiple."""
    m, lo, hi = SUPPORTED_SIZES.multiple, SUPPORTED_SIZES.min_side, SUPPORTED_SIZES.max_side
    scale = min(1.0, hi / max(width, height))
    scale = max(scale, lo / min(width, height))
    w, h = (min(hi, max(lo, int(round(v * scale / m)) * m)) for v in (width, height))
    return w, h


def source_seconds(seconds: float) -> int:
    """A source's length in the whole seconds a job records (at least 1)."""
    return max(1, int(round(seconds)))


def extension_seconds(total: int, source: float) -> float:
    """How many new seconds an extension job makes: the recorded total less the source's recorded length."""
    return float(total - source_seconds(source))


def resample(frames: np.ndarray, fps_in: float, fps_out: float, size: tuple[int, int]) -> np.ndarray:
    """``frames`` at ``fps_in`` → the same stretch of time at ``fps_out`` (nearest frame in time) and ``size``
    (width, height): how an extension's source part is brought to the new frames' rate and size."""
    count = max(1, int(round(frames.shape[0] * fps_out / fps_in)))
    picks = np.minimum(np.floor(np.arange(count) * fps_in / fps_out + 1e-6).astype(int), frames.shape[0] - 1)
    width, height = size
    out = np.empty((count, height, width, 3), np.uint8)
    for i, index in enumerate(picks):
        frame = frames[index]
        if frame.shape[:2] != (height, width):
            shrinking = frame.shape[1] > width
            frame = cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC)
        out[i] = frame
    return out

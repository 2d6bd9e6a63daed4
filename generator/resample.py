"""Bring a video to another frame grid: fractional frame positions in time, area-averaged to a size in space.

Numpy and OpenCV only (no torch), so the diffusers backend can use it without the built-in model's modules.
"""

from __future__ import annotations

import cv2
import numpy as np


def resample_video(frames: np.ndarray, positions: np.ndarray, width: int, height: int) -> np.ndarray:
    """Video T×H×W×3 uint8 at fractional frame ``positions`` → n×height×width×3 float32 in [0, 255].

    Each frame that is needed is resized with area averaging (the aspect ratio follows the target, so a source of
    another shape is stretched or squeezed), then the two nearest frames are blended linearly in time. Positions
    outside the video are clamped to its first or last frame.
    """
    last = frames.shape[0] - 1
    resized: dict[int, np.ndarray] = {}

    def at(i: int) -> np.ndarray:
        if i not in resized:
            resized[i] = cv2.resize(frames[i], (width, height), interpolation=cv2.INTER_AREA).astype(np.float32)
        return resized[i]

    out = np.empty((len(positions), height, width, 3), dtype=np.float32)
    for j, p in enumerate(np.clip(np.asarray(positions, dtype=np.float64), 0, last)):
        lo = int(np.floor(p))
        hi = min(lo + 1, last)
        a = float(p - lo)
        out[j] = at(lo) if a == 0 else (1 - a) * at(lo) + a * at(hi)
    return out

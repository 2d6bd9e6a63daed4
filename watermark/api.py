"""The public entry points: validate the caller's arrays, then hand them to the dct-ss.2 method (dctss, sync)."""

from __future__ import annotations

import math
import numbers

import numpy as np

from . import coding, dctss
from .types import Detection, WatermarkError

MIN_SIDE = 128
"""Smallest frame height or width accepted: one full 128 px tile (8 x 8 blocks of 16 px)."""
MAX_STRENGTH = 8.0


def _as_clip(frames: object) -> np.ndarray:
    """Return a uint8 T x H x W x 3 view of `frames` (a single H x W x 3 frame becomes T = 1)."""
    if not isinstance(frames, np.ndarray):
        raise WatermarkError(f"frames must be a numpy array, got {type(frames).__name__}")
    if frames.dtype != np.uint8:
        raise WatermarkError(f"frames must have dtype uint8, got {frames.dtype}")
    if frames.ndim == 3:
        frames = frames[None]
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise WatermarkError(f"frames must be T x H x W x 3 (or H x W x 3) RGB, got shape {frames.shape}")
    t, h, w, _ = frames.shape
    if t < 1:
        raise WatermarkError("frames must contain at least one frame")
    if min(h, w) < MIN_SIDE:
        raise WatermarkError(f"frames must be at least {MIN_SIDE} px on the short side, got {h} x {w}")
    return frames


def embed(frames: np.ndarray, payload: int, *, strength: float = 1.0) -> np.ndarray:
    """Return a copy of `frames` (uint8 RGB, T x H x W x 3 or H x W x 3) carrying `payload` in every frame.

    `payload` is an integer with 0 <= payload < 2**64. `strength` scales the mark's amplitude:
    1.0 keeps luma PSNR above 41.5 dB (about 42.2 in practice); the floor moves by -20*log10(strength).
    """
    clip = _as_clip(frames)
    try:
        coding.check_payload(payload)
    except (TypeError, ValueError) as exc:
        raise WatermarkError(str(exc)) from None
    if (
        isinstance(strength, bool)
        or not isinstance(strength, numbers.Real)
        or not math.isfinite(strength)
        or not 0.0 < strength <= MAX_STRENGTH
    ):
        raise WatermarkError(f"strength must be a number in (0, {MAX_STRENGTH}], got {strength!r}")
    marked = dctss.embed(clip, int(payload), float(strength))
    return marked.reshape(frames.shape)


def extract(frames: np.ndarray, *, search: bool = True) -> Detection:
    """Look for a payload in `frames` (uint8 RGB, T x H x W x 3 or H x W x 3), pooling evidence over all frames.

    The search (when the frames as they are decode to nothing) undoes crops, rescales, left-right and upside-down
    mirrors and rotations of up to about 5.5 degrees (re-cropped or with black corners). `search=False` reads the frames
    only as marked: milliseconds per frame, where the search costs seconds on unmarked frames; for callers that read
    many short pieces of one clip."""
    decoded = dctss.extract(_as_clip(frames), search=search)
    return Detection(payload=decoded.payload, confidence=decoded.confidence, soft_bits=decoded.soft_bits)

"""The values that cross the watermark package's boundary: its error type and a detection result."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


class WatermarkError(ValueError):
    """The input cannot be watermarked or searched: wrong type, dtype or shape, too small, or a bad payload."""


@dataclass(frozen=True)
class Detection:
    """What `extract` found in a clip.

    `payload` is reported only when the decoded message passes its CRC-32 and the decoding
    margin check, so a wrong payload is practically never returned; it is None otherwise.
    `confidence` is 0.0 when `payload` is None and in [0.5, 1.0] when it is set, rising with
    the decoding margin. `soft_bits` holds one value in [-1, 1] per payload bit (MSB first):
    its sign is the decoded bit (> 0 means 1) and its size how firmly the decoder chose it.
    """

    payload: int | None
    confidence: float
    soft_bits: np.ndarray

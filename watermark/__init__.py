"""Invisible video watermark: embed and extract a 64-bit payload in uint8 RGB frames.

Pure functions on numpy arrays; no I/O, no other Hallmark package. The method, its payload
coding and its measured limits are described in README.md next to this file.

    marked = watermark.embed(frames, payload)          # frames: uint8 T x H x W x 3
    found = watermark.extract(marked)                  # Detection(payload, confidence, soft_bits)
"""

from .api import MAX_STRENGTH, MIN_SIDE, embed, extract
from .coding import PAYLOAD_BITS
from .dctss import ALGORITHM
from .types import Detection, WatermarkError

__all__ = ["ALGORITHM", "PAYLOAD_BITS", "MAX_STRENGTH", "MIN_SIDE", "Detection", "WatermarkError", "embed", "extract"]

"""The fingerprint index (multi-index hashing over 16-bit bands of each stored frame's 64-bit pHash): which keys a
stored frame is filed under and which keys a lookup reads."""

from __future__ import annotations

from typing import Iterable, Sequence

from ..media.sampling import evenly_spaced
from .fingerprint import parse_frame

# The fingerprint index (multi-index hashing). Each stored 64-bit frame hash is filed under BANDS keys, one per
# 16-bit band (`band_keys`). A lookup reads, for every query frame, its BANDS exact keys — by pigeonhole that finds
# every stored frame within EXACT_RADIUS bits of it — and for DEEP_FRAMES query frames spread through the clip also
# the 16 values one bit away in each band (`probe_keys`), which finds every stored frame within INDEX_RADIUS bits of
# those. A one-frame query (an image) is probed 1 bit deep in every band: every stored frame within IMAGE_RADIUS,
# more than the 6 bits an image may differ by (FEW_FRAMES_MAX_DISTANCE).
# (1-bit probes on all 8 frames would read ~66,000 index rows at a million records, over the latency budget.)
# A record is a candidate when some fetched stored frame is within CANDIDATE_DISTANCE (pHash-only queries: the
# pHash match limit) of some query frame; candidates are then decided by `score_frames`, exactly as the exhaustive
# scan decides. What the index can miss: a matching record none of whose stored frames is within EXACT_RADIUS of a
# query frame or within INDEX_RADIUS of a deep-probed one. bench/verify measures the recall against the scan.
BANDS = 4
BAND_BITS = 16
PROBE_FLIPS = 1
DEEP_FRAMES = 2
IMAGE_PROBE_FLIPS = 1  # radius 7 covers the 6-bit limit for images (FEW_FRAMES_MAX_DISTANCE)
EXACT_RADIUS = BANDS - 1  # 3
IMAGE_RADIUS = BANDS * (IMAGE_PROBE_FLIPS + 1) - 1  # 7
INDEX_RADIUS = BANDS * (PROBE_FLIPS + 1) - 1  # 7
_BAND_MASK = (1 << BAND_BITS) - 1
U64 = 1 << 64


def to_signed(value: int) -> int:
    """An unsigned 64-bit value as the signed integer the database stores."""
    return value - U64 if value >= 1 << 63 else value


def band_keys(frame_hash: int) -> list[int]:
    """The index keys a stored frame hash is filed under: ``band << 16 | band value``."""
    return [(band << BAND_BITS) | ((frame_hash >> (BAND_BITS * band)) & _BAND_MASK) for band in range(BANDS)]


def probe_keys(frame_hash: int, flips: int = PROBE_FLIPS) -> set[int]:
    """The keys a lookup reads for one query frame: each band's value and every value up to `flips` bits away."""
    keys: set[int] = set()
    for band in range(BANDS):
        value = (frame_hash >> (BAND_BITS * band)) & _BAND_MASK
        values = {value}
        for _ in range(flips):
            values |= {v ^ (1 << bit) for v in values for bit in range(BAND_BITS)}
        keys.update((band << BAND_BITS) | v for v in values)
    return keys


def query_keys(frame_hashes: Sequence[int]) -> list[int]:
    """Every key a lookup reads: exact keys of all query frames, 1-bit probes of DEEP_FRAMES of them (evenly spread)."""
    count = len(frame_hashes)
    if count == 1:  # an image (a frame grab): its one frame is probed in every band, finding every frame within IMAGE_RADIUS
        return sorted(probe_keys(frame_hashes[0], IMAGE_PROBE_FLIPS))
    deep = set(evenly_spaced(count, DEEP_FRAMES).tolist())
    keys: set[int] = set()
    for i, value in enumerate(frame_hashes):
        keys.update(probe_keys(value) if i in deep else band_keys(value))
    return sorted(keys)


def index_rows(content_id: int, frame_hashes: Iterable[str]) -> list[dict]:
    """The index rows of one record (duplicate frame hashes filed once)."""
    content_key = to_signed(content_id)
    rows = {}
    for text in frame_hashes:
        parsed = parse_frame(text)
        if parsed is None:
            continue
        value = int(parsed[0])
        for key in band_keys(value):
            rows[(key, value)] = {"key": key, "frame_hash": to_signed(value), "content_key": content_key}
    return list(rows.values())



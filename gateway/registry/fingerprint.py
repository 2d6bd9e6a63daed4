"""Perceptual fingerprints of frames: which frames are sampled, the four hashes stored per frame, and how a query's
frames are scored against a record's. The one definition the registry, registered works and verification use."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import imagehash
import numpy as np
from PIL import Image

from ..media.sampling import evenly_spaced

# The 64-bit pHash of a frame: what the fingerprint index files, what the C2PA Soft Binding API resolves, and what
# registered works store.
FINGERPRINT_ALG = "phash-64"

# What the registry stores for each sampled frame (FRAME_FINGERPRINT_ALG): four perceptual hashes of the frame's
# grey levels, written as one string "pHash64-dHash64-wHash64-pHash256" (hex). The 64-bit pHash is the one the index
# files and the one the Soft Binding API resolves (FINGERPRINT_ALG); the other three are independent evidence for
# the second stage: gradients (dHash), a Haar-wavelet low band (wHash) and 256 DCT bits (a finer pHash).
FRAME_FINGERPRINT_ALG = "phash64+dhash64+whash64+phash256"
SAMPLED_FRAMES = 8
# The hashes are taken from the frame shrunk to fit 256x256 (box filter): the same hashes as from the full frame
# within a bit or two, at ~4 ms a frame instead of ~60 ms for a 720p one.
HASH_SIDE = 256
_KIND_BITS = np.array([64, 64, 64, 256], dtype=np.float64)
_WORDS = 7  # uint64 words per extended frame: pHash64, dHash64, wHash64, pHash256 (4 words)

# Second stage (records and queries with all four hashes): a record matches when the mean over the four hashes of
# the fraction of differing bits (each hash: per query frame the closest stored frame, then the median over the
# query's frames) is at most the limit, and no single hash differs in more than HASH_AGREEMENT_LIMIT of its bits.
# Calibrated by bench/verify/calibrate.py (its seeds, 309 real records; bench/results/verify_calibration.json):
# - clips: the 136 attacked clips of registered content score at most 0.203 (p99 0.195); every unrelated clip and
#   every attacked clip against every other real record (92,712 pairs) at least 0.230 (p1 0.302);
# - images: 128 frame grabs (any frame; PNG, JPEG, half size, 90% crop) at most 0.189; unrelated images and grabs
#   against other records (295,412 pairs) at least 0.213 (p1 0.301).
# Random records (the bench's million synthetic ones) score ~0.43 against anything. The limits sit between the two
# sides; the margin is small (~0.013, about 6 of the 448 bits on each side), so bench/verify measures false
# attributions on held-out seeds.
CLIP_SCORE_LIMIT = 0.215
IMAGE_SCORE_LIMIT = 0.2
# Every hash must agree on its own: registered content stays within 0.25 of the bits of each 64-bit hash and 0.39 of
# the 256-bit one; a stranger that shares one hash (by chance or by construction) is at ~0.41-0.45 in the others.
HASH_AGREEMENT_LIMIT = 0.4

# A fetched stored frame this close (pHash bits) to some query frame makes its record a candidate for the second
# stage; the second stage decides.
CANDIDATE_DISTANCE = 12

# Records or queries with only the 64-bit pHash (written before the extended fingerprint, or a Soft Binding query by
# pHash) are decided on the pHash alone. A clip matches when its frames are this close (median differing pHash bits):
# keeps crops, rejects strangers (unrelated clips differ in ~34 of 64 bits).
MATCH_MAX_DISTANCE = 12
# One or two frames (an image, a frame grab) carry far less evidence: at a million records (8 million stored frame
# hashes) a 12-bit limit attributed 599 of 1,000 unrelated images by chance (bench/verify). Within 6 bits the chance
# for a random 64-bit hash is ~3e-5 per image at that size.
FEW_FRAMES = 2
FEW_FRAMES_MAX_DISTANCE = 6


def match_limit(query_frames: int) -> int:
    """The largest accepted median pHash distance for a pHash-only query of this many frames."""
    return FEW_FRAMES_MAX_DISTANCE if query_frames <= FEW_FRAMES else MATCH_MAX_DISTANCE


def score_limit(query_frames: int) -> float:
    """The largest accepted second-stage score for a query of this many frames."""
    return IMAGE_SCORE_LIMIT if query_frames <= FEW_FRAMES else CLIP_SCORE_LIMIT


def sample_indices(count: int, samples: int = SAMPLED_FRAMES) -> np.ndarray:
    """Which of `count` frames are fingerprinted: `samples` spread evenly, first and last included."""
    return evenly_spaced(count, samples)


def _grey(frame: np.ndarray) -> Image.Image:
    """The frame's grey levels, shrunk to fit HASH_SIDE x HASH_SIDE."""
    image = Image.fromarray(np.ascontiguousarray(frame))
    factor = max(image.size) // HASH_SIDE
    if factor > 1:  # a cheap integer box reduction first (about half the time for a 720p frame)
        image = image.reduce(factor)
    grey = image.convert("L")
    if max(grey.size) > HASH_SIDE:
        grey.thumbnail((HASH_SIDE, HASH_SIDE), Image.Resampling.BOX)
    return grey


def frame_fingerprint(frame: np.ndarray) -> str:
    """The extended fingerprint of one H x W x 3 uint8 frame (FRAME_FINGERPRINT_ALG)."""
    grey = _grey(frame)
    return "-".join((str(imagehash.phash(grey)), str(imagehash.dhash(grey)), str(imagehash.whash(grey)),
                     str(imagehash.phash(grey, hash_size=16))))


def fingerprint_frames(frames: np.ndarray, samples: int = SAMPLED_FRAMES) -> list[str]:
    """Extended fingerprints of frames sampled evenly through a T x H x W x 3 uint8 clip (T=1 for an image)."""
    return [frame_fingerprint(frames[i]) for i in sample_indices(frames.shape[0], samples)]


def phash_frames(frames: np.ndarray, samples: int = SAMPLED_FRAMES) -> list[str]:
    """The 64-bit pHash (FINGERPRINT_ALG, 16 hex digits) alone of the same sampled frames: what registered works
    store and are matched by."""
    return [str(imagehash.phash(_grey(frames[i]))) for i in sample_indices(frames.shape[0], samples)]


def parse_frame(value: str) -> np.ndarray | None:
    """A stored or queried frame fingerprint as uint64 words: [pHash64] for a bare 16-hex pHash, the 7 words of
    the extended form otherwise; None if it is neither."""
    if not isinstance(value, str):
        return None
    parts = value.split("-")
    if len(parts) == 1:
        single = parse_hash(value)
        return None if single is None else np.array([single], dtype=np.uint64)
    if len(parts) != 4 or [len(p) for p in parts] != [16, 16, 16, 64]:
        return None
    try:
        words = [int(parts[0], 16), int(parts[1], 16), int(parts[2], 16)]
        words += [int(parts[3][i:i + 16], 16) for i in range(0, 64, 16)]
    except ValueError:
        return None
    return np.array(words, dtype=np.uint64)


def parse_frames(values: Sequence[str]) -> tuple[np.ndarray, bool]:
    """Frames as a (n, words) uint64 array, and whether every frame carries all four hashes (malformed entries are
    dropped; a mix of bare and extended frames is read as bare pHashes)."""
    parsed = [p for p in (parse_frame(v) for v in values or []) if p is not None]
    if not parsed:
        return np.zeros((0, 1), dtype=np.uint64), False
    if all(p.size == _WORDS for p in parsed):
        return np.stack(parsed), True
    return np.array([p[0] for p in parsed], dtype=np.uint64)[:, None], False


@dataclass(frozen=True)
class FrameScore:
    """How close a query is to one record: the median pHash distance, and (both sides extended) the second-stage
    score, the mean fraction of differing bits over the four hashes, and that fraction for each hash."""
    distance: int
    score: float | None

    per_hash: tuple[float, ...] = ()

    def accepted(self, query_frames: int) -> bool:
        if self.score is not None:
            return self.score <= score_limit(query_frames) and max(self.per_hash) <= HASH_AGREEMENT_LIMIT
        return self.distance <= match_limit(query_frames)


def score_frames(query: np.ndarray, query_extended: bool, stored: np.ndarray,
                 stored_extended: bool) -> FrameScore | None:
    """Score parsed query frames against parsed stored frames (see FrameScore); None if either side is empty."""
    if query.shape[0] == 0 or stored.shape[0] == 0:
        return None
    bits = np.bitwise_count(query[:, None, :] ^ stored[None, :, :]) if query_extended and stored_extended else \
        np.bitwise_count(query[:, None, :1] ^ stored[None, :, :1])
    distance = int(np.median(bits[:, :, 0].min(axis=1)))
    if not (query_extended and stored_extended):
        return FrameScore(distance=distance, score=None)
    per_kind = np.stack([bits[:, :, 0], bits[:, :, 1], bits[:, :, 2], bits[:, :, 3:].sum(axis=2)], axis=2)
    fractions = np.median(per_kind.min(axis=1), axis=0) / _KIND_BITS  # per hash: closest stored frame, median
    return FrameScore(distance=distance, score=float(np.mean(fractions)),
                      per_hash=tuple(float(f) for f in fractions))


def parse_hash(value: str) -> int | None:
    """A 64-bit pHash (16 hex digits, as imagehash prints it) as an unsigned int; None if it is not one."""
    if not isinstance(value, str) or len(value) != 16:
        return None
    try:
        return int(value, 16)
    except ValueError:
        return None


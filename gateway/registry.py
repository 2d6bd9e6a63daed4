"""The provenance registry: what this gateway generated, found again by content id or perceptual fingerprint."""

from __future__ import annotations

import hashlib
import weakref
from dataclasses import dataclass
from datetime import timezone
from typing import Iterable, Sequence

import imagehash
import numpy as np
from PIL import Image
from sqlalchemy import delete, insert, select

from classifiers.works import FINGERPRINT_ALG

from .db import Database, RegistryFingerprintBand, RegistryRecord

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
    if count < 1:
        return np.zeros(0, dtype=int)
    return np.unique(np.linspace(0, count - 1, num=min(samples, count)).round().astype(int))


def frame_fingerprint(frame: np.ndarray) -> str:
    """The extended fingerprint of one H x W x 3 uint8 frame (FRAME_FINGERPRINT_ALG)."""
    image = Image.fromarray(np.ascontiguousarray(frame))
    factor = max(image.size) // HASH_SIDE
    if factor > 1:  # a cheap integer box reduction first (about half the time for a 720p frame)
        image = image.reduce(factor)
    grey = image.convert("L")
    if max(grey.size) > HASH_SIDE:
        grey.thumbnail((HASH_SIDE, HASH_SIDE), Image.Resampling.BOX)
    return "-".join((str(imagehash.phash(grey)), str(imagehash.dhash(grey)), str(imagehash.whash(grey)),
                     str(imagehash.phash(grey, hash_size=16))))


def fingerprint_frames(frames: np.ndarray, samples: int = SAMPLED_FRAMES) -> list[str]:
    """Extended fingerprints of frames sampled evenly through a T x H x W x 3 uint8 clip (T=1 for an image)."""
    return [frame_fingerprint(frames[i]) for i in sample_indices(frames.shape[0], samples)]


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
_U64 = 1 << 64


def parse_hash(value: str) -> int | None:
    """A 64-bit pHash (16 hex digits, as imagehash prints it) as an unsigned int; None if it is not one."""
    if not isinstance(value, str) or len(value) != 16:
        return None
    try:
        return int(value, 16)
    except ValueError:
        return None


def to_signed(value: int) -> int:
    """An unsigned 64-bit value as the signed integer the database stores."""
    return value - _U64 if value >= 1 << 63 else value


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
    if count == 1:  # an image (a frame grab): its one frame is probed 2 bits deep, finding every frame within 11 bits
        return sorted(probe_keys(frame_hashes[0], IMAGE_PROBE_FLIPS))
    deep = set(np.linspace(0, count - 1, num=min(DEEP_FRAMES, count)).round().astype(int).tolist()) if count else set()
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


# Databases whose index was checked for records written before it existed (see Registry._ensure_index).
_INDEX_CHECKED: "weakref.WeakSet" = weakref.WeakSet()


def content_id_hex(content_id: int) -> str:
    return f"{content_id:016x}"


@dataclass(frozen=True)
class RegistryMatch:
    content_id: str
    video_id: str
    model: str
    created_at: str
    method: str  # "watermark" | "manifest" | "fingerprint"
    manifest_id: str | None = None
    distance: int | None = None  # median differing pHash bits (fingerprint matches)
    score: float | None = None  # second-stage score: mean fraction of differing bits over four hashes
    score_limit: float | None = None  # the largest score accepted for a query of this many frames

    def to_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v is not None}


class Registry:
    def __init__(self, db: Database) -> None:
        self._db = db

    def record(self, *, content_id: int, video_id: str, tenant: str, model: str, asset: bytes,
               frame_hashes: list[str], watermark_alg: str, manifest_id: str | None,
               manifest_store: bytes | None) -> None:
        self._ensure_index()
        with self._db.session.begin() as session:
            previous = session.get(RegistryRecord, content_id_hex(content_id))
            if previous is not None:  # re-recorded: drop the old frames' index rows first
                self._delete_index_rows(session, content_id, previous.fingerprints or [])
            session.merge(RegistryRecord(
                content_id=content_id_hex(content_id), video_id=video_id, tenant=tenant, model=model,
                asset_sha256=hashlib.sha256(asset).hexdigest(), fingerprints=frame_hashes,
                watermark_alg=watermark_alg, manifest_id=manifest_id, manifest_store=manifest_store,
            ))
            rows = index_rows(content_id, frame_hashes)
            if rows:
                session.execute(insert(RegistryFingerprintBand), rows)

    @staticmethod
    def _delete_index_rows(session, content_id: int, frame_hashes: Sequence[str]) -> None:
        table = RegistryFingerprintBand
        for row in index_rows(content_id, frame_hashes):
            session.execute(delete(table).where(table.key == row["key"], table.frame_hash == row["frame_hash"],
                                                table.content_key == row["content_key"]))

    def rebuild_index(self) -> int:
        """File every record's frames in the fingerprint index again (for registries written before it existed).
        Returns the number of records indexed."""
        count = 0
        with self._db.session.begin() as session:
            session.execute(delete(RegistryFingerprintBand))
            for content_id, fingerprints in session.execute(
                    select(RegistryRecord.content_id, RegistryRecord.fingerprints)).yield_per(1000):
                rows = index_rows(int(content_id, 16), fingerprints or [])
                if rows:
                    session.execute(insert(RegistryFingerprintBand), rows)
                count += 1
        return count

    def _ensure_index(self) -> None:
        """Once per database: a registry with records but an empty index predates the index; build it."""
        engine = self._db.engine
        if engine in _INDEX_CHECKED:
            return
        with self._db.session() as session:
            indexed = session.scalar(select(RegistryFingerprintBand.key).limit(1)) is not None
            recorded = session.scalar(select(RegistryRecord.content_id).limit(1)) is not None
        if recorded and not indexed:
            self.rebuild_index()
        _INDEX_CHECKED.add(engine)

    def by_content_id(self, content_id: int) -> RegistryMatch | None:
        with self._db.session() as session:
            row = session.get(RegistryRecord, content_id_hex(content_id))
        return None if row is None else _match(row, "watermark")

    def by_manifest_id(self, manifest_id: str) -> RegistryMatch | None:
        with self._db.session() as session:
            row = session.scalars(select(RegistryRecord).where(RegistryRecord.manifest_id == manifest_id)).first()
        return None if row is None else _match(row, "manifest")

    def manifest_store(self, manifest_id: str) -> bytes | None:
        """The signed manifest store (application/c2pa) kept for a generation, by its manifest id."""
        with self._db.session() as session:
            return session.scalar(select(RegistryRecord.manifest_store)
                                  .where(RegistryRecord.manifest_id == manifest_id))

    def by_fingerprint(self, frame_hashes: list[str]) -> RegistryMatch | None:
        """Closest record whose frames match, found through the fingerprint index (see INDEX_RADIUS) and decided by
        the second stage (`score_frames`)."""
        query, extended = parse_frames(frame_hashes)
        if query.shape[0] == 0:
            return None
        self._ensure_index()
        keys = query_keys([int(v) for v in query[:, 0]])
        with self._db.session() as session:
            # A plain DB-API cursor: the rows are only turned into arrays, and ORM rows cost ~4x as much per row.
            cursor = session.connection().connection.cursor()
            try:
                cursor.execute(f"SELECT frame_hash, content_key FROM {RegistryFingerprintBand.__tablename__} "
                               f"WHERE key IN ({','.join(str(int(k)) for k in keys)})")
                rows = cursor.fetchall()
            finally:
                cursor.close()
            if not rows:
                return None
            found = np.array(rows, dtype=np.int64).reshape(-1, 2)
            stored, owners = found[:, 0].view(np.uint64), found[:, 1]
            nearest = np.bitwise_count(stored[:, None] ^ query[None, :, 0]).min(axis=1)
            radius = CANDIDATE_DISTANCE if extended else match_limit(query.shape[0])
            candidates = np.unique(owners[nearest <= radius])
            if candidates.size == 0:
                return None
            ids = [content_id_hex(int(c) % _U64) for c in candidates]
            # Only the fingerprints of the candidates; the whole row of the one that matches.
            fingerprints = session.execute(select(RegistryRecord.content_id, RegistryRecord.fingerprints)
                                           .where(RegistryRecord.content_id.in_(ids))).all()
            best = _closest(query, extended, fingerprints)
            if best is None:
                return None
            content_id, result = best
            return _fingerprint_match(session.get(RegistryRecord, content_id), result, query.shape[0])

    def by_fingerprint_exhaustive(self, frame_hashes: list[str]) -> RegistryMatch | None:
        """The same decision by a linear scan over every record: the reference the index is measured against
        (tests and bench/verify); too slow for a large registry."""
        query, extended = parse_frames(frame_hashes)
        if query.shape[0] == 0:
            return None
        with self._db.session() as session:
            best = _closest(query, extended, session.execute(
                select(RegistryRecord.content_id, RegistryRecord.fingerprints)).yield_per(1000))
            if best is None:
                return None
            content_id, result = best
            return _fingerprint_match(session.get(RegistryRecord, content_id), result, query.shape[0])


def _closest(query: np.ndarray, extended: bool, records: Iterable[tuple[str, list]]) -> tuple[str, FrameScore] | None:
    """Of (content id, fingerprints) pairs, the accepted one with the lowest score (pHash distance for pHash-only
    comparisons), or None."""
    best: tuple[tuple, FrameScore, str] | None = None
    for content_id, fingerprints in records:
        stored, stored_extended = parse_frames(fingerprints or [])
        result = score_frames(query, extended, stored, stored_extended)
        if result is None or not result.accepted(query.shape[0]):
            continue
        rank = (result.score if result.score is not None else result.distance / 64, result.distance, content_id)
        if best is None or rank < best[0]:
            best = (rank, result, content_id)
    return None if best is None else (best[2], best[1])


def _fingerprint_match(row: RegistryRecord, result: FrameScore, query_frames: int) -> RegistryMatch:
    return _match(row, "fingerprint", distance=result.distance,
                  score=None if result.score is None else round(result.score, 4),
                  score_limit=None if result.score is None else score_limit(query_frames))


def _match(row: RegistryRecord, method: str, distance: int | None = None, score: float | None = None,
           score_limit: float | None = None) -> RegistryMatch:
    created = ""
    if row.created_at is not None:  # SQLite returns naive datetimes; they are stored in UTC
        created = row.created_at.replace(tzinfo=timezone.utc).isoformat().replace("+00:00", "Z")
    return RegistryMatch(content_id=row.content_id, video_id=row.video_id, model=row.model,
                         created_at=created, method=method, manifest_id=row.manifest_id, distance=distance,
                         score=score, score_limit=score_limit)

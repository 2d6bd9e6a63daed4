"""The provenance registry: what this gateway generated, found again by content id or perceptual fingerprint."""

from __future__ import annotations

import hashlib
import weakref
from dataclasses import dataclass
from datetime import timezone
from typing import Iterable, Sequence

import numpy as np
from sqlalchemy import delete, insert, select

from classifiers.works import FINGERPRINT_ALG, clip_distance, fingerprint_frames

from .db import Database, RegistryFingerprintBand, RegistryRecord

# A clip matches a record when its frames are this close (median differing pHash bits): keeps crops,
# rejects strangers (unrelated clips differ in ~34 of 64 bits).
MATCH_MAX_DISTANCE = 12
# One or two frames (an image, a frame grab) carry far less evidence: at a million records (8 million stored frame
# hashes) a 12-bit limit attributed 599 of 1,000 unrelated images by chance (bench/verify). Within 6 bits the chance
# for a random 64-bit hash is ~3e-5 per image at that size.
FEW_FRAMES = 2
FEW_FRAMES_MAX_DISTANCE = 6


def match_limit(query_frames: int) -> int:
    """The largest accepted median distance for a query of this many frames."""
    return FEW_FRAMES_MAX_DISTANCE if query_frames <= FEW_FRAMES else MATCH_MAX_DISTANCE

# The fingerprint index (multi-index hashing). Each stored 64-bit frame hash is filed under BANDS keys, one per
# 16-bit band (`band_keys`). A lookup reads, for every query frame, its BANDS exact keys — by pigeonhole that finds
# every stored frame within EXACT_RADIUS bits of it — and for DEEP_FRAMES query frames spread through the clip also
# the 16 values one bit away in each band (`probe_keys`), which finds every stored frame within INDEX_RADIUS bits of
# those. A one-frame query (an image) is probed 1 bit deep in every band: every stored frame within IMAGE_RADIUS,
# more than the 6 bits an image may differ by (FEW_FRAMES_MAX_DISTANCE).
# (1-bit probes on all 8 frames would read ~66,000 index rows at a million records, over the latency budget.)
# A clip is a candidate when some fetched stored frame is within MATCH_MAX_DISTANCE of some query frame (necessary
# for a match: the median over query frames is at least their minimum); candidates are then decided by
# `clip_distance`, exactly as the exhaustive scan decides. What the index can miss: a matching clip none of whose
# stored frames is within EXACT_RADIUS of a query frame or within INDEX_RADIUS of a deep-probed one. On the watermark
# bench's clips and attacks the closest pair is within a few bits; bench/verify measures the recall against the scan.
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
        value = parse_hash(text)
        if value is None:
            continue
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
    distance: int | None = None

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
        """Closest record whose frames match, found through the fingerprint index (see INDEX_RADIUS)."""
        query = [v for v in (parse_hash(h) for h in frame_hashes) if v is not None]
        if not query:
            return None
        self._ensure_index()
        keys = query_keys(query)
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
            queries = np.array(query, dtype=np.uint64)
            nearest = np.bitwise_count(stored[:, None] ^ queries[None, :]).min(axis=1)
            limit = match_limit(len(query))
            candidates = np.unique(owners[nearest <= limit])
            if candidates.size == 0:
                return None
            ids = [content_id_hex(int(c) % _U64) for c in candidates]
            records = session.scalars(select(RegistryRecord).where(RegistryRecord.content_id.in_(ids))).all()
        # Most candidates are chance near-collisions of one frame; the same median distance in numpy drops them
        # before `clip_distance` decides the rest (for 64-bit hashes both count the same differing bits).
        return _closest(frame_hashes, [r for r in records if _median_distance(query, r.fingerprints) <= limit])

    def by_fingerprint_exhaustive(self, frame_hashes: list[str]) -> RegistryMatch | None:
        """The same answer by a linear scan over every record: the reference the index is measured against
        (tests and bench/verify); too slow for a large registry."""
        with self._db.session() as session:
            return _closest(frame_hashes, session.scalars(select(RegistryRecord)))


def _median_distance(query: Sequence[int], stored: Sequence[str]) -> int:
    """`clip_distance` in numpy, for 64-bit pHashes (0 when some hash is not one: clip_distance then decides)."""
    values = [v for v in (parse_hash(h) for h in stored or []) if v is not None]
    if len(values) != len(stored or []):
        return 0
    if not values:
        return MATCH_MAX_DISTANCE + 1
    distances = np.bitwise_count(np.array(query, dtype=np.uint64)[:, None] ^ np.array(values, dtype=np.uint64)[None, :])
    return int(np.median(distances.min(axis=1)))


def _closest(frame_hashes: list[str], records: Iterable[RegistryRecord]) -> RegistryMatch | None:
    best: tuple[int, RegistryRecord] | None = None
    for row in records:
        distance = clip_distance(frame_hashes, row.fingerprints)
        if distance is not None and (best is None or distance < best[0]):
            best = (distance, row)
    if best is None or best[0] > match_limit(len(frame_hashes)):
        return None
    return _match(best[1], "fingerprint", distance=best[0])


def _match(row: RegistryRecord, method: str, distance: int | None = None) -> RegistryMatch:
    created = ""
    if row.created_at is not None:  # SQLite returns naive datetimes; they are stored in UTC
        created = row.created_at.replace(tzinfo=timezone.utc).isoformat().replace("+00:00", "Z")
    return RegistryMatch(content_id=row.content_id, video_id=row.video_id, model=row.model,
                         created_at=created, method=method, manifest_id=row.manifest_id, distance=distance)
